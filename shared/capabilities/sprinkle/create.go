package sprinkle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
	"minipay/shared/kernel/money"
)

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

// tokenTaken is the internal signal of a token in use in the room: the
// handler draws another.
type tokenTaken struct{}

func (tokenTaken) Error() string   { return "sprinkle: token in use" }
func (tokenTaken) Transient() bool { return true }

// Create is POST /rooms/{id}/sprinkles {amount, count, split, claimWindowMinutes}.
func Create(d httpapi.Services) httpapi.LambdaHandler {
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
