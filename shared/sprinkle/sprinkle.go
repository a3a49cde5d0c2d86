// Package sprinkle is chat rooms and money sprinkling (red envelopes):
// rooms with members (rooms.go), a sprinkle of an amount split into shares
// behind a 3-character token, one claim per member, the lookup for the
// sprinkler, and the scheduled reclaim of what nobody claimed.
//
// The money: creating a sprinkle moves the amount from the sprinkler's main
// account into the sprinkle's own escrow account, split into one pocket per
// share (a ledger escrow: the money has left the sprinkler, as a red
// envelope's has; each pocket is paid out once). A claim pays one pocket to
// the claimer's main account; the reclaim pays the unpaid pockets back. Each
// is ONE transaction, and no two claims touch a common item.
//
//	item             PK                  SK              notes
//	sprinkle         SPRINKLE#<sid>      META            roomId, token, sprinkler, amount, shares (list),
//	                                                     createdAt, closesAtMs, reclaimed; due (DUE#sprinkle#nn)
//	                                                     until reclaimed
//	claim            SPRINKLE#<sid>      CLAIM#<uid>     userId, share, amount, at: dedupe (attribute_not_exists)
//	                                                     and the lookup's claim list (one Query)
//	tickets          SPRINKLE#<sid>      TICKETS         issued (the counter), tickets (a map: user id -> ticket),
//	                                                     closesAtMs, shareCount: small, so a write costs ~1 WCU
//	token            ROOM#<rid>          TOKEN#<token>   sprinkleId and the sprinkle's facts; ttl = end of the
//	                                                     7-day lookup window, after which the token may be reused
//	escrow, pockets  (ledger)            sys_escrow_<sid>, one pocket per share
//
// A claim is: reads of the token, the tickets, the caller's claim and
// membership and the idempotency record (at once: one round trip), which
// answer every refusal (exhausted, closed, own, already claimed, not a
// member) with no write at all; then a ticket, one conditional UpdateItem of
// the tickets item (issued < count, and none for this user yet) whose number
// is the pocket to pay; then the claim's transaction (membership, the claim
// item, the pocket). A user's second request (another device, a retry)
// finds its ticket and pays the same pocket, so only one can succeed and the
// other hears "already claimed". A burst of claimers costs the tickets item
// one small write each at most: a write throttled by the partition's
// capacity is followed by a read, which answers "exhausted" once the shares
// are gone, instead of another write.
//
// Decisions:
//   - If a claim's transaction is refused after its ticket (the claimer left
//     the room in that instant), the ticket's share stays unpaid until the
//     reclaim returns it to the sprinkler; that claimer cannot claim again.
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
	"sync"
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
	tokenRetries = 4
)

// dueSprinkle spreads open sprinkles' reclaims over 16 due-index
// partitions, by a hash of the sprinkle id.
var dueSprinkle = ddb.DueKind{Name: "sprinkle", Shards: 16}

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
	Issued                                             int64 // tickets taken (the tickets item)
}

func ticketsKey(sprinkleID string) ddb.Item { return ddb.Key(pkSprinkle+sprinkleID, "TICKETS") }

// ticketOf reads the tickets item: how many are issued, and the user's.
func ticketOf(item ddb.Item, userID string) (issued, mine int64) {
	d := ddb.Decode(item)
	issued = d.N("issued")
	if m, ok := item["tickets"].(*types.AttributeValueMemberM); ok {
		if n, ok := m.Value[userID].(*types.AttributeValueMemberN); ok {
			mine, _ = strconv.ParseInt(n.Value, 10, 64)
		}
	}
	return issued, mine
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
	}, sp.Shares)
	collision := func(ddb.Item) error { return fmt.Errorf("sprinkle: id collision for %s", sp.ID) }
	meta := sprinkleKey(sp.ID)
	facts(meta, sp)
	meta["shareCount"] = ddb.N(int64(len(sp.Shares)))
	meta["split"] = ddb.S(sp.Split)
	dueSprinkle.Set(meta, sp.ClosesAt, sp.ID)
	tx.Put(meta, ledger.Cond{Expr: "attribute_not_exists(PK)"}, collision)

	tickets := ticketsKey(sp.ID)
	tickets["issued"] = ddb.N(0)
	tickets["tickets"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
	tickets["shareCount"] = ddb.N(int64(len(sp.Shares)))
	tickets["closesAtMs"] = ddb.Millis(sp.ClosesAt)
	tx.Put(tickets, ledger.Cond{Expr: "attribute_not_exists(PK)"}, collision)

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
	return tokenItem(item, roomID, token, d.Clock.Now())
}

func tokenItem(item ddb.Item, roomID, token string, now time.Time) (sprinkle, error) {
	if item == nil || ddb.Decode(item).N(ddb.AttrTTL) <= now.Unix() {
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

// Claim is POST /rooms/{id}/sprinkles/{token}/claims: the caller receives
// one unclaimed share into their main account (see the package doc).
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
		key, err := httpapi.IdempotencyKey(r)
		if err != nil {
			return nil, err
		}
		// One round trip: the token, the tickets, the caller's claim and
		// membership, and whether this key already has its answer.
		var token0, tickets, member, claimed ddb.Item
		var errs [5]error
		var wg sync.WaitGroup
		read := func(i int, key ddb.Item, into *ddb.Item) {
			defer wg.Done()
			*into, errs[i] = d.Table.Get(ctx, key)
		}
		wg.Add(2)
		go read(0, tokenKey(rid, token), &token0)
		go func() { defer wg.Done(); errs[1] = d.Ledger.Answered(ctx, key) }()
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			return nil, errors.Join(errs[0], errs[1])
		}
		now := d.Clock.Now().UTC()
		sp, err := tokenItem(token0, rid, token, now)
		if err != nil {
			return nil, err
		}
		wg.Add(3)
		go read(2, ticketsKey(sp.ID), &tickets)
		go read(3, memberKey(rid, r.Caller), &member)
		go read(4, claimKey(sp.ID, r.Caller), &claimed)
		wg.Wait()
		if err := errors.Join(errs[2:]...); err != nil {
			return nil, err
		}
		issued, ticket := ticketOf(tickets, r.Caller)
		sp.Issued = issued
		switch {
		case member == nil:
			return nil, ErrNotAMember.With("you are not a member of room %s", rid)
		case claimed != nil:
			return nil, ErrAlreadyClaimed.With("you already claimed a share of sprinkle %s", token)
		}
		if ticket == 0 {
			if err := sp.refusal(r.Caller, now); err != nil {
				return nil, err
			}
			if ticket, err = takeTicket(ctx, d, sp, r.Caller, now); err != nil {
				return nil, err
			}
		}
		name, err := users.CallerName(ctx, d, r)
		if err != nil {
			return nil, err
		}
		share := int(ticket - 1)
		mid := ledger.NewMovementID(now)
		tx := &ledger.Tx{}
		claimTx(tx, sp, r.Caller, name, share, mid, now)
		return &httpapi.Movement{Tx: tx, Status: http.StatusCreated,
			Body: ClaimResponse{SprinkleID: sp.ID, RoomID: rid, Token: token, Amount: sp.Shares[share],
				ToAccount: ledger.MainAccountID(r.Caller), MovementID: mid, ClaimedAt: now},
			Retry: func(_ context.Context, err error) (*httpapi.Movement, error) {
				var taken *ledger.PocketTakenError
				if errors.As(err, &taken) { // the reclaim returned it: the window closed
					return nil, ErrWindowClosed.With("sprinkle %s closed at %s", token, sp.ClosesAt.Format(time.RFC3339))
				}
				return nil, nil
			}}, nil
	}))
}

// refusal is what the token item's facts alone refuse at now: the
// sprinkler's own claim, a closed window, no share left.
func (sp sprinkle) refusal(caller string, now time.Time) error {
	switch {
	case sp.Sprinkler == caller:
		return ErrOwnSprinkle.With("sprinkle %s is yours; the other members claim it", sp.Token)
	case !now.Before(sp.ClosesAt):
		return ErrWindowClosed.With("sprinkle %s closed at %s", sp.Token, sp.ClosesAt.Format(time.RFC3339))
	case sp.Issued >= int64(len(sp.Shares)):
		return ErrExhausted.With("all %d shares of sprinkle %s are taken", len(sp.Shares), sp.Token)
	}
	return nil
}

// ticketAttempts bounds the ticket writes of one claim.
const ticketAttempts = 6

// takeTicket is one conditional write of the tickets item: issued + 1 while
// issued < count, the window is open and the user has none; the new issued
// is the user's ticket. A user who has one (another device's request got
// there first) keeps it. A write the partition throttles is followed by a
// read: once the shares are gone the read answers, with no more writes. The
// SDK does not retry this write itself, so those reads happen.
func takeTicket(ctx context.Context, d httpapi.Deps, sp sprinkle, userID string, now time.Time) (int64, error) {
	exhausted := ErrExhausted.With("all %d shares of sprinkle %s are taken", len(sp.Shares), sp.Token)
	for attempt := 1; ; attempt++ {
		out, err := d.Table.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(d.Table.Name),
			Key:                      ticketsKey(sp.ID),
			UpdateExpression:         aws.String("SET issued = issued + :one, tickets.#u = issued + :one"),
			ConditionExpression:      aws.String("attribute_exists(PK) AND issued < shareCount AND closesAtMs > :now AND attribute_not_exists(tickets.#u)"),
			ExpressionAttributeNames: map[string]string{"#u": userID},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": ddb.N(1), ":now": ddb.Millis(now),
			},
			ReturnValues:                        types.ReturnValueUpdatedNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
		var failed *types.ConditionalCheckFailedException
		var throttled *types.ThrottlingException
		var exceeded *types.ProvisionedThroughputExceededException
		var conflict *types.TransactionConflictException
		busy := errors.As(err, &throttled) || errors.As(err, &exceeded) || errors.As(err, &conflict)
		switch {
		case err == nil:
			return ddb.Decode(out.Attributes).MustN("issued"), nil
		case errors.As(err, &failed):
			if len(failed.Item) == 0 {
				return 0, ErrSprinkleNotFound.With("room %s has no sprinkle %s", sp.RoomID, sp.Token)
			}
			issued, mine := ticketOf(failed.Item, userID)
			switch {
			case mine > 0:
				return mine, nil
			case issued >= int64(len(sp.Shares)):
				return 0, exhausted
			}
			return 0, ErrWindowClosed.With("sprinkle %s closed at %s", sp.Token, sp.ClosesAt.Format(time.RFC3339))
		case busy && attempt < ticketAttempts:
			if err := sleepJitter(ctx, attempt); err != nil {
				return 0, err
			}
			item, err := d.Table.Get(ctx, ticketsKey(sp.ID))
			if err != nil {
				return 0, err
			}
			issued, mine := ticketOf(item, userID)
			switch {
			case mine > 0:
				return mine, nil
			case issued >= int64(len(sp.Shares)):
				return 0, exhausted
			}
		case busy:
			return 0, ledger.Busy()
		default:
			return 0, fmt.Errorf("sprinkle: ticket: %w", err)
		}
	}
}

func sleepJitter(ctx context.Context, attempt int) error {
	d := time.Duration(1+rand.Int64N(int64(20*time.Millisecond)<<attempt)) + 10*time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func claimKey(sprinkleID, userID string) ddb.Item {
	return ddb.Key(pkSprinkle+sprinkleID, skClaimPfx+userID)
}

// claimTx adds the claim: membership (ConditionCheck), the claim dedupe
// item (attribute_not_exists), and the payout of the ticket's pocket from
// the escrow to the claimer's main account (the pocket's own item, two
// postings, two entries).
func claimTx(tx *ledger.Tx, sp sprinkle, claimer, name string, share int, mid string, at time.Time) {
	amount := sp.Shares[share]
	requireMember(tx, sp.RoomID, claimer)
	claim := claimKey(sp.ID, claimer)
	claim["userId"] = ddb.S(claimer)
	claim["share"] = ddb.N(int64(share))
	claim["amount"] = ddb.N(amount)
	claim["at"] = ddb.Time(at)
	claim["movementId"] = ddb.S(mid)
	tx.Put(claim, ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(ddb.Item) error {
		return ErrAlreadyClaimed.With("you already claimed a share of sprinkle %s", sp.Token)
	})
	tx.PayPockets(escrowID(sp.ID), map[int]int64{share: amount}, ledger.Movement{
		ID: mid, Type: TypeSprinkleClaim, At: at, FromKind: ledger.KindEscrow, FromLabel: "sprinkle " + sp.Token,
		To: ledger.MainAccount(claimer), ToKind: ledger.KindMain, ToLabel: name,
		Originator: sp.SprinklerName, Memo: "sprinkle " + sp.Token + " in room " + sp.RoomID,
	})
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
		run, err := d.Table.ForEachDue(ctx, ddb.DueWork{Kinds: dueSprinkle.Kinds(), Until: now, Budget: ReclaimBudget, Fetch: true}, func(ctx context.Context, item ddb.Item) error {
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

// reclaim returns a closed sprinkle's unpaid pockets to the sprinkler (in
// chunks: a transaction holds at most ledger.MaxItems items), then marks the
// sprinkle reclaimed, notifies the sprinkler and takes it out of the due
// index. Each pocket is paid once, so a claim that lands while the reclaim
// runs either gets its pocket or fails on it: read again.
func reclaim(ctx context.Context, d httpapi.Deps, sp sprinkle, now time.Time) (int64, bool, error) {
	const chunk = ledger.MaxItems - 10
	var returned int64
	for attempt := 0; attempt < 5; attempt++ {
		paid, err := d.Ledger.PaidPockets(ctx, escrowID(sp.ID))
		if err != nil {
			return returned, false, fmt.Errorf("reclaim %s: %w", sp.ID, err)
		}
		unpaid := map[int]int64{}
		for i, amount := range sp.Shares {
			if _, ok := paid[i]; !ok {
				unpaid[i] = amount
			}
		}
		var batch map[int]int64
		var remainder int64
		if len(unpaid) > chunk {
			batch = map[int]int64{}
			for i, a := range unpaid {
				if len(batch) < chunk {
					batch[i] = a
				}
			}
		} else {
			batch = unpaid
		}
		for _, a := range batch {
			remainder += a
		}
		last := len(batch) == len(unpaid)
		tx := &ledger.Tx{}
		if last {
			tx.Update(sprinkleKey(sp.ID), "SET reclaimed = :r, reclaimedAt = :at REMOVE #b, #d", ledger.Cond{
				Expr:   "attribute_exists(PK) AND attribute_not_exists(reclaimed) AND closesAtMs <= :now",
				Names:  map[string]string{"#b": ddb.AttrDuePK, "#d": ddb.AttrDueSK},
				Values: ddb.Item{":r": ddb.N(returned + remainder), ":at": ddb.Time(now), ":now": ddb.Millis(now)},
			}, func(old ddb.Item) error {
				if len(old) == 0 || ddb.Decode(old).Has("reclaimed") {
					return errAlreadyReclaimed
				}
				return fmt.Errorf("sprinkle %s is not closed yet", sp.ID)
			})
		}
		if remainder > 0 {
			tx.PayPockets(escrowID(sp.ID), batch, ledger.Movement{
				ID: ledger.NewMovementID(now), Type: TypeSprinkleReclaim, At: now, FromKind: ledger.KindEscrow, FromLabel: "sprinkle " + sp.Token,
				To: ledger.MainAccount(sp.Sprinkler), ToKind: ledger.KindMain, ToLabel: sp.Sprinkler,
				Memo: "unclaimed remainder of sprinkle " + sp.Token + " in room " + sp.RoomID,
			})
		}
		if last && returned+remainder > 0 {
			notify.Add(tx, notify.Notification{UserID: sp.Sprinkler, Type: NotifyReclaimed, At: now,
				Data: map[string]any{"amount": returned + remainder, "roomId": sp.RoomID, "token": sp.Token}})
		}
		err = d.Ledger.Commit(ctx, tx)
		var taken *ledger.PocketTakenError
		switch {
		case err == nil && last:
			return returned + remainder, true, nil
		case err == nil:
			returned += remainder
			attempt = -1 // progress: the next chunk
		case errors.Is(err, errAlreadyReclaimed):
			return returned, returned > 0, nil
		case errors.As(err, &taken):
			continue // a claim landed meanwhile: read again
		default:
			return returned, false, fmt.Errorf("reclaim %s: %w", sp.ID, err)
		}
	}
	return returned, false, fmt.Errorf("reclaim %s: its pockets kept changing", sp.ID)
}
