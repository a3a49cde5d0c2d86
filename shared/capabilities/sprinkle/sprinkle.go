// Package sprinkle is chat rooms and money sprinkling (red envelopes):
// rooms with members (rooms.go), a sprinkle of an amount split into shares
// behind a 3-character token, one claim per member, the lookup for the
// sprinkler, and the scheduled reclaim of what nobody claimed.
//
// One file per verb: sprinkle.go (the items, keys and tokens), create.go,
// claim.go and tickets.go (the claim and its ticket), reads.go (the
// sprinkler's lookup), reclaim.go (the job), rooms.go (rooms and members).
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
// A claim is: reads of the token, the caller's membership (its copy in the
// caller's own partition, rooms.go), the idempotency record, the tickets,
// and the caller's claim only if they hold a ticket (two round trips; the
// token and tickets items eventually consistent, see claimReads), which
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
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
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

func escrowID(sprinkleID string) string { return "sys_escrow_" + sprinkleID }

func sprinkleKey(id string) ddb.Item { return ddb.Key(pkSprinkle+id, skMeta) }

func tokenKey(roomID, token string) ddb.Item { return ddb.Key(pkRoom+roomID, skTokenPfx+token) }

// sprinkle is a sprinkle's facts as decided at creation.
type sprinkle struct {
	ID, RoomID, Token, Sprinkler, SprinklerName, Split string
	Amount                                             int64
	Shares                                             []int64
	CreatedAt, ClosesAt                                time.Time
	Issued                                             int64 // tickets taken (the tickets item)
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

// byToken reads the token item. Its facts never change once written, so
// any copy of it is true: it is read eventually consistently (half a read
// unit: 3,000 claimers at once read the room's one partition), and strongly
// only when that finds no live sprinkle (one created a moment ago). A token
// whose lookup window is over names nothing, whether or not TTL has deleted
// it yet; a token is reused only after that, so a stale copy of its earlier
// sprinkle reads as expired and is read again strongly.
func byToken(ctx context.Context, d httpapi.Services, roomID, token string, now time.Time) (sprinkle, error) {
	item, err := getEventual(ctx, d.Table, tokenKey(roomID, token))
	if err != nil {
		return sprinkle{}, err
	}
	if !live(item, now) {
		if item, err = d.Table.Get(ctx, tokenKey(roomID, token)); err != nil {
			return sprinkle{}, err
		}
	}
	return tokenItem(item, roomID, token, now)
}

func live(item ddb.Item, now time.Time) bool {
	return item != nil && ddb.Decode(item).N(ddb.AttrTTL) > now.Unix()
}

func tokenItem(item ddb.Item, roomID, token string, now time.Time) (sprinkle, error) {
	if !live(item, now) {
		return sprinkle{}, ErrSprinkleNotFound.With("room %s has no sprinkle %s", roomID, token)
	}
	return sprinkleFromItem(item)
}

// getEventual reads one item eventually consistently (nil if absent; half
// the read units of ddb.Table.Get), for facts that never change once
// written or only grow, so that a stale copy is still true.
func getEventual(ctx context.Context, t *ddb.Table, key ddb.Item) (ddb.Item, error) {
	out, err := t.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(t.Name), Key: key, ConsistentRead: aws.Bool(false)})
	if err != nil {
		return nil, fmt.Errorf("sprinkle: get %s/%s: %w", ddb.Decode(key).S(ddb.AttrPK), ddb.Decode(key).S(ddb.AttrSK), err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}
