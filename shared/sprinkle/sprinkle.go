// Package sprinkle is chat rooms and money sprinkling (red envelopes):
// rooms with members, a sprinkle of an amount split into shares behind a
// 3-character token, one claim per member, the lookup for the sprinkler, and
// the scheduled reclaim of what nobody claimed.
//
// Money rules: creating a sprinkle is ONE transaction (sprinkler's main ->
// the sprinkle's own escrow account, membership check, sprinkle item with the
// precomputed shares, token reservation, due-index entry); a claim is ONE
// transaction (membership, claim dedupe, share assignment, escrow -> the
// claimer's main); the reclaim is ONE transaction per sprinkle. See
// store/sprinkles.go for the items and conditions.
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
	"strconv"
	"time"

	"minipay/shared/api"
	"minipay/shared/money"
	"minipay/shared/problem"
	"minipay/shared/routes"
	"minipay/shared/store"
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

// MaxRoomName caps a room's name.
const MaxRoomName = 100

// claimAttempts bounds how many share choices one claim request tries (the
// api package allows api.MaxMovementAttempts transactions per request).
const claimAttempts = api.MaxMovementAttempts - 1

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
		found := false
		for j := 0; j < len(TokenAlphabet); j++ {
			if s[i] == TokenAlphabet[j] {
				found = true
				break
			}
		}
		if !found {
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

func roomID(r *api.Request) (string, error) {
	id := r.PathParam("id")
	if !store.ValidID(id, "r_") {
		return "", problem.RoomNotFound.With("no room %q", id)
	}
	return id, nil
}

func callerName(ctx context.Context, d api.Deps, r *api.Request) (string, error) {
	if r.CallerName != "" {
		return r.CallerName, nil
	}
	u, err := d.Store.GetUser(ctx, r.Caller)
	if err != nil {
		return "", err
	}
	return u.Name, nil
}

// intField parses an optional JSON integer field in [lo, hi].
func intField(field string, raw api.AmountField, def, lo, hi int64) (int64, error) {
	if raw == "" {
		if def == 0 {
			return 0, problem.InvalidField.With("%s is required", field).WithExtra("field", field)
		}
		return def, nil
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, problem.InvalidField.With("%s must be a whole number from %d to %d", field, lo, hi).WithExtra("field", field)
	}
	return v, nil
}

// ---- rooms ----

// RoomResponse is a room with its members.
type RoomResponse struct {
	store.Room
	Members []store.Member `json:"members"`
}

// CreateRoom is POST /rooms {name}: the caller becomes the first member.
func CreateRoom(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "create-room", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		var in struct {
			Name string `json:"name"`
		}
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		name, err := api.Text("name", in.Name, MaxRoomName, true)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		room := store.Room{ID: store.NewRoomID(), Name: name, CreatedBy: r.Caller, CreatedAt: now}
		if err := d.Store.CreateRoom(ctx, room); err != nil {
			return nil, err
		}
		return api.JSON(http.StatusCreated, RoomResponse{Room: room, Members: []store.Member{{UserID: r.Caller, AddedBy: r.Caller, JoinedAt: now}}})
	})
}

// AddMember is POST /rooms/{id}/members {userId}: a member adds a user.
// Adding an existing member is idempotent: 200, "added": false.
func AddMember(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "add-room-member", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		var in struct {
			UserID string `json:"userId"`
		}
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		if !store.ValidID(in.UserID, "u_") {
			return nil, problem.InvalidField.With("userId must be a user id, such as u_0123456789abcdef").WithExtra("field", "userId")
		}
		added, err := d.Store.AddMember(ctx, rid, r.Caller, in.UserID, d.Clock.Now())
		if err != nil {
			return nil, err
		}
		status := http.StatusOK
		if added {
			status = http.StatusCreated
		}
		return api.JSON(status, map[string]any{"roomId": rid, "userId": in.UserID, "added": added})
	})
}

// GetRoom is GET /rooms/{id}: members only.
func GetRoom(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "get-room", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		room, members, err := d.Store.RoomWithMembers(ctx, rid, r.Caller)
		if err != nil {
			return nil, err
		}
		return api.JSON(http.StatusOK, RoomResponse{Room: room, Members: members})
	})
}

// ---- sprinkles ----

type createRequest struct {
	Amount             api.AmountField `json:"amount"`
	Count              api.AmountField `json:"count"`
	Split              string          `json:"split"`
	ClaimWindowMinutes api.AmountField `json:"claimWindowMinutes"`
}

// CreateResponse is what a created sprinkle returns (and replays).
type CreateResponse struct {
	ID                 string    `json:"id"`
	RoomID             string    `json:"roomId"`
	Token              string    `json:"token"`
	Amount             int64     `json:"amount"`
	Count              int       `json:"count"`
	Split              string    `json:"split"`
	ClaimWindowMinutes int64     `json:"claimWindowMinutes"`
	CreatedAt          time.Time `json:"createdAt"`
	ClosesAt           time.Time `json:"closesAt"`
}

// Create is POST /rooms/{id}/sprinkles {amount, count, split, claimWindowMinutes}.
func Create(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "create-sprinkle", api.Money(d, func(ctx context.Context, r *api.Request) (*api.Movement, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		var in createRequest
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		amount, err := api.Amount("amount", in.Amount)
		if err != nil {
			return nil, err
		}
		count, err := intField("count", in.Count, 0, 1, money.MaxShares)
		if err != nil {
			return nil, err
		}
		window, err := intField("claimWindowMinutes", in.ClaimWindowMinutes, DefaultClaimWindowMinutes, 1, MaxClaimWindowMinutes)
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
			return nil, problem.InvalidField.With("split must be %q or %q", SplitEqual, SplitRandom).WithExtra("field", "split")
		}
		if err != nil {
			return nil, problem.InvalidField.With("%s", err.Error()).WithExtra("field", "count")
		}
		name, err := callerName(ctx, d, r)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		sp := store.Sprinkle{
			ID: store.NewSprinkleID(), RoomID: rid, Sprinkler: r.Caller, SprinklerName: name,
			Amount: amount, Split: in.Split, Shares: shares, CreatedAt: now,
			ClosesAt:   time.UnixMilli(now.Add(time.Duration(window) * time.Minute).UnixMilli()).UTC(),
			MovementID: store.NewMovementID(now), LookupDeadline: now.Add(store.SprinkleLookupWindow),
		}
		var build func() *api.Movement
		build = func() *api.Movement {
			sp.Token = NewToken()
			tx := &store.Tx{}
			tx.CreateSprinkle(sp)
			return &api.Movement{Tx: tx, Status: http.StatusCreated,
				Body: CreateResponse{ID: sp.ID, RoomID: rid, Token: sp.Token, Amount: amount, Count: len(shares), Split: sp.Split,
					ClaimWindowMinutes: window, CreatedAt: now, ClosesAt: sp.ClosesAt},
				Retry: func(_ context.Context, refusal *problem.Problem) (*api.Movement, error) {
					if errors.Is(refusal, problem.TokenTaken) {
						return build(), nil // another token (bounded by api.MaxMovementAttempts)
					}
					return nil, nil
				}}
		}
		return build(), nil
	}))
}

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
// one unclaimed share into their main account.
//
// One GetItem (the token item: sprinkle id and share amounts), then one
// transaction per share choice. The first choice is a random share; when
// it was taken meanwhile, the refusal carries the taken set and the next
// choice is a random free share (bounded: claimAttempts, then 503 without
// spending the Idempotency-Key).
func Claim(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "claim-sprinkle", api.Money(d, func(ctx context.Context, r *api.Request) (*api.Movement, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		token := r.PathParam("token")
		if !ValidToken(token) {
			return nil, problem.SprinkleNotFound.With("room %s has no sprinkle %q", rid, token)
		}
		if len(r.Body) > 0 {
			var in struct{}
			if err := r.Decode(&in); err != nil {
				return nil, err
			}
		}
		ref, err := d.Store.SprinkleByToken(ctx, rid, token)
		if err != nil {
			return nil, err
		}
		name, err := callerName(ctx, d, r)
		if err != nil {
			return nil, err
		}
		attempts := 0
		var build func(share int) *api.Movement
		build = func(share int) *api.Movement {
			attempts++
			now := d.Clock.Now().UTC()
			c := store.Claim{Sprinkle: ref, Claimer: r.Caller, Name: name, Share: share, MovementID: store.NewMovementID(now), At: now}
			tx := &store.Tx{}
			tx.ClaimShare(c)
			return &api.Movement{Tx: tx, Status: http.StatusCreated,
				Body: ClaimResponse{SprinkleID: ref.ID, RoomID: rid, Token: token, Amount: ref.Shares[share],
					ToAccount: store.MainAccountID(r.Caller), MovementID: c.MovementID, ClaimedAt: now},
				Retry: func(_ context.Context, refusal *problem.Problem) (*api.Movement, error) {
					if !errors.Is(refusal, problem.ShareTaken) {
						return nil, nil
					}
					taken, _ := refusal.Extra["taken"].([]int64)
					free := freeShares(len(ref.Shares), taken)
					if len(free) == 0 {
						return nil, problem.SprinkleExhausted.With("all %d shares of sprinkle %s are taken", len(ref.Shares), token)
					}
					if attempts >= claimAttempts {
						return nil, problem.Contention.WithExtra("retryAfterSeconds", 1)
					}
					return build(free[randIndex(len(free))]), nil
				}}
		}
		return build(randIndex(len(ref.Shares))), nil
	}))
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

// LookupResponse is the sprinkler's view of a sprinkle.
type LookupResponse struct {
	ID           string                `json:"id"`
	RoomID       string                `json:"roomId"`
	Token        string                `json:"token"`
	CreatedAt    time.Time             `json:"createdAt"`
	ClosesAt     time.Time             `json:"closesAt"`
	Amount       int64                 `json:"amount"`
	Count        int                   `json:"count"`
	ClaimedTotal int64                 `json:"claimedTotal"`
	Claims       []store.SprinkleClaim `json:"claims"`
}

// Get is GET /rooms/{id}/sprinkles/{token}: only the sprinkler, only within
// store.SprinkleLookupWindow (7 days) of creation; everyone else, and
// everyone afterwards, gets 404.
func Get(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "get-sprinkle", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		token := r.PathParam("token")
		notFound := problem.SprinkleNotFound.With("you have no sprinkle %q in room %s", token, rid)
		if !ValidToken(token) {
			return nil, notFound
		}
		ref, err := d.Store.SprinkleByToken(ctx, rid, token)
		if err != nil {
			return nil, err
		}
		if ref.Sprinkler != r.Caller || !d.Clock.Now().Before(ref.CreatedAt.Add(store.SprinkleLookupWindow)) {
			return nil, notFound
		}
		claims, err := d.Store.SprinkleClaims(ctx, ref.ID)
		if err != nil {
			return nil, err
		}
		var total int64
		for _, c := range claims {
			total += c.Amount
		}
		return api.JSON(http.StatusOK, LookupResponse{ID: ref.ID, RoomID: rid, Token: token, CreatedAt: ref.CreatedAt, ClosesAt: ref.ClosesAt,
			Amount: ref.Amount, Count: len(ref.Shares), ClaimedTotal: total, Claims: claims})
	})
}

// ---- reclaim ----

// ReclaimSummary is what one reclaim run did.
type ReclaimSummary struct {
	Due       int   `json:"due"`
	Reclaimed int   `json:"reclaimed"` // sprinkles marked reclaimed by this run
	Returned  int64 `json:"returned"`  // won returned to sprinklers
}

// Reclaim is the sprinkle-reclaim scheduled job: every sprinkle whose window
// closed at or before now (everything due, so missed runs catch up) gets its
// unclaimed remainder back to the sprinkler's main account. Idempotent: a
// reclaimed sprinkle leaves the due index, and the reclaim transaction
// re-checks it was not reclaimed.
func Reclaim(d api.Deps) func(context.Context, routes.ScheduledEvent) (ReclaimSummary, error) {
	return func(ctx context.Context, ev routes.ScheduledEvent) (ReclaimSummary, error) {
		now := d.Clock.Now()
		var sum ReclaimSummary
		due, err := d.Store.DueSprinkles(ctx, now, 0)
		if err != nil {
			return sum, err
		}
		sum.Due = len(due)
		var errs []error
		for _, s := range due {
			returned, reclaimed, err := d.Store.ReclaimSprinkle(ctx, s, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if reclaimed {
				sum.Reclaimed++
				sum.Returned += returned
			}
		}
		d.Log.InfoContext(ctx, "sprinkle reclaim", "job", ev.Job, "scheduledTime", ev.ScheduledTime,
			"due", sum.Due, "reclaimed", sum.Reclaimed, "returned", sum.Returned, "errors", len(errs))
		if len(errs) > 0 {
			return sum, fmt.Errorf("sprinkle reclaim: %d of %d failed: %w", len(errs), len(due), errors.Join(errs...))
		}
		return sum, nil
	}
}
