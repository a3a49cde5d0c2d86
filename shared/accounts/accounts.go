// Package accounts is the foundation's capability: register, accounts,
// charges (with the daily limit), savings deposits, withdrawals, operator
// deposits and history. Each handler validates, then composes store
// operations into one transaction.
package accounts

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"minipay/shared/api"
	"minipay/shared/money"
	"minipay/shared/problem"
	"minipay/shared/store"
)

// Movement types as they appear in history.
const (
	TypeCharge          = "charge"
	TypeWithdrawal      = "withdrawal"
	TypeSavingsDeposit  = "savings_deposit"
	TypeOperatorDeposit = "operator_deposit"
)

// Labels shown in history for the outside world.
const (
	LabelBank     = "bank"
	LabelOperator = "external payment"
)

// Register is POST /users.
func Register(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "create-user", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		var in struct {
			Name string `json:"name"`
		}
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		name, err := api.Text("name", in.Name, 100, true)
		if err != nil {
			return nil, err
		}
		u := store.User{ID: store.NewUserID(), Name: name, CreatedAt: d.Clock.Now().UTC()}
		token := store.NewToken()
		main, err := d.Store.Register(ctx, u, token)
		if err != nil {
			return nil, err
		}
		return api.JSON(http.StatusCreated, map[string]any{
			"user": u, "mainAccount": main, "token": token,
			"tokenNote": "shown once; send it as Authorization: Bearer <token>",
		})
	})
}

// ListAccounts is GET /accounts.
func ListAccounts(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "list-accounts", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		accounts, err := d.Store.ListAccounts(ctx, r.Caller)
		if err != nil {
			return nil, err
		}
		return api.JSON(http.StatusOK, map[string]any{"accounts": accounts})
	})
}

// GetAccount is GET /accounts/{id}.
func GetAccount(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "get-account", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		id, err := accountID(r)
		if err != nil {
			return nil, err
		}
		a, err := d.Store.GetAccount(ctx, r.Caller, id)
		if err != nil {
			return nil, err
		}
		return api.JSON(http.StatusOK, a)
	})
}

// OpenAccount is POST /accounts: a new savings account.
func OpenAccount(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "open-account", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		var in struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		}
		if len(strings.TrimSpace(string(r.Body))) > 0 {
			if err := r.Decode(&in); err != nil {
				return nil, err
			}
		}
		if in.Kind != "" && in.Kind != store.KindSavings {
			return nil, problem.InvalidField.With("kind must be %q: every user already has exactly one main account", store.KindSavings).WithExtra("field", "kind")
		}
		name, err := api.Text("name", in.Name, 100, false)
		if err != nil {
			return nil, err
		}
		if name == "" {
			name = "savings"
		}
		a, err := d.Store.OpenSavings(ctx, r.Caller, name, d.Clock.Now())
		if err != nil {
			return nil, err
		}
		return api.JSON(http.StatusCreated, a)
	})
}

// amountRequest is the body of every simple money movement.
type amountRequest struct {
	Amount api.AmountField `json:"amount"`
	Memo   string          `json:"memo"`
}

func (a *amountRequest) read(r *api.Request) (int64, string, error) {
	if err := r.Decode(a); err != nil {
		return 0, "", err
	}
	amount, err := api.Amount("amount", a.Amount)
	if err != nil {
		return 0, "", err
	}
	memo, err := api.Text("memo", a.Memo, 200, false)
	return amount, memo, err
}

// movementResponse is what a completed movement returns (and replays).
type movementResponse struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Amount    int64     `json:"amount"`
	Memo      string    `json:"memo,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

func respond(m store.Movement, tx *store.Tx) *api.Movement {
	return &api.Movement{Tx: tx, Status: http.StatusCreated, Body: movementResponse{
		ID: m.ID, Type: m.Type, From: m.From.ID, To: m.To.ID, Amount: m.Amount, Memo: m.Memo, CreatedAt: m.At.UTC(),
	}}
}

// Charge is POST /accounts/{id}/charges: money in from the user's bank into
// their main account, counted against the daily limit in the same
// transaction.
func Charge(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "charge", api.Money(d, func(ctx context.Context, r *api.Request) (*api.Movement, error) {
		id, err := accountID(r)
		if err != nil {
			return nil, err
		}
		var in amountRequest
		amount, memo, err := in.read(r)
		if err != nil {
			return nil, err
		}
		if amount > money.DailyChargeLimit {
			return nil, problem.LimitExceeded.With("at most %d won can be charged per day", money.DailyChargeLimit).WithExtra("limit", money.DailyChargeLimit)
		}
		now := d.Clock.Now()
		m := store.Movement{
			ID: store.NewMovementID(now), Type: TypeCharge, Amount: amount, Memo: memo, At: now,
			From: store.ExternalAccount(r.Caller), FromLabel: LabelBank,
			To: store.UserAccount(r.Caller, id), ToKind: store.KindMain, ToLabel: r.Caller,
		}
		tx := &store.Tx{}
		tx.Move(m)
		tx.ChargeLimit(r.Caller, now, amount, money.DailyChargeLimit)
		return respond(m, tx), nil
	}))
}

// DepositSavings is POST /accounts/{id}/deposits: main -> this savings
// account. No auto-charge: a short main account is refused.
func DepositSavings(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "deposit-savings", api.Money(d, func(ctx context.Context, r *api.Request) (*api.Movement, error) {
		id, err := accountID(r)
		if err != nil {
			return nil, err
		}
		var in amountRequest
		amount, memo, err := in.read(r)
		if err != nil {
			return nil, err
		}
		if id == store.MainAccountID(r.Caller) {
			return nil, problem.WrongAccountKind.With("deposits go from your main account into a savings account; %s is your main account", id)
		}
		now := d.Clock.Now()
		from := store.MainAccount(r.Caller)
		m := store.Movement{
			ID: store.NewMovementID(now), Type: TypeSavingsDeposit, Amount: amount, Memo: memo, At: now,
			From: from, FromKind: store.KindMain, FromLabel: "main account",
			To: store.UserAccount(r.Caller, id), ToKind: store.KindSavings, ToLabel: "savings account " + id,
		}
		tx := &store.Tx{}
		tx.Move(m)
		return respond(m, tx), nil
	}))
}

// Withdraw is POST /accounts/{id}/withdrawals: main account out to the bank.
func Withdraw(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "withdraw", api.Money(d, func(ctx context.Context, r *api.Request) (*api.Movement, error) {
		id, err := accountID(r)
		if err != nil {
			return nil, err
		}
		var in amountRequest
		amount, memo, err := in.read(r)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now()
		m := store.Movement{
			ID: store.NewMovementID(now), Type: TypeWithdrawal, Amount: amount, Memo: memo, At: now,
			From: store.UserAccount(r.Caller, id), FromKind: store.KindMain, FromLabel: r.Caller,
			To: store.ExternalAccount(r.Caller), ToLabel: LabelBank,
		}
		tx := &store.Tx{}
		tx.Move(m)
		return respond(m, tx), nil
	}))
}

// OperatorDeposit is POST /operator/deposits {userId, amount, reference}:
// the external payment system credits a user's main account. It does not
// count against the user's charge limit.
func OperatorDeposit(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "operator-deposit", api.Money(d, func(ctx context.Context, r *api.Request) (*api.Movement, error) {
		var in struct {
			UserID    string          `json:"userId"`
			Amount    api.AmountField `json:"amount"`
			Reference string          `json:"reference"`
		}
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		if !validID(in.UserID, "u_") {
			return nil, problem.InvalidField.With("userId must be a user id such as u_0123456789abcdef").WithExtra("field", "userId")
		}
		amount, err := api.Amount("amount", in.Amount)
		if err != nil {
			return nil, err
		}
		ref, err := api.Text("reference", in.Reference, 200, false)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now()
		m := store.Movement{
			ID: store.NewMovementID(now), Type: TypeOperatorDeposit, Amount: amount, Memo: ref, At: now,
			From: store.ExternalAccount(in.UserID), FromLabel: LabelOperator,
			To: store.MainAccount(in.UserID), ToKind: store.KindMain, ToLabel: in.UserID,
		}
		tx := &store.Tx{}
		tx.Move(m)
		return respond(m, tx), nil
	}))
}

// ListEntries is GET /accounts/{id}/entries?limit=&cursor=&from=&to=&direction=in|out.
func ListEntries(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "list-entries", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		id, err := accountID(r)
		if err != nil {
			return nil, err
		}
		page := store.EntryPage{AccountID: id, Limit: 20, Cursor: r.QueryParam("cursor")}
		if s := r.QueryParam("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > store.MaxPageSize {
				return nil, problem.InvalidField.With("limit must be an integer from 1 to %d", store.MaxPageSize).WithExtra("field", "limit")
			}
			page.Limit = int32(n)
		}
		switch dir := r.QueryParam("direction"); dir {
		case "", store.DirectionIn, store.DirectionOut:
			page.Direction = dir
		default:
			return nil, problem.InvalidField.With("direction must be %q or %q", store.DirectionIn, store.DirectionOut).WithExtra("field", "direction")
		}
		for _, f := range []struct {
			name string
			dst  *time.Time
		}{{"from", &page.From}, {"to", &page.To}} {
			if s := r.QueryParam(f.name); s != "" {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					return nil, problem.InvalidField.With("%s must be an RFC 3339 time such as 2026-11-22T09:00:00+09:00", f.name).WithExtra("field", f.name)
				}
				*f.dst = t
			}
		}
		// The ownership check and the page are independent: read both at
		// once so the request costs one round trip of latency.
		type result struct {
			entries []store.Entry
			next    string
			err     error
		}
		ch := make(chan result, 1)
		go func() {
			e, n, err := d.Store.ListEntries(ctx, page)
			ch <- result{e, n, err}
		}()
		_, ownErr := d.Store.GetAccount(ctx, r.Caller, id)
		res := <-ch
		if ownErr != nil {
			return nil, ownErr
		}
		if res.err != nil {
			return nil, res.err
		}
		body := map[string]any{"entries": res.entries}
		if res.next != "" {
			body["nextCursor"] = res.next
		}
		return api.JSON(http.StatusOK, body)
	})
}

// accountID reads and checks the {id} path parameter. A malformed id cannot
// name any account: 404, as for any account that is not the caller's.
func accountID(r *api.Request) (string, error) {
	id := r.PathParam("id")
	if !validID(id, "m_") && !validID(id, "s_") {
		return "", problem.AccountNotFound.With("no account %q", id)
	}
	return id, nil
}

func validID(id, prefix string) bool { return store.ValidID(id, prefix) }
