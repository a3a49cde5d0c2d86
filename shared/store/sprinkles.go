package store

// Sprinkles (issue 5): money scattered into a chat room as a fixed number of
// shares, claimed once per member, the rest reclaimed by a scheduled sweep.
//
//	item             PK                  SK              notes
//	sprinkle         SPRINKLE#<sid>      META            roomId, token, sprinkler, amount, count, shares (list),
//	                                                     createdAt, closesAtMs, claimedCount, claimedTotal, taken (NS),
//	                                                     reclaimed; dueBucket/dueAt while a reclaim is pending
//	claim            SPRINKLE#<sid>      CLAIM#<uid>     userId, share, amount, at: dedupe (attribute_not_exists)
//	                                                     and the lookup's claim list (one Query)
//	token            ROOM#<rid>          TOKEN#<token>   sprinkleId and the sprinkle's immutable facts (sprinkler,
//	                                                     shares, closesAtMs, createdAt); expiresAt = end of the
//	                                                     7-day lookup window, after which the token may be reused
//	escrow account   SYSTEM#<aid>        ACCOUNT#<aid>   aid = sys_escrow_<sid>, kind escrow, never below zero
//
// Access patterns: a claim reads the token item (one GetItem: the share
// amounts and the sprinkle id) and then commits one transaction; the lookup
// is that GetItem plus one Query of the claims; the reclaim sweep Queries the
// sparse due index (dueBucket = DUE#sprinkle, dueAt <= now).
//
// Share assignment: the sprinkle item holds the set of taken share indexes.
// A claimer picks a random share among those not taken in its latest view
// and the transaction conditions on NOT contains(taken, :n) and
// claimedCount < count; a lost race returns the item as it was (the fresh
// taken set), so the next attempt picks among the shares still free.
// Concurrent claimers spread over the free shares instead of all fighting
// for the same one.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/problem"
)

// KindEscrow is a system account that holds money on its way somewhere
// (a sprinkle's unclaimed shares). Unlike KindExternal it is audited like a
// user account: it never goes below zero.
const KindEscrow = "escrow"

// Sprinkle movement types, as they appear in history.
const (
	TypeSprinkle        = "sprinkle"
	TypeSprinkleClaim   = "sprinkle_claim"
	TypeSprinkleReclaim = "sprinkle_reclaim"
)

// SprinkleLookupWindow is how long the sprinkler can look a sprinkle up, and
// how long its token stays reserved in the room.
const SprinkleLookupWindow = 7 * 24 * time.Hour

// DueBucketSprinkle is the due-index partition of pending reclaims.
const DueBucketSprinkle = "DUE#sprinkle"

const (
	prefixSprinkle = "SPRINKLE#"
	prefixClaim    = "CLAIM#"
	prefixRoomTok  = "TOKEN#"
	dueTimeFormat  = "2006-01-02T15:04:05.000Z" // fixed width: sorts like time
)

// NewSprinkleID is an unguessable sprinkle id.
func NewSprinkleID() string { return "sp_" + randomString(16) }

// EscrowAccount is the escrow account of one sprinkle.
func EscrowAccount(sprinkleID string) AccountRef {
	return AccountRef{ID: "sys_escrow_" + sprinkleID}
}

// Sprinkle is a sprinkle's facts as decided at creation.
type Sprinkle struct {
	ID             string
	RoomID         string
	Token          string
	Sprinkler      string
	SprinklerName  string
	Amount         int64
	Split          string
	Shares         []int64
	CreatedAt      time.Time
	ClosesAt       time.Time // claims are accepted while now < ClosesAt (millisecond precision)
	MovementID     string
	LookupDeadline time.Time // CreatedAt + SprinkleLookupWindow
}

func numList(ns []int64) types.AttributeValue {
	l := make([]types.AttributeValue, len(ns))
	for i, n := range ns {
		l[i] = num(n)
	}
	return &types.AttributeValueMemberL{Value: l}
}

func getNumList(item map[string]types.AttributeValue, name string) []int64 {
	l, _ := item[name].(*types.AttributeValueMemberL)
	if l == nil {
		return nil
	}
	out := make([]int64, 0, len(l.Value))
	for _, v := range l.Value {
		if n, ok := v.(*types.AttributeValueMemberN); ok {
			x, _ := strconv.ParseInt(n.Value, 10, 64)
			out = append(out, x)
		}
	}
	return out
}

func getNumSet(item map[string]types.AttributeValue, name string) []int64 {
	ns, _ := item[name].(*types.AttributeValueMemberNS)
	if ns == nil {
		return nil
	}
	out := make([]int64, 0, len(ns.Value))
	for _, v := range ns.Value {
		x, _ := strconv.ParseInt(v, 10, 64)
		out = append(out, x)
	}
	slices.Sort(out)
	return out
}

func sprinkleKey(id string) map[string]types.AttributeValue { return key(prefixSprinkle+id, skMeta) }

func ms(t time.Time) int64 { return t.UnixMilli() }

func dueAt(closes time.Time, id string) string {
	return closes.UTC().Format(dueTimeFormat) + "#" + id
}

// CreateSprinkle adds the sprinkle: the sprinkler's membership check, the
// debit of their main account (available >= amount), a new escrow account
// holding the amount, the sprinkle item (with its due-index entry for the
// reclaim), the token item (free, or its previous sprinkle's lookup window
// over) and the two history entries.
func (tx *Tx) CreateSprinkle(sp Sprinkle) {
	var sum int64
	for _, s := range sp.Shares {
		if s < 1 {
			tx.err = fmt.Errorf("store: sprinkle share %d below 1", s)
			return
		}
		sum += s
	}
	if sum != sp.Amount || len(sp.Shares) == 0 {
		tx.err = fmt.Errorf("store: sprinkle shares sum to %d, not %d", sum, sp.Amount)
		return
	}
	escrow := EscrowAccount(sp.ID)
	m := Movement{
		ID: sp.MovementID, Type: TypeSprinkle, Amount: sp.Amount, At: sp.CreatedAt,
		From: MainAccount(sp.Sprinkler), FromLabel: sp.SprinklerName, To: escrow, ToLabel: "sprinkle " + sp.Token,
		Originator: sp.SprinklerName, Memo: "sprinkle " + sp.Token + " in room " + sp.RoomID,
	}
	created := sp.CreatedAt.UTC().Format(time.RFC3339Nano)

	tx.memberCheck(sp.RoomID, sp.Sprinkler)
	tx.adjust(m.From, KindMain, -sp.Amount)

	acct := escrow.key()
	acct["accountId"] = str(escrow.ID)
	acct["kind"] = str(KindEscrow)
	acct["name"] = str("sprinkle " + sp.ID)
	acct["balance"] = num(sp.Amount)
	acct["held"] = num(0)
	acct["available"] = num(sp.Amount)
	acct["createdAt"] = str(created)
	collision := func(map[string]types.AttributeValue) error {
		return fmt.Errorf("store: id collision for sprinkle %s", sp.ID)
	}
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: acct, ConditionExpression: aws.String("attribute_not_exists(PK)")}}, op{onFail: collision})

	meta := sprinkleKey(sp.ID)
	meta["sprinkleId"] = str(sp.ID)
	meta["roomId"] = str(sp.RoomID)
	meta["token"] = str(sp.Token)
	meta["sprinkler"] = str(sp.Sprinkler)
	meta["amount"] = num(sp.Amount)
	meta["shareCount"] = num(int64(len(sp.Shares)))
	meta["split"] = str(sp.Split)
	meta["shares"] = numList(sp.Shares)
	meta["createdAt"] = str(created)
	meta["closesAtMs"] = num(ms(sp.ClosesAt))
	meta["claimedCount"] = num(0)
	meta["claimedTotal"] = num(0)
	meta[AttrDuePK] = str(DueBucketSprinkle)
	meta[AttrDueSK] = str(dueAt(sp.ClosesAt, sp.ID))
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: meta, ConditionExpression: aws.String("attribute_not_exists(PK)")}}, op{onFail: collision})

	tok := key(prefixRoom+sp.RoomID, prefixRoomTok+sp.Token)
	tok["sprinkleId"] = str(sp.ID)
	tok["roomId"] = str(sp.RoomID)
	tok["token"] = str(sp.Token)
	tok["sprinkler"] = str(sp.Sprinkler)
	tok["sprinklerName"] = str(sp.SprinklerName)
	tok["amount"] = num(sp.Amount)
	tok["shares"] = numList(sp.Shares)
	tok["createdAt"] = str(created)
	tok["closesAtMs"] = num(ms(sp.ClosesAt))
	tok[AttrTTL] = num(sp.LookupDeadline.Unix())
	tx.add(types.TransactWriteItem{Put: &types.Put{
		Item:                      tok,
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR expiresAt < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(sp.CreatedAt.Unix())},
	}}, op{onFail: func(map[string]types.AttributeValue) error {
		return problem.TokenTaken.With("token %s is in use in room %s", sp.Token, sp.RoomID)
	}})

	tx.entry(m, m.From, -m.Amount, m.To, m.ToLabel)
	tx.entry(m, m.To, m.Amount, m.From, m.FromLabel)
}

// SprinkleRef is what the token item says about a live sprinkle.
type SprinkleRef struct {
	ID            string
	RoomID        string
	Token         string
	Sprinkler     string
	SprinklerName string
	Amount        int64
	Shares        []int64
	CreatedAt     time.Time
	ClosesAt      time.Time
}

// SprinkleByToken reads the token item (one strongly consistent GetItem).
// A token whose lookup window is over names nothing, whether or not TTL
// has deleted it yet.
func (s *Store) SprinkleByToken(ctx context.Context, roomID, token string) (SprinkleRef, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(prefixRoom+roomID, prefixRoomTok+token), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return SprinkleRef{}, fmt.Errorf("store: sprinkle token: %w", err)
	}
	if len(out.Item) == 0 || getN(out.Item, AttrTTL) <= s.clock.Now().Unix() {
		return SprinkleRef{}, problem.SprinkleNotFound.With("room %s has no sprinkle %s", roomID, token)
	}
	created, _ := time.Parse(time.RFC3339Nano, getS(out.Item, "createdAt"))
	return SprinkleRef{
		ID: getS(out.Item, "sprinkleId"), RoomID: roomID, Token: token,
		Sprinkler: getS(out.Item, "sprinkler"), SprinklerName: getS(out.Item, "sprinklerName"),
		Amount: getN(out.Item, "amount"), Shares: getNumList(out.Item, "shares"),
		CreatedAt: created, ClosesAt: time.UnixMilli(getN(out.Item, "closesAtMs")).UTC(),
	}, nil
}

// Claim is one claimer taking share Share of a sprinkle.
type Claim struct {
	Sprinkle   SprinkleRef
	Claimer    string
	Name       string // the claimer's name, for the history entries
	Share      int
	MovementID string
	At         time.Time
}

// ClaimShare adds the claim: membership (ConditionCheck), the claim dedupe
// item (attribute_not_exists), the sprinkle item (not the sprinkler, window
// open at At, not reclaimed, claimedCount < count, share not taken), the
// escrow debit (available >= share), the claimer's main credit and two
// entries. Item order sets which refusal wins when several hold: not a
// member, already claimed, then the sprinkle's own (own sprinkle, window
// closed, exhausted, share taken).
//
// A ShareTaken refusal carries "taken" ([]int64, the share indexes taken
// when it failed) so the caller can pick a free share.
func (tx *Tx) ClaimShare(c Claim) {
	sp := c.Sprinkle
	if c.Share < 0 || c.Share >= len(sp.Shares) {
		tx.err = fmt.Errorf("store: share %d of %d", c.Share, len(sp.Shares))
		return
	}
	amount := sp.Shares[c.Share]
	escrow := EscrowAccount(sp.ID)
	m := Movement{
		ID: c.MovementID, Type: TypeSprinkleClaim, Amount: amount, At: c.At,
		From: escrow, FromLabel: "sprinkle " + sp.Token, To: MainAccount(c.Claimer), ToLabel: c.Name,
		Originator: sp.SprinklerName, Memo: "sprinkle " + sp.Token + " in room " + sp.RoomID,
	}
	at := c.At.UTC().Format(time.RFC3339Nano)

	tx.memberCheck(sp.RoomID, c.Claimer)

	claim := key(prefixSprinkle+sp.ID, prefixClaim+c.Claimer)
	claim["userId"] = str(c.Claimer)
	claim["share"] = num(int64(c.Share))
	claim["amount"] = num(amount)
	claim["at"] = str(at)
	claim["movementId"] = str(c.MovementID)
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: claim, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		op{onFail: func(map[string]types.AttributeValue) error {
			return problem.AlreadyClaimed.With("you already claimed a share of sprinkle %s", sp.Token)
		}})

	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:              sprinkleKey(sp.ID),
		UpdateExpression: aws.String("ADD claimedCount :one, claimedTotal :amount, taken :share"),
		ConditionExpression: aws.String("attribute_exists(PK) AND sprinkler <> :caller AND closesAtMs > :now" +
			" AND attribute_not_exists(reclaimed) AND claimedCount < shareCount AND NOT contains(taken, :n)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1), ":amount": num(amount), ":share": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(c.Share)}},
			":n": num(int64(c.Share)), ":caller": str(c.Claimer), ":now": num(ms(c.At)),
		},
	}}, op{onFail: func(old map[string]types.AttributeValue) error {
		switch {
		case len(old) == 0:
			return problem.SprinkleNotFound.With("room %s has no sprinkle %s", sp.RoomID, sp.Token)
		case getS(old, "sprinkler") == c.Claimer:
			return problem.OwnSprinkle.With("sprinkle %s is yours; the other members claim it", sp.Token)
		case getN(old, "closesAtMs") <= ms(c.At) || old["reclaimed"] != nil:
			return problem.ClaimWindowClosed.With("sprinkle %s closed at %s", sp.Token, sp.ClosesAt.Format(time.RFC3339))
		case getN(old, "claimedCount") >= getN(old, "shareCount"):
			return problem.SprinkleExhausted.With("all %d shares of sprinkle %s are taken", getN(old, "shareCount"), sp.Token)
		default:
			return problem.ShareTaken.With("share %d of sprinkle %s was taken", c.Share, sp.Token).WithExtra("taken", getNumSet(old, "taken"))
		}
	}})

	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                 escrow.key(),
		UpdateExpression:    aws.String("ADD balance :d, available :d"),
		ConditionExpression: aws.String("attribute_exists(PK) AND available >= :amount"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":d": num(-amount), ":amount": num(amount),
		},
	}}, op{onFail: func(old map[string]types.AttributeValue) error {
		// The sprinkle item's conditions make this unreachable; if the
		// escrow is short anyway, nothing is left to claim.
		return problem.SprinkleExhausted.With("sprinkle %s has %d won left", sp.Token, getN(old, "available"))
	}})
	tx.credit(m.To, KindMain, amount)
	tx.entry(m, m.From, -amount, m.To, m.ToLabel)
	tx.entry(m, m.To, amount, m.From, m.FromLabel)
}

// SprinkleClaim is one claim as the lookup shows it.
type SprinkleClaim struct {
	UserID string    `json:"userId"`
	Amount int64     `json:"amount"`
	At     time.Time `json:"at"`
}

// SprinkleClaims lists a sprinkle's claims, oldest first: one Query (paged).
func (s *Store) SprinkleClaims(ctx context.Context, sprinkleID string) ([]SprinkleClaim, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(prefixSprinkle + sprinkleID), ":sk": str(prefixClaim),
		},
		ConsistentRead: aws.Bool(true),
	}
	claims := []SprinkleClaim{}
	err := s.queryAll(ctx, in, func(item map[string]types.AttributeValue) bool {
		at, _ := time.Parse(time.RFC3339Nano, getS(item, "at"))
		claims = append(claims, SprinkleClaim{UserID: getS(item, "userId"), Amount: getN(item, "amount"), At: at})
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("store: sprinkle claims: %w", err)
	}
	slices.SortFunc(claims, func(a, b SprinkleClaim) int { return a.At.Compare(b.At) })
	return claims, nil
}

// DueSprinkle is a sprinkle whose claim window has closed and whose
// remainder has not been reclaimed yet, as the due index shows it.
type DueSprinkle struct {
	ID        string
	RoomID    string
	Token     string
	Sprinkler string
	ClosesAt  time.Time
}

// DueSprinkles Queries the due index for sprinkles due at or before now,
// oldest first (at most limit; 0: all). Its cost is what is due, never the
// table. The index is eventually consistent: an item just reclaimed may
// still appear (the reclaim re-checks), one just due may appear next run.
func (s *Store) DueSprinkles(ctx context.Context, now time.Time, limit int) ([]DueSprinkle, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		IndexName:              aws.String(IndexDue),
		KeyConditionExpression: aws.String("#b = :b AND #d <= :upper"),
		ExpressionAttributeNames: map[string]string{
			"#b": AttrDuePK, "#d": AttrDueSK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":b": str(DueBucketSprinkle), ":upper": str(now.UTC().Format(dueTimeFormat) + "#~"),
		},
	}
	var due []DueSprinkle
	err := s.queryAll(ctx, in, func(item map[string]types.AttributeValue) bool {
		due = append(due, DueSprinkle{
			ID: getS(item, "sprinkleId"), RoomID: getS(item, "roomId"), Token: getS(item, "token"),
			Sprinkler: getS(item, "sprinkler"), ClosesAt: time.UnixMilli(getN(item, "closesAtMs")).UTC(),
		})
		return limit == 0 || len(due) < limit
	})
	if err != nil {
		return nil, fmt.Errorf("store: due sprinkles: %w", err)
	}
	return due, nil
}

// NotifySprinkleReclaimed tells a sprinkler their unclaimed remainder came back.
const NotifySprinkleReclaimed = "sprinkle_reclaimed"

// errReclaimRace means the escrow balance changed between the read and the
// reclaim transaction (a late claim): read again.
var errReclaimRace = errors.New("store: escrow balance changed")

// errAlreadyReclaimed means another run reclaimed the sprinkle first.
var errAlreadyReclaimed = errors.New("store: already reclaimed")

// ReclaimSprinkle returns a closed sprinkle's unclaimed remainder (the escrow
// balance) to the sprinkler's main account, marks the sprinkle reclaimed and
// takes it out of the due index, all in one transaction whose conditions
// re-check what the read saw: the sprinkle is closed and not yet reclaimed,
// and the escrow holds exactly the remainder. A zero remainder just marks the
// sprinkle. It returns the amount returned and whether this call reclaimed
// it; a sprinkle some other run has reclaimed returns (0, false, nil), so
// running twice pays once.
func (s *Store) ReclaimSprinkle(ctx context.Context, d DueSprinkle, now time.Time) (int64, bool, error) {
	escrow := EscrowAccount(d.ID)
	for attempt := 0; attempt < 3; attempt++ {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: escrow.key(), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return 0, false, fmt.Errorf("store: reclaim %s: %w", d.ID, err)
		}
		remainder := getN(out.Item, "available")
		tx := &Tx{}
		tx.add(types.TransactWriteItem{Update: &types.Update{
			Key:                       sprinkleKey(d.ID),
			UpdateExpression:          aws.String("SET reclaimed = :r, reclaimedAt = :at REMOVE #b, #d"),
			ConditionExpression:       aws.String("attribute_exists(PK) AND attribute_not_exists(reclaimed) AND closesAtMs <= :now"),
			ExpressionAttributeNames:  map[string]string{"#b": AttrDuePK, "#d": AttrDueSK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":r": num(remainder), ":at": str(now.UTC().Format(time.RFC3339Nano)), ":now": num(ms(now))},
		}}, op{onFail: func(old map[string]types.AttributeValue) error {
			if len(old) == 0 || old["reclaimed"] != nil {
				return errAlreadyReclaimed
			}
			return fmt.Errorf("store: sprinkle %s is not closed yet", d.ID)
		}})
		escrowCond := func(map[string]types.AttributeValue) error { return errReclaimRace }
		if remainder == 0 {
			tx.add(types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
				Key: escrow.key(), ConditionExpression: aws.String("attribute_not_exists(PK) OR available = :zero"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0)},
			}}, op{onFail: escrowCond})
		} else {
			m := Movement{
				ID: NewMovementID(now), Type: TypeSprinkleReclaim, Amount: remainder, At: now,
				From: escrow, FromLabel: "sprinkle " + d.Token, To: MainAccount(d.Sprinkler), ToLabel: d.Sprinkler,
				Memo: "unclaimed remainder of sprinkle " + d.Token + " in room " + d.RoomID,
			}
			tx.add(types.TransactWriteItem{Update: &types.Update{
				Key:                       escrow.key(),
				UpdateExpression:          aws.String("ADD balance :d, available :d"),
				ConditionExpression:       aws.String("attribute_exists(PK) AND available = :r"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":d": num(-remainder), ":r": num(remainder)},
			}}, op{onFail: escrowCond})
			tx.credit(m.To, KindMain, remainder)
			tx.entry(m, m.From, -remainder, m.To, m.ToLabel)
			tx.entry(m, m.To, remainder, m.From, m.FromLabel)
			tx.Notify(Notification{UserID: d.Sprinkler, Type: NotifySprinkleReclaimed, Amount: remainder, RoomID: d.RoomID, Token: d.Token, At: now})
		}
		err = s.Commit(ctx, tx)
		switch {
		case err == nil:
			return remainder, true, nil
		case errors.Is(err, errAlreadyReclaimed):
			return 0, false, nil
		case errors.Is(err, errReclaimRace):
			continue
		default:
			return 0, false, fmt.Errorf("store: reclaim %s: %w", d.ID, err)
		}
	}
	return 0, false, fmt.Errorf("store: reclaim %s: escrow balance kept changing", d.ID)
}
