package sprinkle

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"minipay/shared/ddb"
	"minipay/shared/httpapi"
	"minipay/shared/ledger"
	"minipay/shared/users"
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
