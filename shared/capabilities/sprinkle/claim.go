package sprinkle

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

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
func Claim(d httpapi.Services) httpapi.LambdaHandler {
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
		now := d.Clock.Now().UTC()
		sp, ticket, err := claimReads(ctx, d, rid, token, r.Caller, key, now)
		if err != nil {
			return nil, err
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

// claimReads are a claim's reads, two round trips of reads that answer
// every refusal with no write: the sprinkle (the token item), whether the
// key has its answer, the caller's membership, and the caller's ticket; the
// caller's claim item only for a caller who holds a ticket. Only the
// membership copy (the caller's own partition) is read strongly; the two
// items every claimer reads are read eventually consistently, which is
// safe because:
//   - the token item's facts never change (see byToken);
//   - the tickets item only grows (issued and the map of tickets), so a
//     stale "all issued" is true, and a stale copy that lacks the caller's
//     ticket or shows shares left is settled by takeTicket's conditional
//     write, whose ALL_OLD answer is current;
//   - a member item found without its copy was put before the copies
//     existed, long ago, and the claim's transaction checks it again.
//
// The refusals keep their precedence: sprinkle not found, not a member,
// already claimed, then refusal (own, closed, exhausted).
func claimReads(ctx context.Context, d httpapi.Services, rid, token, caller string, key ledger.IdemKey, now time.Time) (sprinkle, int64, error) {
	var sp sprinkle
	var mirror, member, tickets ddb.Item
	var errs [3]error
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); sp, errs[0] = byToken(ctx, d, rid, token, now) }()
	go func() { defer wg.Done(); errs[1] = d.Ledger.Answered(ctx, key) }()
	go func() { defer wg.Done(); mirror, errs[2] = d.Table.Get(ctx, membershipKey(caller, rid)) }()
	wg.Wait()
	if errs[1] != nil { // this key's answer (a replay) comes first
		return sp, 0, errs[1]
	}
	if err := cmp.Or(errs[0], errs[2]); err != nil { // no such sprinkle comes before not a member
		return sp, 0, err
	}
	member = mirror
	wg.Add(1)
	go func() { defer wg.Done(); tickets, errs[0] = getEventual(ctx, d.Table, ticketsKey(sp.ID)) }()
	if mirror == nil { // a member added before the copies, or none
		wg.Add(1)
		go func() { defer wg.Done(); member, errs[1] = getEventual(ctx, d.Table, memberKey(rid, caller)) }()
	}
	wg.Wait()
	if err := cmp.Or(errs[0], errs[1]); err != nil {
		return sp, 0, err
	}
	if member == nil {
		return sp, 0, ErrNotAMember.With("you are not a member of room %s", rid)
	}
	var ticket int64
	sp.Issued, ticket = ticketOf(tickets, caller)
	if ticket > 0 { // a claim item exists only beside a ticket
		claimed, err := d.Table.Get(ctx, claimKey(sp.ID, caller))
		if err != nil {
			return sp, 0, err
		}
		if claimed != nil {
			return sp, 0, ErrAlreadyClaimed.With("you already claimed a share of sprinkle %s", token)
		}
	}
	return sp, ticket, nil
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
