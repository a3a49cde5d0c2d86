// Package savings is the savings capability: savings accounts with a
// product (free or fixed installment savings), daily simple interest paid
// at 04:00 Asia/Seoul from an interest-expense system account, fixed
// installments debited at 08:00 Asia/Seoul (with the automatic charge of a
// shortfall), maturity and early closing. The money lives in the kernel's
// savings account (ledger kind "savings"); this package owns the product
// item beside it, where principal and interest are kept apart.
//
//	item             PK            SK                   notes
//	product item     USER#<uid>    SAVINGS#<aid>        product, rateBp, termMonths, installment, openDate,
//	                                                    maturityDate, status, principal, interestPaid, carry,
//	                                                    accruedThrough, basePrincipal, closes (map: date ->
//	                                                    principal at that day's end), version, nextDebit,
//	                                                    installmentsPaid/Missed, shard; due at
//	                                                    DUE#interest#<shard> (04:00 after the next unpaid day) while open
//	installment item USER#<uid>    SAVINGS#<aid>#DEBIT  fixed products: installment, nextDebit (date), maturityDate;
//	                                                    due at DUE#installment#<shard> (08:00 of nextDebit)
//	savings counter  USER#<uid>    ACCOUNTS             savingsCount: the user's open savings accounts; opening
//	                                                    adds one (refused at the cap), closing or maturing takes
//	                                                    one off, each in its own transaction: the cap holds
//	                                                    under concurrency and a closed account frees its slot
//
// Access patterns: GET of an account reads its product item by key (the
// owner is in the key, so someone else's account is simply not found);
// the jobs read one shard of the due index per message (ForEachDue).
//
// Rules the transactions enforce:
//   - Every change of principal (deposit, installment) is one transaction
//     with its money: principal += amount, closes[today] = the new
//     principal, version += 1, on the condition that the account is open
//     and today is after the last accrued day (a closed day never changes).
//   - Interest is paid one day per transaction (days that pay 0 won join the
//     next paying day's): the day's movement from the interest-expense
//     account and the product item's accruedThrough, carry, basePrincipal
//     and interestPaid, conditioned on the version it was computed from. So each account-day is paid at most
//     once, whoever runs the job how often, and a missed day is paid on its
//     own closing principal.
//   - An installment is conditioned on the installment item's nextDebit =
//     that date: each day is debited (or recorded missed) at most once.
package savings

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/capabilities/notify"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
	"minipay/shared/kernel/money"
)

// KindSavings is a user's savings account (a kernel account kind).
const KindSavings ledger.Kind = "savings"

// Product is a savings product's configuration. Rates are basis points a
// year (100 bp = 1 %), simple interest on principal only.
type Product struct {
	Name        string
	RateBP      int64
	Installment bool // fixed installment savings: debited daily at 08:00
	TermMonths  int  // default term
}

// Product names.
const (
	ProductFree  = "free"
	ProductFixed = "fixed"
)

// Products is the product configuration. An account keeps the rate it was
// opened with: changing a rate here changes new accounts only.
var Products = map[string]Product{
	ProductFree:  {Name: ProductFree, RateBP: 300, TermMonths: 12},
	ProductFixed: {Name: ProductFixed, RateBP: 500, Installment: true, TermMonths: 12},
}

// Limits.
const (
	MaxSavingsAccounts = 20 // open at once: closing or maturing one frees its slot
	MinTermMonths      = 1
	MaxTermMonths      = 60
	// MaxInstallment caps a fixed product's daily installment.
	MaxInstallment int64 = 1_000_000
	// MaxPrincipal caps what one savings account may hold in principal.
	MaxPrincipal = money.MaxAmount
)

// Job times, Asia/Seoul.
const (
	InterestHour    = 4
	InstallmentHour = 8
)

// Shards divides the due index of each job: the scheduled job sends one
// message per shard, and each message is one worker's pass.
const Shards = 64

// Account statuses.
const (
	StatusOpen    = "open"
	StatusMatured = "matured"
	StatusClosed  = "closed"
)

// Movement types in history.
const (
	TypeDeposit     = "savings_deposit"
	TypeInstallment = "savings_installment"
	TypeInterest    = "savings_interest"
	TypeMaturity    = "savings_maturity"
	TypeClosing     = "savings_closing"
)

// Notification types.
const (
	NotifMatured           = "savings_matured"
	NotifClosed            = "savings_closed"
	NotifInstallmentMissed = "savings_installment_missed"
)

// Refusals.
var (
	ErrTooManyAccounts    = domainerr.New("too_many_accounts")
	ErrClosed             = domainerr.New("savings_account_closed")
	ErrDepositNotAllowed  = domainerr.New("savings_deposit_not_allowed")
	ErrPrincipalLimit     = domainerr.New("savings_principal_limit")
	errStale              = &staleError{}
	errNotDue             = fmt.Errorf("savings: no longer due")
	dueInterest           = "interest"
	dueInstallment        = "installment"
	skProduct             = "SAVINGS#"
	skDebitSuffix         = "#DEBIT"
	attrStatus            = "status"
	movementsPerTx        = 1 // paying days per transaction: DynamoDB takes one operation per item, and each day's credit is its own movement
	interestAccountPrefix = "sys_interest_"
)

// staleError: the product item changed since it was read; read it again.
type staleError struct{}

func (*staleError) Error() string   { return "savings: the account changed; read it again" }
func (*staleError) Transient() bool { return true }

// ShardOf is the due-index shard of an account.
func ShardOf(accountID string) int { return ddb.HashShard(accountID, Shards) }

// InterestAccount is the interest-expense system account of a shard: the
// world outside that pays the interest (may go negative). One per shard,
// so the shards' workers never write the same item.
func InterestAccount(shard int) ledger.AccountRef {
	return ledger.Outside(fmt.Sprintf("%s%02d", interestAccountPrefix, shard))
}

func dueKind(job string, shard int) string { return fmt.Sprintf("%s#%02d", job, shard) }

func productKey(owner, id string) ddb.Item { return ddb.Key(ledger.UserPK(owner), skProduct+id) }
func debitKey(owner, id string) ddb.Item {
	return ddb.Key(ledger.UserPK(owner), skProduct+id+skDebitSuffix)
}

// Account is a savings account's product item.
type Account struct {
	ID, Owner, Product string
	RateBP             int64
	TermMonths         int
	Installment        int64
	OpenDate           string
	MaturityDate       string
	OpenedAt           time.Time
	Status             string
	Principal          int64
	InterestPaid       int64
	Carry              int64
	AccruedThrough     string
	log                principalLog
	Version            int64
	NextDebit          string
	InstallmentsPaid   int64
	InstallmentsMissed int64
	ClosedAt           time.Time
	Payout             int64
	Shard              int
	// Uncounted: not on the savings counter (seeded by the bench), so its
	// end takes nothing off it.
	Uncounted bool
}

func (a Account) ref() ledger.AccountRef { return ledger.UserAccount(a.Owner, a.ID) }

// Details is what GET /accounts/{id} adds for a savings account.
type Details struct {
	Product    string `json:"product"`
	RateBP     int64  `json:"rateBp"`
	TermMonths int    `json:"termMonths"`
	// Installment is a fixed product's daily amount.
	Installment  int64  `json:"installment,omitempty"`
	Status       string `json:"status"`
	Principal    int64  `json:"principal"`
	InterestPaid int64  `json:"interestPaid"`
	// InterestPaidThrough is the last day whose interest was paid.
	InterestPaidThrough string `json:"interestPaidThrough,omitempty"`
	// NextDebitAt is a fixed product's next installment (08:00 Asia/Seoul).
	NextDebitAt        *time.Time `json:"nextDebitAt,omitempty"`
	InstallmentsPaid   int64      `json:"installmentsPaid,omitempty"`
	InstallmentsMissed int64      `json:"installmentsMissed,omitempty"`
	OpenDate           string     `json:"openDate"`
	MaturityDate       string     `json:"maturityDate"`
	ClosedAt           *time.Time `json:"closedAt,omitempty"`
	// Payout is what moved to the main account at maturity or closing.
	Payout int64 `json:"payout,omitempty"`
}

// Details is the client's view of the product item.
func (a Account) Details() *Details {
	d := &Details{Product: a.Product, RateBP: a.RateBP, TermMonths: a.TermMonths, Installment: a.Installment, Status: a.Status,
		Principal: a.Principal, InterestPaid: a.InterestPaid, InstallmentsPaid: a.InstallmentsPaid,
		InstallmentsMissed: a.InstallmentsMissed, OpenDate: a.OpenDate, MaturityDate: a.MaturityDate, Payout: a.Payout}
	if a.AccruedThrough >= a.OpenDate {
		d.InterestPaidThrough = a.AccruedThrough
	}
	if a.Status == StatusOpen && a.NextDebit != "" && a.NextDebit < a.MaturityDate {
		t := at(a.NextDebit, InstallmentHour, 0).UTC()
		d.NextDebitAt = &t
	}
	if !a.ClosedAt.IsZero() {
		t := a.ClosedAt.UTC()
		d.ClosedAt = &t
	}
	return d
}

func (a Account) item() ddb.Item {
	item := productKey(a.Owner, a.ID)
	item["accountId"] = ddb.S(a.ID)
	item["owner"] = ddb.S(a.Owner)
	item["product"] = ddb.S(a.Product)
	item["rateBp"] = ddb.N(a.RateBP)
	item["termMonths"] = ddb.N(int64(a.TermMonths))
	if a.Installment > 0 {
		item["installment"] = ddb.N(a.Installment)
		item["nextDebit"] = ddb.S(a.NextDebit)
	}
	item["openDate"] = ddb.S(a.OpenDate)
	item["maturityDate"] = ddb.S(a.MaturityDate)
	item["openedAt"] = ddb.Time(a.OpenedAt)
	item[attrStatus] = ddb.S(a.Status)
	item["principal"] = ddb.N(a.Principal)
	item["interestPaid"] = ddb.N(a.InterestPaid)
	item["carry"] = ddb.N(a.Carry)
	item["accruedThrough"] = ddb.S(a.AccruedThrough)
	item["basePrincipal"] = ddb.N(a.log.base)
	closes := map[string]types.AttributeValue{}
	for d, p := range a.log.closes {
		closes[d] = ddb.N(p)
	}
	item["closes"] = &types.AttributeValueMemberM{Value: closes}
	item["version"] = ddb.N(a.Version)
	item["installmentsPaid"] = ddb.N(a.InstallmentsPaid)
	item["installmentsMissed"] = ddb.N(a.InstallmentsMissed)
	item["shard"] = ddb.N(int64(a.Shard))
	if a.Uncounted {
		item["uncounted"] = ddb.Bool(true)
	}
	if a.Status == StatusOpen {
		ddb.SetDue(item, dueKind(dueInterest, a.Shard), a.nextInterestDue(a.AccruedThrough), a.ID)
	}
	return item
}

// nextInterestDue is when the day after through can be paid: 04:00 of the
// day after it; the maturity itself is due at 04:00 of the maturity date.
func (a Account) nextInterestDue(through string) time.Time {
	next := addDays(through, 1)
	if next >= a.MaturityDate {
		return at(a.MaturityDate, InterestHour, 0)
	}
	return at(addDays(next, 1), InterestHour, 0)
}

func fromItem(item ddb.Item) (Account, error) {
	d := ddb.Decode(item)
	a := Account{ID: d.MustS("accountId"), Owner: d.MustS("owner"), Product: d.MustS("product"), RateBP: d.MustN("rateBp"),
		TermMonths: int(d.MustN("termMonths")), Installment: d.N("installment"), NextDebit: d.S("nextDebit"),
		OpenDate: d.MustS("openDate"), MaturityDate: d.MustS("maturityDate"), OpenedAt: d.MustTime("openedAt"),
		Status: d.MustS(attrStatus), Principal: d.MustN("principal"), InterestPaid: d.MustN("interestPaid"),
		Carry: d.MustN("carry"), AccruedThrough: d.MustS("accruedThrough"), Version: d.MustN("version"),
		InstallmentsPaid: d.N("installmentsPaid"), InstallmentsMissed: d.N("installmentsMissed"),
		ClosedAt: d.Time("closedAt"), Payout: d.N("payout"), Shard: int(d.MustN("shard")), Uncounted: d.Bool("uncounted")}
	a.log.base = d.MustN("basePrincipal")
	if err := d.Err(); err != nil {
		return Account{}, err
	}
	a.log.closes = map[string]int64{}
	if m, ok := item["closes"].(*types.AttributeValueMemberM); ok {
		for day, v := range m.Value {
			n, ok := v.(*types.AttributeValueMemberN)
			var p int64
			if ok {
				_, err := fmt.Sscan(n.Value, &p)
				ok = err == nil
			}
			if _, err := parseDate(day); !ok || err != nil {
				return Account{}, fmt.Errorf("savings: account %s: bad closes entry %q", a.ID, day)
			}
			a.log.closes[day] = p
		}
	} else {
		return Account{}, fmt.Errorf("savings: account %s: no closes map", a.ID)
	}
	for _, s := range []string{a.OpenDate, a.MaturityDate, a.AccruedThrough} {
		if _, err := parseDate(s); err != nil {
			return Account{}, err
		}
	}
	if a.NextDebit != "" {
		if _, err := parseDate(a.NextDebit); err != nil {
			return Account{}, err
		}
	}
	if a.Carry < 0 || a.Carry >= CarryUnit || a.Shard < 0 || a.Shard >= Shards {
		return Account{}, fmt.Errorf("savings: account %s: carry %d, shard %d out of range", a.ID, a.Carry, a.Shard)
	}
	return a, nil
}

// Get reads the caller's savings account's product item (nil: none).
func Get(ctx context.Context, table *ddb.Table, owner, id string) (*Account, error) {
	return accountOf(table.Get(ctx, productKey(owner, id)))
}

// accountOf is the account of a product item read (nil: none).
func accountOf(item ddb.Item, err error) (*Account, error) {
	if err != nil || item == nil {
		return nil, err
	}
	a, err := fromItem(item)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// ---- opening ----

// OpenRequest is POST /accounts.
type OpenRequest struct {
	// Kind, if given, must be "savings".
	Kind string            `json:"kind,omitempty"`
	Name httpapi.NameField `json:"name,omitempty"`
	// Product is "free" (the default) or "fixed".
	Product string `json:"product,omitempty"`
	// Installment is the fixed product's daily amount (required for it,
	// refused for the free product).
	Installment httpapi.AmountField `json:"installment,omitempty"`
	// TermMonths is the term, 1-60 (default 12).
	TermMonths httpapi.AmountField `json:"termMonths,omitempty"`
}

// OpenResponse is the new account.
type OpenResponse struct {
	ledger.Account
	Savings *Details `json:"savings"`
}

// Open is POST /accounts: a new savings account of a product, counted on
// the user's savings counter in the same transaction (the cap holds under
// concurrency). No product is the free product, as before products existed.
func Open(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "open-account", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		var in OpenRequest
		if err := r.DecodeOptional(&in); err != nil {
			return nil, err
		}
		if in.Kind != "" && in.Kind != string(KindSavings) {
			return nil, domainerr.Field("kind", "kind must be %q: every user already has exactly one main account", KindSavings)
		}
		name := string(in.Name)
		if name == "" {
			name = "savings"
		}
		if in.Product == "" {
			in.Product = ProductFree
		}
		p, ok := Products[in.Product]
		if !ok {
			names := make([]string, 0, len(Products))
			for n := range Products {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, domainerr.Field("product", "product must be one of %v", names)
		}
		term, err := httpapi.Int("termMonths", in.TermMonths, int64(p.TermMonths), MinTermMonths, MaxTermMonths)
		if err != nil {
			return nil, err
		}
		var installment int64
		switch {
		case p.Installment:
			if installment, err = httpapi.Amount("installment", in.Installment); err != nil {
				return nil, err
			}
			if installment > MaxInstallment {
				return nil, domainerr.Field("installment", "installment must be at most %d won a day", MaxInstallment)
			}
		case in.Installment != "":
			return nil, domainerr.Field("installment", "the %s product takes deposits at any time and has no installment; open a %q account to subscribe one", p.Name, ProductFixed)
		}
		now := d.Clock.Now().UTC()
		a := newAccount(ddb.NewID("s_"), r.Caller, p, int(term), installment, now)
		acct := ledger.Account{ID: a.ID, Owner: r.Caller, Kind: KindSavings, Name: name, CreatedAt: now}
		tx := &ledger.Tx{}
		CountSavings(tx, r.Caller)
		tx.CreateAccount(acct, nil)
		tx.Put(a.item(), ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(ddb.Item) error {
			return fmt.Errorf("savings: id collision for account %s", a.ID)
		})
		if a.Installment > 0 {
			tx.Put(a.debitItem(a.NextDebit), ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(ddb.Item) error {
				return fmt.Errorf("savings: id collision for account %s", a.ID)
			})
		}
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, OpenResponse{Account: acct, Savings: a.Details()})
	})
}

// newAccount is a savings account of product p opened at now: interest
// from the opening day (on its closing principal) to the day before
// maturity; a fixed product's first installment at the next 08:00.
func newAccount(id, owner string, p Product, term int, installment int64, now time.Time) Account {
	open := clock.KSTDate(now)
	a := Account{ID: id, Owner: owner, Product: p.Name, RateBP: p.RateBP, TermMonths: term, OpenDate: open,
		MaturityDate: at(open, 0, 0).AddDate(0, term, 0).Format(dateLayout), OpenedAt: now, Status: StatusOpen,
		AccruedThrough: addDays(open, -1), log: principalLog{closes: map[string]int64{}}, Shard: ShardOf(id)}
	if p.Installment {
		a.Installment = installment
		a.NextDebit = open
		if !now.Before(at(open, InstallmentHour, 0)) {
			a.NextDebit = addDays(open, 1)
		}
	}
	return a
}

func (a Account) debitItem(next string) ddb.Item {
	item := debitKey(a.Owner, a.ID)
	item["accountId"] = ddb.S(a.ID)
	item["owner"] = ddb.S(a.Owner)
	item["installment"] = ddb.N(a.Installment)
	item["nextDebit"] = ddb.S(next)
	item["maturityDate"] = ddb.S(a.MaturityDate)
	item["shard"] = ddb.N(int64(a.Shard))
	if next < a.MaturityDate {
		ddb.SetDue(item, dueKind(dueInstallment, a.Shard), at(next, InstallmentHour, 0), a.ID)
	}
	return item
}

func counterKey(userID string) ddb.Item { return ddb.Key(ledger.UserPK(userID), "ACCOUNTS") }

// CountSavings adds one to the user's count of open savings accounts,
// refusing to pass MaxSavingsAccounts (ErrTooManyAccounts).
func CountSavings(tx *ledger.Tx, userID string) {
	tx.Update(counterKey(userID), "ADD savingsCount :one", ledger.Cond{
		Expr:   "attribute_not_exists(savingsCount) OR savingsCount < :max",
		Values: ddb.Item{":one": ddb.N(1), ":max": ddb.N(MaxSavingsAccounts)},
	}, func(ddb.Item) error {
		return ErrTooManyAccounts.With("a user may have at most %d open savings accounts; closing one frees its slot", MaxSavingsAccounts)
	})
}

// ---- principal changes ----

// addPrincipal adds amount to the account's principal on day today, in
// the transaction that moves the money: the account must be open, of a
// product that takes it (fixed: installments only), with today not yet
// accrued. extra SET clauses and values join the update.
func addPrincipal(tx *ledger.Tx, owner, id string, amount int64, today string, installment bool, extra string, vals ddb.Item) {
	cond := "#st = :open AND accruedThrough < :today AND principal <= :room"
	if !installment {
		cond += " AND product <> :fixed"
	} else {
		cond += " AND product = :fixed"
	}
	v := ddb.Item{":a": ddb.N(amount), ":today": ddb.S(today), ":open": ddb.S(StatusOpen), ":one": ddb.N(1),
		":fixed": ddb.S(ProductFixed), ":room": ddb.N(MaxPrincipal - amount)}
	for k, x := range vals {
		v[k] = x
	}
	upd := "SET principal = principal + :a, closes.#today = principal + :a" + extra + " ADD version :one"
	if installment {
		upd += ", installmentsPaid :one"
	}
	tx.Update(productKey(owner, id), upd, ledger.Cond{Expr: cond, Values: v, Names: map[string]string{"#st": attrStatus, "#today": today}},
		func(old ddb.Item) error {
			if len(old) == 0 {
				return ledger.ErrAccountNotFound.With("you have no savings account %s", id)
			}
			dec := ddb.Decode(old)
			switch {
			case dec.S(attrStatus) != StatusOpen:
				return ErrClosed.With("savings account %s is %s", id, dec.S(attrStatus))
			case !installment && dec.S("product") == ProductFixed:
				return ErrDepositNotAllowed.With("a fixed installment savings account takes only its daily installment of %d won at 08:00", dec.N("installment"))
			case dec.N("principal") > MaxPrincipal-amount:
				return ErrPrincipalLimit.With("a savings account holds at most %d won of principal; it holds %d", MaxPrincipal, dec.N("principal"))
			}
			return errStale // today was accrued already: a clock behind the job's
		})
}

// DepositRequest is POST /accounts/{id}/deposits.
type DepositRequest struct {
	Amount httpapi.Won  `json:"amount" openapi:"required"`
	Memo   httpapi.Memo `json:"memo,omitempty"`
}

// Deposit is POST /accounts/{id}/deposits: main -> a free savings account,
// principal up by the amount, in one transaction. No auto-charge: a short
// main account is refused. A fixed product refuses deposits (its money
// comes by installment only).
func Deposit(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "deposit-savings", httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		id, err := accountID(r)
		if err != nil {
			return nil, err
		}
		var in DepositRequest
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		amount, memo := in.Amount.Int64(), string(in.Memo)
		now := d.Clock.Now()
		m := ledger.Movement{
			ID: ledger.NewMovementID(now), Type: TypeDeposit, Amount: amount, Memo: memo, At: now,
			From: ledger.MainAccount(r.Caller), FromKind: ledger.KindMain, FromLabel: "main account",
			To: ledger.UserAccount(r.Caller, id), ToKind: KindSavings, ToLabel: "savings account " + id,
			// A savings account is never busy: credited in place, no posting to fold.
			CreditInPlace: true,
		}
		tx := &ledger.Tx{}
		addPrincipal(tx, r.Caller, id, amount, clock.KSTDate(now), false, "", nil)
		tx.Move(m)
		return httpapi.Moved(m, tx), nil
	}))
}

// accountID reads {id}: a malformed id names no savings account (404).
func accountID(r *httpapi.Request) (string, error) {
	id := r.PathParam("id")
	if ddb.ValidID(id, "m_") {
		return "", &ledger.WrongKindError{Account: id, Kind: ledger.KindMain, Want: KindSavings}
	}
	if !ddb.ValidID(id, "s_") {
		return "", ledger.ErrAccountNotFound.With("no savings account %q", id)
	}
	return id, nil
}

// ---- maturity and closing ----

// uncountSavings takes one off the user's count of open savings accounts:
// in the transaction that ends an account, whose own condition (open, at
// the version read) makes it happen once per account. No condition of its
// own: a close is never refused for the counter.
func uncountSavings(tx *ledger.Tx, userID string) {
	tx.Update(counterKey(userID), "ADD savingsCount :m1", ledger.Cond{Values: ddb.Item{":m1": ddb.N(-1)}}, nil)
}

// payOut adds the end of the account: principal and interest paid move to
// the main account (if any), the product item is marked status at now (on
// the version read), the installment item goes, the account's slot under
// the cap is freed, and the owner is told.
func payOut(tx *ledger.Tx, a Account, status string, now time.Time) (ledger.Movement, int64) {
	amount := a.Principal + a.InterestPaid
	typ, notif, memo := TypeClosing, NotifClosed, "savings closed early"
	if status == StatusMatured {
		typ, notif, memo = TypeMaturity, NotifMatured, "savings matured"
	}
	tx.Update(productKey(a.Owner, a.ID), "SET #st = :status, closedAt = :now, payout = :amount REMOVE #b, #d ADD version :one",
		ledger.Cond{Expr: "#st = :open AND version = :v",
			Names:  map[string]string{"#st": attrStatus, "#b": ddb.AttrDuePK, "#d": ddb.AttrDueSK},
			Values: ddb.Item{":status": ddb.S(status), ":now": ddb.Time(now), ":amount": ddb.N(amount), ":one": ddb.N(1), ":open": ddb.S(StatusOpen), ":v": ddb.N(a.Version)}},
		func(old ddb.Item) error {
			if len(old) == 0 {
				return ledger.ErrAccountNotFound.With("you have no savings account %s", a.ID)
			}
			if st := ddb.Decode(old).S(attrStatus); st != StatusOpen {
				return ErrClosed.With("savings account %s is %s", a.ID, st)
			}
			return errStale
		})
	if a.Installment > 0 {
		tx.Delete(debitKey(a.Owner, a.ID), ledger.Cond{}, nil)
	}
	if !a.Uncounted {
		uncountSavings(tx, a.Owner)
	}
	m := ledger.Movement{ID: ledger.NewMovementID(now), Type: typ, Amount: amount, At: now, Memo: memo,
		Reference: "savings " + a.ID,
		From:      a.ref(), FromKind: KindSavings, FromLabel: "savings account " + a.ID,
		To: ledger.MainAccount(a.Owner), ToKind: ledger.KindMain, ToLabel: "main account"}
	if amount > 0 {
		tx.Move(m)
	}
	notify.Add(tx, notify.Notification{UserID: a.Owner, Type: notif, At: now, Data: map[string]any{
		"accountId": a.ID, "product": a.Product, "principal": a.Principal, "interestPaid": a.InterestPaid,
		"payout": amount, "maturityDate": a.MaturityDate, "movementId": m.ID,
	}})
	return m, amount
}

// CloseResponse is what closing returns (and replays).
type CloseResponse struct {
	AccountID string   `json:"accountId"`
	Savings   *Details `json:"savings"`
	// MovementID names the history entries of the payout ("" if nothing
	// was in the account).
	MovementID string `json:"movementId,omitempty"`
}

// Close is POST /accounts/{id}/close: the user ends the account before
// maturity. The principal and the interest paid so far move to the main
// account; interest accrued but not yet paid (today's, and the carry's
// fraction of a won) is forfeited.
func Close(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "close-savings", httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		if err := r.EmptyBody(); err != nil {
			return nil, err
		}
		id, err := accountID(r)
		if err != nil {
			return nil, err
		}
		var build func(ctx context.Context) (*httpapi.Movement, error)
		attempts := 0
		build = func(ctx context.Context) (*httpapi.Movement, error) {
			a, err := Get(ctx, d.Table, r.Caller, id)
			if err != nil {
				return nil, err
			}
			if a == nil {
				return nil, ledger.ErrAccountNotFound.With("you have no savings account %s", id)
			}
			if a.Status != StatusOpen {
				return nil, ErrClosed.With("savings account %s is %s", id, a.Status)
			}
			now := d.Clock.Now()
			tx := &ledger.Tx{}
			m, amount := payOut(tx, *a, StatusClosed, now)
			closed := *a
			closed.Status, closed.ClosedAt, closed.Payout = StatusClosed, now, amount
			body := CloseResponse{AccountID: id, Savings: closed.Details()}
			if amount > 0 {
				body.MovementID = m.ID
			}
			return &httpapi.Movement{Tx: tx, Status: http.StatusCreated, Body: body, Retry: func(ctx context.Context, err error) (*httpapi.Movement, error) {
				attempts++
				if err != errStale || attempts > 8 {
					return nil, err
				}
				return build(ctx) // a deposit, installment or interest landed: read again
			}}, nil
		}
		return build(ctx)
	}))
}

// SeedItem is the product item of a free account opened at openedAt with
// principal deposited that day, for seeding many accounts at once (the
// bench writes it with BatchWriteItem beside the kernel's account item).
func SeedItem(id, owner string, principal int64, openedAt time.Time) ddb.Item {
	a := newAccount(id, owner, Products[ProductFree], Products[ProductFree].TermMonths, 0, openedAt)
	a.Principal = principal
	a.Uncounted = true // no savings counter is seeded
	a.log.closes[a.OpenDate] = principal
	return a.item()
}
