package ledger_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

var ctx = context.Background()

// kindSavings stands for a capability's account kind.
const kindSavings ledger.Kind = "savings"

type user struct{ ID string }

// register creates a user's main account (what registration does to the ledger).
func register(t testing.TB, e *ddbtest.Env, name string) user {
	t.Helper()
	u := user{ID: ddb.NewID("u_")}
	tx := &ledger.Tx{}
	tx.CreateAccount(ledger.Account{ID: ledger.MainAccountID(u.ID), Owner: u.ID, Kind: ledger.KindMain, Name: name, CreatedAt: e.Clock.Now()}, nil)
	if err := e.Ledger.Commit(ctx, tx); err != nil {
		t.Fatal(err)
	}
	return u
}

// openSavings creates another account of the user's.
func openSavings(t testing.TB, e *ddbtest.Env, u user) ledger.AccountRef {
	t.Helper()
	id := ddb.NewID("s_")
	tx := &ledger.Tx{}
	tx.CreateAccount(ledger.Account{ID: id, Owner: u.ID, Kind: kindSavings, Name: "savings", CreatedAt: e.Clock.Now()}, nil)
	if err := e.Ledger.Commit(ctx, tx); err != nil {
		t.Fatal(err)
	}
	return ledger.UserAccount(u.ID, id)
}

// charge builds the same transaction as the charge endpoint.
func charge(uid string, amount int64, at time.Time) *ledger.Tx {
	tx := &ledger.Tx{}
	tx.Move(ledger.BankCharge(uid, ledger.NewMovementID(at), amount, at, ""))
	tx.ChargeLimit(uid, at, amount, 3_000_000)
	return tx
}

func move(from, to ledger.AccountRef, fromKind, toKind ledger.Kind, amount int64, at time.Time) *ledger.Tx {
	tx := &ledger.Tx{}
	tx.Move(ledger.Movement{ID: ledger.NewMovementID(at), Type: "test", Amount: amount, At: at,
		From: from, FromKind: fromKind, To: to, ToKind: toKind})
	return tx
}

func account(t testing.TB, e *ddbtest.Env, a ledger.AccountRef) ledger.Account {
	t.Helper()
	acct, err := e.Ledger.GetAccount(ctx, a.Owner, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return acct
}

func balance(t testing.TB, e *ddbtest.Env, a ledger.AccountRef) int64 {
	t.Helper()
	return account(t, e, a).Available
}

func chargedToday(t testing.TB, e *ddbtest.Env, uid string) int64 {
	t.Helper()
	item, err := e.Table.Get(ctx, ddb.Key("USER#"+uid, "LIMIT#"+clock.KSTDate(e.Clock.Now())))
	if err != nil {
		t.Fatal(err)
	}
	return ddb.Decode(item).N("charged")
}

func TestCancellationReasonsAreClassified(t *testing.T) {
	e := ddbtest.New(t)
	now := e.Clock.Now()
	kim := register(t, e, "Kim")
	lee := register(t, e, "Lee")
	kimSavings := openSavings(t, e, kim)
	if err := e.Ledger.Commit(ctx, charge(kim.ID, 50_000, now)); err != nil {
		t.Fatal(err)
	}
	kimMain, leeMain := ledger.MainAccount(kim.ID), ledger.MainAccount(lee.ID)
	tests := []struct {
		name string
		tx   *ledger.Tx
		want error
	}{
		{"overdraft", move(kimMain, leeMain, "", "", 50_001, now), ledger.ErrInsufficientFunds},
		{"debit from a missing account", move(ledger.MainAccount(ddb.NewID("u_")), leeMain, "", "", 1, now), ledger.ErrAccountNotFound},
		{"credit to a missing account", move(kimMain, ledger.MainAccount(ddb.NewID("u_")), "", "", 1, now), ledger.ErrAccountNotFound},
		{"someone else's account is not under my key", move(kimMain, ledger.UserAccount(kim.ID, ledger.MainAccountID(lee.ID)), "", "", 1, now), ledger.ErrAccountNotFound},
		{"debit needs main, savings given", move(kimSavings, leeMain, ledger.KindMain, "", 1, now), ledger.ErrWrongKind},
		{"credit needs savings, main given", move(kimMain, leeMain, "", kindSavings, 1, now), ledger.ErrWrongKind},
		{"over the daily limit", charge(kim.ID, 2_950_001, now), ledger.ErrLimitExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Ledger.Commit(ctx, tc.tx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if got := balance(t, e, kimMain); got != 50_000 {
		t.Fatalf("refused movements changed the balance: %d", got)
	}
	// The limit error says how much is left.
	err := e.Ledger.Commit(ctx, charge(kim.ID, 2_950_001, now))
	var limit *ledger.LimitExceededError
	if !errors.As(err, &limit) || limit.Remaining != 2_950_000 || limit.Limit != 3_000_000 {
		t.Fatalf("limit error = %v", err)
	}
}

func TestDailyLimitUnderConcurrency(t *testing.T) {
	e := ddbtest.New(t)
	kim := register(t, e, "Kim")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, limited := 0, 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.Ledger.Commit(ctx, charge(kim.ID, 100_000, e.Clock.Now()))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ledger.ErrLimitExceeded):
				limited++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 30 || limited != 20 {
		t.Fatalf("succeeded %d, limited %d; want 30 and 20", ok, limited)
	}
	if charged := chargedToday(t, e, kim.ID); charged != 3_000_000 {
		t.Fatalf("counter %d, want 3,000,000", charged)
	}
}

func TestDailyLimitResetsAtMidnightKST(t *testing.T) {
	e := ddbtest.New(t)
	kim := register(t, e, "Kim")
	lastMinute := time.Date(2026, 11, 22, 23, 59, 0, 0, time.FixedZone("KST", 9*3600))
	tests := []struct {
		at   time.Time
		want error
	}{
		{lastMinute, nil}, // 3,000,000 on the 22nd
		{lastMinute.Add(59 * time.Second), ledger.ErrLimitExceeded}, // 23:59:59 is still the 22nd
		{lastMinute.Add(60 * time.Second), nil},                     // 00:00 KST: a new day
		{lastMinute.Add(61 * time.Second), ledger.ErrLimitExceeded},
	}
	for i, tc := range tests {
		err := e.Ledger.Commit(ctx, charge(kim.ID, 3_000_000, tc.at))
		if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Fatalf("step %d at %s: got %v, want %v", i, tc.at, err, tc.want)
		}
	}
	if got := balance(t, e, ledger.MainAccount(kim.ID)); got != 6_000_000 {
		t.Fatalf("balance %d, want 6,000,000", got)
	}
}

func TestConcurrentDebitsNeverOverdraw(t *testing.T) {
	e := ddbtest.New(t)
	kim := register(t, e, "Kim")
	savings := openSavings(t, e, kim)
	if err := e.Ledger.Commit(ctx, charge(kim.ID, 100_000, e.Clock.Now())); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.Ledger.Commit(ctx, move(ledger.MainAccount(kim.ID), savings, ledger.KindMain, kindSavings, 7_000, e.Clock.Now()))
			if err != nil && !errors.Is(err, ledger.ErrInsufficientFunds) {
				t.Error(err)
			}
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 14 { // 14 * 7,000 = 98,000 <= 100,000 < 15 * 7,000
		t.Fatalf("%d deposits succeeded, want 14", ok)
	}
	if got := balance(t, e, ledger.MainAccount(kim.ID)); got != 2_000 {
		t.Fatalf("main has %d, want 2,000", got)
	}
}

func TestConflictsAreRetriedWithTheSameToken(t *testing.T) {
	tests := []struct {
		name       string
		conflicts  int64
		applyFirst bool
		wantErr    error
		wantMoved  int64
	}{
		{"a few conflicts, then success", 3, false, nil, 10_000},
		{"first attempt applied but its answer lost", 1, true, nil, 10_000},
		{"conflicts outlast the retries", 100, false, ledger.ErrBusy, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			faulty := &ddbtest.Faulty{ApplyFirst: tc.applyFirst}
			e := ddbtest.New(t, func(db ddb.Client) ddb.Client { faulty.Client = db; return faulty })
			e.Ledger.SetRetryPolicy(5, time.Millisecond)
			kim := register(t, e, "Kim")
			faulty.Conflicts.Store(tc.conflicts)
			err := e.Ledger.Commit(ctx, charge(kim.ID, 10_000, e.Clock.Now()))
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if got := balance(t, e, ledger.MainAccount(kim.ID)); got != tc.wantMoved {
				t.Fatalf("moved %d, want %d", got, tc.wantMoved)
			}
			tokens := faulty.Tokens[1:] // the first call created Kim's account
			for _, tok := range tokens {
				if tok != tokens[0] {
					t.Fatalf("retries used different request tokens: %v", tokens)
				}
			}
			if tc.wantErr == nil && len(tokens) != int(tc.conflicts)+1 {
				t.Fatalf("%d attempts, want %d", len(tokens), tc.conflicts+1)
			}
		})
	}
}

func TestIdempotencyRecordInTheTransaction(t *testing.T) {
	e := ddbtest.New(t)
	kim := register(t, e, "Kim")
	now := e.Clock.Now()
	key := ledger.IdemKey{Scope: kim.ID, Key: "k1", RequestHash: "h1"}
	resp := ledger.StoredResponse{Status: 201, Body: []byte(`{"first":true}`)}
	for i := 0; i < 3; i++ {
		tx := charge(kim.ID, 10_000, now)
		tx.Idempotency(key, ledger.StoredResponse{Status: 201, Body: []byte(`{"attempt":` + string(rune('0'+i)) + `}`)}, now)
		err := e.Ledger.Commit(ctx, tx)
		var replay *ledger.Replay
		switch {
		case i == 0 && err != nil:
			t.Fatal(err)
		case i > 0 && !errors.As(err, &replay):
			t.Fatalf("attempt %d: %v, want a replay", i, err)
		case i > 0 && string(replay.Response.Body) != `{"attempt":0}`:
			t.Fatalf("replayed %s", replay.Response.Body)
		}
	}
	_ = resp
	// Same key, different request: refused.
	tx := charge(kim.ID, 10_000, now)
	tx.Idempotency(ledger.IdemKey{Scope: kim.ID, Key: "k1", RequestHash: "other"}, resp, now)
	if err := e.Ledger.Commit(ctx, tx); !errors.Is(err, ledger.ErrIdemKeyReused) {
		t.Fatalf("got %v, want idempotency_key_reused", err)
	}
	// After the retention, the key may be used again.
	later := now.Add(ledger.IdempotencyRetention + time.Second)
	tx = charge(kim.ID, 10_000, later)
	tx.Idempotency(key, resp, later)
	e.Clock.Set(later)
	if err := e.Ledger.Commit(ctx, tx); err != nil {
		t.Fatalf("expired key not reusable: %v", err)
	}
	if got := balance(t, e, ledger.MainAccount(kim.ID)); got != 20_000 {
		t.Fatalf("balance %d, want 20,000", got)
	}
}

func TestConflictOnTheIdempotencyRecordMeansInFlight(t *testing.T) {
	faulty := &ddbtest.Faulty{}
	e := ddbtest.New(t, func(db ddb.Client) ddb.Client { faulty.Client = db; return faulty })
	e.Ledger.SetRetryPolicy(3, time.Millisecond)
	kim := register(t, e, "Kim")
	tx := charge(kim.ID, 10_000, e.Clock.Now())
	faulty.ConflictItem = tx.Len() // the record is added last
	tx.Idempotency(ledger.IdemKey{Scope: kim.ID, Key: "k", RequestHash: "h"}, ledger.StoredResponse{Status: 201}, e.Clock.Now())
	faulty.Conflicts.Store(100)
	if err := e.Ledger.Commit(ctx, tx); !errors.Is(err, ledger.ErrIdemInFlight) {
		t.Fatalf("got %v, want idempotency_key_in_use", err)
	}
	if got := balance(t, e, ledger.MainAccount(kim.ID)); got != 0 {
		t.Fatalf("moved %d", got)
	}
}
