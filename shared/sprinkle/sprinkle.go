// Package sprinkle is chat rooms and money sprinkling (red envelopes):
// rooms with members (rooms.go), a sprinkle of an amount split into shares
// behind a 3-character token, one claim per member, the lookup for the
// sprinkler, and the scheduled reclaim of what nobody claimed.
//
// The money: creating a sprinkle moves the amount from the sprinkler's main
// account into the sprinkle's own escrow account (a ledger escrow: the
// money has left the sprinkler, as a red envelope's has, and is audited
// like a user's: never below zero); a claim moves one share from the escrow
// to the claimer's main account; the reclaim moves the remainder back. Each
// is ONE transaction.
//
//	item             PK                  SK              notes
//	sprinkle         SPRINKLE#<sid>      META            roomId, token, sprinkler, amount, shares (list),
//	                                                     createdAt, closesAtMs, claimedCount, claimedTotal, taken (NS),
//	                                                     reclaimed; due (DUE#sprinkle) until reclaimed
//	claim            SPRINKLE#<sid>      CLAIM#<uid>     userId, share, amount, at: dedupe (attribute_not_exists)
//	                                                     and the lookup's claim list (one Query)
//	token            ROOM#<rid>          TOKEN#<token>   sprinkleId and the sprinkle's immutable facts; ttl = end of
//	                                                     the 7-day lookup window, after which the token may be reused
//	escrow account   (ledger)            sys_escrow_<sid>
//
// Share assignment: the sprinkle item holds the set of taken share indexes.
// A claimer picks a random share among those not taken in its latest view
// and the transaction conditions on NOT contains(taken, :n) and
// claimedCount < count; a lost race returns the item as it was (the fresh
// taken set), so the next attempt picks among the shares still free.
//
// Decisions:
//   - Adding someone who is already a member is idempotent: 200 with
//     "added": false (a new member is 201, "added": true).
//   - split defaults to "equal"; count is 1..money.MaxShares (1,000) and
//     amount >= count; claimWindowMinutes defaults to 10, 1..1440.
//   - A short main account is refused (insufficient_funds); sprinkling does
//     not auto-charge from the bank.
//   - GET /rooms/{id} for a non-member answers 404 room_not_found, like a
//     room that does not exist.
package sprinkle

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/ddb"
	"minipay/shared/domainerr"
	"minipay/shared/httpapi"
	"minipay/shared/ledger"
	"minipay/shared/money"
	"minipay/shared/notify"
	"minipay/shared/routes"
	"minipay/shared/users"
)

// Token shape: 3 characters from an alphabet without look-alikes (no 0/O,
// 1/I/L): 31^3 = 29,791 tokens per room.
const (
	TokenAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
	TokenLen      = 3
)

// Claim window bounds, in minutes.
const (
	DefaultClaimWindowMinutes = 10
	MaxClaimWindowMinutes     = 1440
)

// Split kinds.
const (
	SplitEqual  = "equal"
	SplitRandom = "random"
)

// LookupWindow is how long the sprinkler can look a sprinkle up, and how
// long its token stays reserved in the room.
const LookupWindow = 7 * 24 * time.Hour

// Movement types, as they appear in history.
const (
	TypeSprinkle        = "sprinkle"
	TypeSprinkleClaim   = "sprinkle_claim"
	TypeSprinkleReclaim = "sprinkle_reclaim"
)

// NotifyReclaimed tells a sprinkler their unclaimed remainder came back.
const NotifyReclaimed = "sprinkle_reclaimed"

// Refusals.
var (
	ErrSprinkleNotFound = domainerr.New("sprinkle_not_found")
	ErrOwnSprinkle      = domainerr.New("own_sprinkle")
	ErrAlreadyClaimed   = domainerr.New("already_claimed")
	ErrExhausted        = domainerr.New("sprinkle_exhausted")
	ErrWindowClosed     = domainerr.New("claim_window_closed")
)

const (
	pkSprinkle   = "SPRINKLE#"
	skClaimPfx   = "CLAIM#"
	dueSprinkle  = "sprinkle"
	tokenRetries = 4
)

// claimAttempts bounds how many share choices one claim request tries.
const claimAttempts = 6

// NewToken is a crypto-random token.
func NewToken() string {
	b := make([]byte, TokenLen)
	max := big.NewInt(int64(len(TokenAlphabet)))
	for i := range b {
		v, err := crand.Int(crand.Reader, max)
		if err != nil {
			panic(err)
		}
		b[i] = TokenAlphabet[v.Int64()]
	}
	return string(b)
}

// ValidToken reports whether s has a token's shape.
func ValidToken(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !slices.Contains([]byte(TokenAlphabet), s[i]) {
			return false
		}
	}
	return true
}

// newRNG is a ChaCha8 generator seeded from the OS: share amounts and share
// picks are not predictable.
func newRNG() *rand.Rand {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic(err)
	}
	return rand.New(rand.NewChaCha8(seed))
}

func randIndex(n int) int {
	var b [8]byte
	if _, err := crand.Read(b[:]); err != nil {
		panic(err)
	}
	return int(binary.LittleEndian.Uint64(b[:]) % uint64(n))
}

func escrowID(sprinkleID string) string { return "sys_escrow_" + sprinkleID }

func sprinkleKey(id string) ddb.Item { return ddb.Key(pkSprinkle+id, skMeta) }

func tokenKey(roomID, token string) ddb.Item { return ddb.Key(pkRoom+roomID, skTokenPfx+token) }

// ---- create ----

// CreateRequest is the body of POST /rooms/{id}/sprinkles.
type CreateRequest struct {
	Amount             httpapi.AmountField `json:"amount" openapi:"required,minimum=1,maximum=1000000000000" doc:"whole won to sprinkle, at least count"`
	Count              httpapi.AmountField `json:"count" openapi:"required,minimum=1,maximum=1000" doc:"how many shares"`
	Split              string              `json:"split" openapi:"enum=equal|random,default=equal" doc:"equal shares (the remainder spread one won each), or random ones"`
	ClaimWindowMinutes httpapi.AmountField `json:"claimWindowMinutes" openapi:"minimum=1,maximum=1440,default=10" doc:"how long members may claim; then the remainder returns to me"`
}

// CreateResponse is what a created sprinkle returns (and replays).
type CreateResponse struct {
	ID                 string    `json:"id"`
	RoomID             string    `json:"roomId"`
	Token              string    `json:"token"`
	Amount             int64     `json:"amount"`
	Count              int       `json:"count"`
	Split              string    `json:"split" openapi:"enum=equal|random"`
	ClaimWindowMinutes int64     `json:"claimWindowMinutes"`
	CreatedAt          time.Time `json:"createdAt"`
	ClosesAt           time.Time `json:"closesAt"`
}

// sprinkle is a sprinkle's facts as decided at creation.
type sprinkle struct {
	ID, RoomID, Token, Sprinkler, SprinklerName, Split string
	Amount                                             int64
	Shares                                             []int64
	CreatedAt, ClosesAt                                time.Time
}

// tokenTaken is the internal signal of a token in use in the room: the
// handler draws another.
type tokenTaken struct{}

func (tokenTaken) Error() string   { return "sprinkle: token in use" }
func (tokenTaken) Transient() bool { return true }

// Create is POST /rooms/{id}/sprinkles {amount, count, split, claimWindowMinutes}.
func Create(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "create-sprinkle", httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		var in CreateRequest
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		amount, err := httpapi.Amount("amount", in.Amount)
		if err != nil {
			return nil, err
		}
		count, err := httpapi.Int("count", in.Count, 0, 1, money.MaxShares)
		if err != nil {
			return nil, err
		}
		window, err := httpapi.Int("claimWindowMinutes", in.ClaimWindowMinutes, DefaultClaimWindowMinutes, 1, MaxClaimWindowMinutes)
		if err != nil {
			return nil, err
		}
		if in.Split == "" {
			in.Split = SplitEqual
		}
		var shares []int64
		switch in.Split {
		case SplitEqual:
			shares, err = money.Equal(amount, int(count))
		case SplitRandom:
			shares, err = money.Random(amount, int(count), newRNG())
		default:
			return nil, domainerr.Field("split", "split must be %q or %q", SplitEqual, SplitRandom)
		}
		if err != nil {
			return nil, domainerr.Field("count", "%s", err.Error())
		}
		name, err := users.CallerName(ctx, d, r)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		sp := sprinkle{ID: ddb.NewID("sp_"), RoomID: rid, Sprinkler: r.Caller, SprinklerName: name, Amount: amount, Split: in.Split,
			Shares: shares, CreatedAt: now, ClosesAt: now.Add(time.Duration(window) * time.Minute).Truncate(time.Millisecond)}
		mid := ledger.NewMovementID(now)
		attempts := 0
		var build func() *httpapi.Movement
		build = func() *httpapi.Movement {
			attempts++
			sp.Token = NewToken()
			tx := &ledger.Tx{}
			createTx(tx, sp, mid)
			return &httpapi.Movement{Tx: tx, Status: http.StatusCreated,
				Body: CreateResponse{ID: sp.ID, RoomID: rid, Token: sp.Token, Amount: amount, Count: len(shares), Split: sp.Split,
					ClaimWindowMinutes: window, CreatedAt: now, ClosesAt: sp.ClosesAt},
				Retry: func(_ context.Context, err error) (*httpapi.Movement, error) {
					if errors.Is(err, tokenTaken{}) && attempts < tokenRetries {
						return build(), nil
					}
					return nil, nil
				}}
		}
		return build(), nil
	}))
}

// createTx adds the sprinkle: the sprinkler's membership, the move of the
// amount into a new escrow account (debit: available >= amount), the
// sprinkle item (due for its reclaim) and the token item (free, or its
// previous sprinkle's lookup window over).
func createTx(tx *ledger.Tx, sp sprinkle, mid string) {
	requireMember(tx, sp.RoomID, sp.Sprinkler)
	tx.CreateEscrow(escrowID(sp.ID), "sprinkle "+sp.ID, ledger.Movement{
		ID: mid, Type: TypeSprinkle, Amount: sp.Amount, At: sp.CreatedAt,
		From: ledger.MainAccount(sp.Sprinkler), FromKind: ledger.KindMain, FromLabel: sp.SprinklerName, ToLabel: "sprinkle " + sp.Token,
		Originator: sp.SprinklerName, Memo: "sprinkle " + sp.Token + " in room " + sp.RoomID,
	})
	collision := func(ddb.Item) error { return fmt.Errorf("sprinkle: id collision for %s", sp.ID) }
	meta := sprinkleKey(sp.ID)
	facts(meta, sp)
	meta["shareCount"] = ddb.N(int64(len(sp.Shares)))
	meta["split"] = ddb.S(sp.Split)
	meta["claimedCount"] = ddb.N(0)
	meta["claimedTotal"] = ddb.N(0)
	ddb.SetDue(meta, dueSprinkle, sp.ClosesAt, sp.ID)
	tx.Put(meta, ledger.Cond{Expr: "attribute_not_exists(PK)"}, collision)

	tok := tokenKey(sp.RoomID, sp.Token)
	facts(tok, sp)
	tok[ddb.AttrTTL] = ddb.Epoch(sp.CreatedAt.Add(LookupWindow))
	tx.Put(tok, ledger.Cond{Expr: "attribute_not_exists(PK) OR expiresAt < :now", Values: ddb.Item{":now": ddb.Epoch(sp.CreatedAt)}},
		func(ddb.Item) error { return tokenTaken{} })
}

// facts are the immutable facts the sprinkle and token items share.
func facts(item ddb.Item, sp sprinkle) {
	item["sprinkleId"] = ddb.S(sp.ID)
	item["roomId"] = ddb.S(sp.RoomID)
	item["token"] = ddb.S(sp.Token)
	item["sprinkler"] = ddb.S(sp.Sprinkler)
	item["sprinklerName"] = ddb.S(sp.SprinklerName)
	item["amount"] = ddb.N(sp.Amount)
	item["shares"] = ddb.Ints(sp.Shares)
	item["createdAt"] = ddb.Time(sp.CreatedAt)
	item["closesAtMs"] = ddb.Millis(sp.ClosesAt)
}

func sprinkleFromItem(item ddb.Item) (sprinkle, error) {
	d := ddb.Decode(item)
	sp := sprinkle{ID: d.MustS("sprinkleId"), RoomID: d.MustS("roomId"), Token: d.MustS("token"), Sprinkler: d.MustS("sprinkler"),
		SprinklerName: d.S("sprinklerName"), Amount: d.MustN("amount"), Shares: d.Ints("shares"),
		CreatedAt: d.MustTime("createdAt"), ClosesAt: d.Millis("closesAtMs")}
	return sp, d.Err()
}

// byToken reads the token item (one strongly consistent GetItem). A token
// whose lookup window is over names nothing, whether or not TTL has deleted
// it yet.
func byToken(ctx context.Context, d httpapi.Deps, roomID, token string) (sprinkle, error) {
	item, err := d.Table.Get(ctx, tokenKey(roomID, token))
	if err != nil {
		return sprinkle{}, err
	}
	if item == nil || ddb.Decode(item).N(ddb.AttrTTL) <= d.Clock.Now().Unix() {
		return sprinkle{}, ErrSprinkleNotFound.With("room %s has no sprinkle %s", roomID, token)
	}
	return sprinkleFromItem(item)
}

// ---- claim ----

// ClaimResponse is what a claim returns (and replays).
type ClaimResponse struct {
	SprinkleID string    `json:"sprinkleId"`
	RoomID     string    `json:"roomId"`
	Token      string    `json:"token"`
	Amount     int64     `json:"amount"`
	ToAccount  string    `json:"toAccount"`
	MovementID string    `json:"movementId"`
	ClaimedAt  time.Time `json:"claimedAt"`
}

// shareTaken is the internal signal of a share another claimer took first;
// taken is the set as the transaction saw it.
type shareTaken struct{ taken []int64 }

func (*shareTaken) Error() string   { return "sprinkle: share taken" }
func (*shareTaken) Transient() bool { return true }

// Claim is POST /rooms/{id}/sprinkles/{token}/claims: the caller receives
// one unclaimed share into their main account.
//
// One GetItem (the token item: sprinkle id and share amounts), then one
// transaction per share choice. The first choice is a random share; when
// it was taken meanwhile, the refusal carries the taken set and the next
// choice is a random free share (bounded; then 503 without spending the
// Idempotency-Key).
func Claim(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "claim-sprinkle", httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		token := r.PathParam("token")
		if !ValidToken(token) {
			return nil, ErrSprinkleNotFound.With("room %s has no sprinkle %q", rid, token)
		}
		var in struct{}
		if err := r.DecodeOptional(&in); err != nil {
			return nil, err
		}
		sp, err := byToken(ctx, d, rid, token)
		if err != nil {
			return nil, err
		}
		name, err := users.CallerName(ctx, d, r)
		if err != nil {
			return nil, err
		}
		attempts := 0
		var build func(share int) *httpapi.Movement
		build = func(share int) *httpapi.Movement {
			attempts++
			now := d.Clock.Now().UTC()
			mid := ledger.NewMovementID(now)
			tx := &ledger.Tx{}
			claimTx(tx, sp, r.Caller, name, share, mid, now)
			return &httpapi.Movement{Tx: tx, Status: http.StatusCreated,
				Body: ClaimResponse{SprinkleID: sp.ID, RoomID: rid, Token: token, Amount: sp.Shares[share],
					ToAccount: ledger.MainAccountID(r.Caller), MovementID: mid, ClaimedAt: now},
				Retry: func(_ context.Context, err error) (*httpapi.Movement, error) {
					var taken *shareTaken
					if !errors.As(err, &taken) {
						return nil, nil
					}
					free := freeShares(len(sp.Shares), taken.taken)
					if len(free) == 0 {
						return nil, ErrExhausted.With("all %d shares of sprinkle %s are taken", len(sp.Shares), token)
					}
					if attempts >= claimAttempts {
						return nil, err // still racing: 503, retry
					}
					return build(free[randIndex(len(free))]), nil
				}}
		}
		return build(randIndex(len(sp.Shares))), nil
	}))
}

// claimTx adds the claim: membership (ConditionCheck), the claim dedupe
// item (attribute_not_exists), the sprinkle item (not the sprinkler, window
// open, not reclaimed, claimedCount < count, share not taken), the move of
// the share from the escrow to the claimer's main account and two entries.
// Item order sets which refusal wins when several hold: not a member,
// already claimed, then the sprinkle's own.
func claimTx(tx *ledger.Tx, sp sprinkle, claimer, name string, share int, mid string, at time.Time) {
	amount := sp.Shares[share]
	requireMember(tx, sp.RoomID, claimer)
	claim := ddb.Key(pkSprinkle+sp.ID, skClaimPfx+claimer)
	claim["userId"] = ddb.S(claimer)
	claim["share"] = ddb.N(int64(share))
	claim["amount"] = ddb.N(amount)
	claim["at"] = ddb.Time(at)
	claim["movementId"] = ddb.S(mid)
	tx.Put(claim, ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(ddb.Item) error {
		return ErrAlreadyClaimed.With("you already claimed a share of sprinkle %s", sp.Token)
	})
	tx.Update(sprinkleKey(sp.ID), "ADD claimedCount :one, claimedTotal :amount, taken :share", ledger.Cond{
		Expr: "attribute_exists(PK) AND sprinkler <> :caller AND closesAtMs > :now" +
			" AND attribute_not_exists(reclaimed) AND claimedCount < shareCount AND NOT contains(taken, :n)",
		Values: ddb.Item{":one": ddb.N(1), ":amount": ddb.N(amount), ":share": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(share)}},
			":n": ddb.N(int64(share)), ":caller": ddb.S(claimer), ":now": ddb.Millis(at)},
	}, func(old ddb.Item) error {
		o := ddb.Decode(old)
		switch {
		case len(old) == 0:
			return ErrSprinkleNotFound.With("room %s has no sprinkle %s", sp.RoomID, sp.Token)
		case o.S("sprinkler") == claimer:
			return ErrOwnSprinkle.With("sprinkle %s is yours; the other members claim it", sp.Token)
		case !o.Millis("closesAtMs").After(at) || o.Has("reclaimed"):
			return ErrWindowClosed.With("sprinkle %s closed at %s", sp.Token, sp.ClosesAt.Format(time.RFC3339))
		case o.N("claimedCount") >= o.N("shareCount"):
			return ErrExhausted.With("all %d shares of sprinkle %s are taken", o.N("shareCount"), sp.Token)
		}
		return &shareTaken{taken: numSet(old, "taken")}
	})
	tx.Move(ledger.Movement{
		ID: mid, Type: TypeSprinkleClaim, Amount: amount, At: at,
		From: ledger.SystemAccount(escrowID(sp.ID)), FromKind: ledger.KindEscrow, FromLabel: "sprinkle " + sp.Token,
		To: ledger.MainAccount(claimer), ToKind: ledger.KindMain, ToLabel: name,
		Originator: sp.SprinklerName, Memo: "sprinkle " + sp.Token + " in room " + sp.RoomID,
	})
}

func numSet(item ddb.Item, name string) []int64 {
	ns, _ := item[name].(*types.AttributeValueMemberNS)
	if ns == nil {
		return nil
	}
	out := make([]int64, 0, len(ns.Value))
	for _, v := range ns.Value {
		if x, err := strconv.ParseInt(v, 10, 64); err == nil {
			out = append(out, x)
		}
	}
	return out
}

func freeShares(count int, taken []int64) []int {
	isTaken := make([]bool, count)
	for _, t := range taken {
		if t >= 0 && int(t) < count {
			isTaken[t] = true
		}
	}
	free := make([]int, 0, count)
	for i, t := range isTaken {
		if !t {
			free = append(free, i)
		}
	}
	return free
}

// ---- lookup ----

// ClaimView is one claim as the lookup shows it.
type ClaimView struct {
	UserID string    `json:"userId"`
	Amount int64     `json:"amount"`
	At     time.Time `json:"at"`
}

// LookupResponse is the sprinkler's view of a sprinkle.
type LookupResponse struct {
	ID           string      `json:"id"`
	RoomID       string      `json:"roomId"`
	Token        string      `json:"token"`
	CreatedAt    time.Time   `json:"createdAt"`
	ClosesAt     time.Time   `json:"closesAt"`
	Amount       int64       `json:"amount"`
	Count        int         `json:"count"`
	ClaimedTotal int64       `json:"claimedTotal"`
	Claims       []ClaimView `json:"claims"`
}

// Get is GET /rooms/{id}/sprinkles/{token}: only the sprinkler, only within
// LookupWindow (7 days) of creation; everyone else, and everyone
// afterwards, gets 404.
func Get(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "get-sprinkle", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		token := r.PathParam("token")
		notFound := ErrSprinkleNotFound.With("you have no sprinkle %q in room %s", token, rid)
		if !ValidToken(token) {
			return nil, notFound
		}
		sp, err := byToken(ctx, d, rid, token)
		if err != nil {
			return nil, err
		}
		if sp.Sprinkler != r.Caller || !d.Clock.Now().Before(sp.CreatedAt.Add(LookupWindow)) {
			return nil, notFound
		}
		claims := []ClaimView{}
		var derr error
		err = d.Table.QueryAll(ctx, &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pkSprinkle + sp.ID), ":sk": ddb.S(skClaimPfx)},
			ConsistentRead:            aws.Bool(true),
		}, func(item ddb.Item) bool {
			c := ddb.Decode(item)
			claims = append(claims, ClaimView{UserID: c.MustS("userId"), Amount: c.MustN("amount"), At: c.MustTime("at")})
			derr = c.Err()
			return derr == nil
		})
		if err == nil {
			err = derr
		}
		if err != nil {
			return nil, err
		}
		slices.SortFunc(claims, func(a, b ClaimView) int { return a.At.Compare(b.At) })
		var total int64
		for _, c := range claims {
			total += c.Amount
		}
		return httpapi.JSON(http.StatusOK, LookupResponse{ID: sp.ID, RoomID: rid, Token: token, CreatedAt: sp.CreatedAt, ClosesAt: sp.ClosesAt,
			Amount: sp.Amount, Count: len(sp.Shares), ClaimedTotal: total, Claims: claims})
	})
}

// ---- reclaim ----

// ReclaimSummary is what one reclaim run did.
type ReclaimSummary struct {
	Due       int   `json:"due"`
	Reclaimed int   `json:"reclaimed"` // sprinkles marked reclaimed by this run
	Returned  int64 `json:"returned"`  // won returned to sprinklers
	Done      bool  `json:"done"`      // false: the time budget ended the run; the next resumes
}

// ReclaimBudget bounds one run (the function's timeout is 10 s).
const ReclaimBudget = 7 * time.Second

var errAlreadyReclaimed = errors.New("sprinkle: already reclaimed")

// Reclaim is the sprinkle-reclaim scheduled job: every sprinkle whose window
// closed at or before now (everything due, so missed runs catch up) gets its
// unclaimed remainder back to the sprinkler's main account. Idempotent: a
// reclaimed sprinkle leaves the due index, and the reclaim transaction
// re-checks it was not reclaimed.
func Reclaim(d httpapi.Deps) func(context.Context, routes.ScheduledEvent) (ReclaimSummary, error) {
	return func(ctx context.Context, ev routes.ScheduledEvent) (ReclaimSummary, error) {
		now := d.Clock.Now()
		var sum ReclaimSummary
		run, err := d.Table.ForEachDue(ctx, ddb.DueWork{Kind: dueSprinkle, Until: now, Budget: ReclaimBudget}, func(ctx context.Context, item ddb.Item) error {
			sp, err := sprinkleFromItem(item)
			if err != nil {
				return err
			}
			returned, reclaimed, err := reclaim(ctx, d, sp, now)
			if reclaimed {
				sum.Reclaimed++
				sum.Returned += returned
			}
			return err
		})
		sum.Due, sum.Done = run.Seen, run.Done
		d.Log.InfoContext(ctx, "sprinkle reclaim", "job", ev.Job, "scheduledTime", ev.ScheduledTime,
			"due", sum.Due, "reclaimed", sum.Reclaimed, "returned", sum.Returned, "done", sum.Done, "errors", run.Failed)
		if err != nil {
			return sum, err
		}
		if err := run.Err(); err != nil {
			return sum, fmt.Errorf("sprinkle reclaim: %w", err)
		}
		return sum, nil
	}
}

// reclaim returns a closed sprinkle's unclaimed remainder (the escrow's
// balance) to the sprinkler, marks the sprinkle reclaimed and takes it out
// of the due index, in one transaction: the sprinkle is closed and not yet
// reclaimed (so no claim can land after it), and the escrow's debit
// re-checks the balance read. A claim that committed between the read and
// the transaction fails the debit: read again.
func reclaim(ctx context.Context, d httpapi.Deps, sp sprinkle, now time.Time) (int64, bool, error) {
	for attempt := 0; attempt < 3; attempt++ {
		escrow, err := d.Ledger.GetSystemAccount(ctx, escrowID(sp.ID))
		if err != nil {
			return 0, false, fmt.Errorf("reclaim %s: %w", sp.ID, err)
		}
		remainder := escrow.Available
		tx := &ledger.Tx{}
		tx.Update(sprinkleKey(sp.ID), "SET reclaimed = :r, reclaimedAt = :at REMOVE #b, #d", ledger.Cond{
			Expr:   "attribute_exists(PK) AND attribute_not_exists(reclaimed) AND closesAtMs <= :now AND claimedTotal = :claimed",
			Names:  map[string]string{"#b": ddb.AttrDuePK, "#d": ddb.AttrDueSK},
			Values: ddb.Item{":r": ddb.N(remainder), ":at": ddb.Time(now), ":now": ddb.Millis(now), ":claimed": ddb.N(sp.Amount - remainder)},
		}, func(old ddb.Item) error {
			o := ddb.Decode(old)
			switch {
			case len(old) == 0 || o.Has("reclaimed"):
				return errAlreadyReclaimed
			case o.Millis("closesAtMs").After(now):
				return fmt.Errorf("sprinkle %s is not closed yet", sp.ID)
			}
			return errRace
		})
		if remainder > 0 {
			tx.Move(ledger.Movement{
				ID: ledger.NewMovementID(now), Type: TypeSprinkleReclaim, Amount: remainder, At: now,
				From: ledger.SystemAccount(escrowID(sp.ID)), FromKind: ledger.KindEscrow, FromLabel: "sprinkle " + sp.Token,
				To: ledger.MainAccount(sp.Sprinkler), ToKind: ledger.KindMain, ToLabel: sp.Sprinkler,
				Memo: "unclaimed remainder of sprinkle " + sp.Token + " in room " + sp.RoomID,
			})
			notify.Add(tx, notify.Notification{UserID: sp.Sprinkler, Type: NotifyReclaimed, At: now,
				Data: map[string]any{"amount": remainder, "roomId": sp.RoomID, "token": sp.Token}})
		}
		err = d.Ledger.Commit(ctx, tx)
		switch {
		case err == nil:
			return remainder, true, nil
		case errors.Is(err, errAlreadyReclaimed):
			return 0, false, nil
		case errors.Is(err, errRace), errors.Is(err, ledger.ErrInsufficientFunds):
			continue
		default:
			return 0, false, fmt.Errorf("reclaim %s: %w", sp.ID, err)
		}
	}
	return 0, false, fmt.Errorf("reclaim %s: the escrow balance kept changing", sp.ID)
}

var errRace = errors.New("sprinkle: a claim landed meanwhile")
