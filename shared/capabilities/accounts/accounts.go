// Package accounts is the foundation's capability: a user's accounts,
// charges from the bank (with the daily limit), withdrawals, operator
// deposits and history. Savings accounts (opening, deposits, products,
// interest) are shared/capabilities/savings'. Each handler validates, then composes
// ledger primitives into one transaction.
//
//	item              PK              SK         notes
//	payment reference PAYREF#<ref>    PAYREF     movementId: an operator deposit's reference is
//	                                             credited once (<ref> canonical: NFKC, case-folded)
package accounts

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"minipay/shared/capabilities/savings"
	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
	"minipay/shared/kernel/money"
)

// Movement types as they appear in history (a charge is ledger.TypeCharge).
const (
	TypeWithdrawal      = "withdrawal"
	TypeOperatorDeposit = "operator_deposit"
)

// LabelOperator is how history names the external payment system (the
// bank is ledger.LabelBank).
const LabelOperator = "external payment"

// ReferenceCreditedError: an operator deposit's reference was credited
// before, by the movement named.
type ReferenceCreditedError struct {
	Reference  string
	MovementID string
}

const codeRefCredited = "reference_already_credited"

func init() { domainerr.Register(codeRefCredited) }

func (e *ReferenceCreditedError) Error() string     { return codeRefCredited + ": " + e.DetailText() }
func (e *ReferenceCreditedError) ErrorCode() string { return codeRefCredited }
func (e *ReferenceCreditedError) DetailText() string {
	return fmt.Sprintf("reference %q was already credited by movement %s", e.Reference, e.MovementID)
}
func (e *ReferenceCreditedError) Members() map[string]any {
	return map[string]any{"movementId": e.MovementID, "reference": e.Reference}
}

// AccountList is what GET /accounts returns.
type AccountList struct {
	Accounts []ledger.Account `json:"accounts"`
}

// ListAccounts is GET /accounts.
func ListAccounts(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "list-accounts", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		accounts, err := d.Ledger.ListAccounts(ctx, r.Caller)
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, AccountList{Accounts: accounts})
	})
}

// AccountResponse is GET /accounts/{id}: the account, and a savings
// account's product (principal and interest apart, next debit, maturity).
type AccountResponse struct {
	ledger.Account
	Savings *savings.Details `json:"savings,omitempty"`
}

// GetAccount is GET /accounts/{id}. A savings account's product item is
// read at the same time as the account (one round trip of latency).
func GetAccount(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "get-account", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		id, err := AccountID(r)
		if err != nil {
			return nil, err
		}
		var product *savings.Account
		wait := func() error { return nil }
		if ddb.ValidID(id, "s_") {
			wait = httpapi.Async(func() (err error) {
				product, err = savings.Get(ctx, d.Table, r.Caller, id)
				return err
			})
		}
		a, err := d.Ledger.GetAccount(ctx, r.Caller, id)
		if perr := wait(); err == nil {
			err = perr
		}
		resp := AccountResponse{Account: a}
		if product != nil {
			resp.Savings = product.Details()
		}
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, resp)
	})
}

// AmountRequest is the body of every simple money movement.
type AmountRequest struct {
	Amount httpapi.Won  `json:"amount" openapi:"required" doc:"whole won, a JSON integer"`
	Memo   httpapi.Memo `json:"memo" doc:"a note for the history"`
}

// amountRequest is the account the path names and the body of a simple
// money movement.
func amountRequest(r *httpapi.Request) (string, AmountRequest, error) {
	var in AmountRequest
	id, err := AccountID(r)
	if err == nil {
		err = r.Decode(&in)
	}
	return id, in, err
}

// Charge is POST /accounts/{id}/charges: money in from the user's bank into
// their main account, counted against the daily limit in the same
// transaction. Every refusal, an amount above the whole day's limit
// included, comes from that transaction and says what is left today.
func Charge(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "charge", httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		id, in, err := amountRequest(r)
		if err != nil {
			return nil, err
		}
		now, amount := d.Clock.Now(), in.Amount.Int64()
		m := ledger.BankCharge(r.Caller, ledger.NewMovementID(now), amount, now, string(in.Memo))
		m.To = ledger.UserAccount(r.Caller, id)
		// In place: only the owner's own requests write the account's item
		// (others credit it by posting), and the day's charge counter
		// serializes the owner's charges anyway. So a charge is one write
		// and the owner's next spend has nothing to fold.
		m.CreditInPlace = true
		tx := &ledger.Tx{}
		tx.Move(m)
		tx.ChargeLimit(r.Caller, now, amount, money.DailyChargeLimit)
		return httpapi.Moved(m, tx), nil
	}))
}

// Withdraw is POST /accounts/{id}/withdrawals: main account out to the bank.
func Withdraw(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "withdraw", httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		id, in, err := amountRequest(r)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now()
		m := ledger.Movement{
			ID: ledger.NewMovementID(now), Type: TypeWithdrawal, Amount: in.Amount.Int64(), Memo: string(in.Memo), At: now,
			From: ledger.UserAccount(r.Caller, id), FromKind: ledger.KindMain, FromLabel: r.Caller,
			To: ledger.ExternalAccount(r.Caller), ToLabel: ledger.LabelBank,
		}
		tx := &ledger.Tx{}
		tx.Move(m)
		return httpapi.Moved(m, tx), nil
	}))
}

// OperatorDepositRequest is the body of POST /operator/deposits.
type OperatorDepositRequest struct {
	UserID    string            `json:"userId" openapi:"required" doc:"the user whose main account is credited"`
	Amount    httpapi.Won       `json:"amount" openapi:"required" doc:"whole won, a JSON integer"`
	Reference httpapi.Reference `json:"reference" openapi:"required" doc:"the payment system's reference: credited once, whatever the Idempotency-Key; compared and kept in its canonical form (NFKC, case-folded: PG-7781 and pg-7781 are one reference)"`
}

// OperatorDeposit is POST /operator/deposits {userId, amount, reference}:
// the external payment system credits a user's main account. It does not
// count against the user's charge limit. A reference is credited once:
// the same reference again (whatever its Idempotency-Key) is refused with
// the first movement's id, decided inside the transaction. "The same"
// means the same canonical form (httpapi.Identifier: NFKC, case-folded),
// which is what the PAYREF key, the memo and the answers carry.
func OperatorDeposit(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "operator-deposit", httpapi.MoneyBody(d, func(ctx context.Context, r *httpapi.Request, in OperatorDepositRequest) (*httpapi.Movement, error) {
		if !users.ValidUserID(in.UserID) {
			return nil, domainerr.Field("userId", "userId must be a user id such as u_0123456789abcdef")
		}
		amount, ref := in.Amount.Int64(), string(in.Reference)
		now := d.Clock.Now()
		m := ledger.Movement{
			ID: ledger.NewMovementID(now), Type: TypeOperatorDeposit, Amount: amount, Memo: ref, Reference: "payment " + ref, At: now,
			From: ledger.ExternalAccount(in.UserID), FromLabel: LabelOperator,
			To: ledger.MainAccount(in.UserID), ToKind: ledger.KindMain, ToLabel: in.UserID,
		}
		tx := &ledger.Tx{}
		tx.Move(m)
		refItem := ddb.Key("PAYREF#"+ref, "PAYREF")
		refItem["movementId"] = ddb.S(m.ID)
		refItem["userId"] = ddb.S(in.UserID)
		refItem["amount"] = ddb.N(amount)
		refItem["at"] = ddb.Time(now)
		tx.Put(refItem, ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(old ddb.Item) error {
			return &ReferenceCreditedError{Reference: ref, MovementID: ddb.Decode(old).S("movementId")}
		})
		return httpapi.Moved(m, tx), nil
	}))
}

// EntryList is a page of GET /accounts/{id}/entries.
type EntryList struct {
	Entries    []ledger.Entry `json:"entries"`
	NextCursor string         `json:"nextCursor,omitempty" doc:"the cursor of the next page; absent on the last page"`
}

// ListEntries is GET /accounts/{id}/entries?limit=&cursor=&from=&to=&direction=in|out.
func ListEntries(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "list-entries", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		id, err := AccountID(r)
		if err != nil {
			return nil, err
		}
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		q := ledger.EntryQuery{AccountID: id, Page: page}
		switch dir := r.QueryParam("direction"); dir {
		case "", ledger.DirectionIn, ledger.DirectionOut:
			q.Direction = dir
		default:
			return nil, domainerr.Field("direction", "direction must be %q or %q", ledger.DirectionIn, ledger.DirectionOut)
		}
		for _, f := range []struct {
			name string
			dst  *time.Time
		}{{"from", &q.From}, {"to", &q.To}} {
			if s := r.QueryParam(f.name); s != "" {
				// An unescaped "+09:00" in a query string arrives as " 09:00".
				t, err := time.Parse(time.RFC3339, strings.Replace(s, " ", "+", 1))
				if err != nil || t.Year() < 2000 || t.Year() > 9999 {
					return nil, domainerr.Field(f.name, "%s must be an RFC 3339 time such as 2026-11-22T09:00:00+09:00", f.name)
				}
				*f.dst = t
			}
		}
		// The ownership check and the page are independent: read both at
		// once so the request costs one round trip of latency.
		var entries []ledger.Entry
		var next string
		wait := httpapi.Async(func() (err error) {
			entries, next, err = d.Ledger.ListEntries(ctx, q)
			return err
		})
		shards, ownErr := d.Ledger.OwnsAccount(ctx, r.Caller, id)
		err = wait()
		if ownErr != nil {
			return nil, ownErr
		}
		if shards > 1 {
			// A high-volume receiver's history is spread over shards: the
			// page merges them (a second round trip, for such accounts only).
			q.Shards = shards
			entries, next, err = d.Ledger.ListEntries(ctx, q)
		}
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, EntryList{Entries: entries, NextCursor: next})
	})
}

// AccountID reads and checks the {id} path parameter. A malformed id cannot
// name any account: 404, as for any account that is not the caller's.
func AccountID(r *httpapi.Request) (string, error) {
	id := r.PathParam("id")
	// "ma_" / "mr_": a store's merchant and reserve accounts (shared/capabilities/merchant), listed by GET
	// /accounts with the owner's other accounts.
	if !ddb.ValidID(id, "m_") && !ddb.ValidID(id, "s_") && !ddb.ValidID(id, "ma_") && !ddb.ValidID(id, "mr_") {
		return "", ledger.ErrAccountNotFound.With("no account %q", id)
	}
	return id, nil
}
