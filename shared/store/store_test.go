package store_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"minipay/shared/problem"
	"minipay/shared/store"
	"minipay/shared/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

var ctx = context.Background()

func register(t testing.TB, st *store.Store, name string) store.User {
	t.Helper()
	u := store.User{ID: store.NewUserID(), Name: name, CreatedAt: time.Now()}
	if _, err := st.Register(ctx, u, store.NewToken()); err != nil {
		t.Fatal(err)
	}
	return u
}

// charge builds the same transaction as the charge endpoint.
func charge(uid string, amount int64, at time.Time) *store.Tx {
	tx := &store.Tx{}
	tx.Move(store.Movement{ID: store.NewMovementID(at), Type: "charge", Amount: amount, At: at,
		From: store.ExternalAccount(uid), To: store.MainAccount(uid), ToKind: store.KindMain})
	tx.ChargeLimit(uid, at, amount, 3_000_000)
	return tx
}

func move(from, to store.AccountRef, fromKind, toKind string, amount int64, at time.Time) *store.Tx {
	tx := &store.Tx{}
	tx.Move(store.Movement{ID: store.NewMovementID(at), Type: "test", Amount: amount, At: at,
		From: from, FromKind: fromKind, To: to, ToKind: toKind})
	return tx
}

func balance(t testing.TB, st *store.Store, a store.AccountRef) int64 {
	t.Helper()
	acct, err := st.GetAccount(ctx, a.Owner, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return acct.Available
}

func TestCancellationReasonsAreClassified(t *testing.T) {
	e := storetest.New(t)
	now := e.Clock.Now()
	kim := register(t, e.Store, "Kim")
	lee := register(t, e.Store, "Lee")
	savings, err := e.Store.OpenSavings(ctx, kim.ID, "rainy day", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store.Commit(ctx, charge(kim.ID, 50_000, now)); err != nil {
		t.Fatal(err)
	}
	kimMain, leeMain := store.MainAccount(kim.ID), store.MainAccount(lee.ID)
	kimSavings := store.UserAccount(kim.ID, savings.ID)
	tests := []struct {
		name string
		tx   *store.Tx
		want *problem.Problem
	}{
		{"overdraft", move(kimMain, leeMain, "", "", 50_001, now), problem.InsufficientFunds},
		{"debit from a missing account", move(store.MainAccount(store.NewUserID()), leeMain, "", "", 1, now), problem.AccountNotFound},
		{"credit to a missing account", move(kimMain, store.MainAccount(store.NewUserID()), "", "", 1, now), problem.AccountNotFound},
		{"someone else's account is not under my key", move(kimMain, store.UserAccount(kim.ID, store.MainAccountID(lee.ID)), "", "", 1, now), problem.AccountNotFound},
		{"debit needs main, savings given", move(kimSavings, leeMain, store.KindMain, "", 1, now), problem.WrongAccountKind},
		{"credit needs savings, main given", move(kimMain, leeMain, "", store.KindSavings, 1, now), problem.WrongAccountKind},
		{"over the daily limit", charge(kim.ID, 2_950_001, now), problem.LimitExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Store.Commit(ctx, tc.tx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want.Code)
			}
		})
	}
	if got := balance(t, e.Store, kimMain); got != 50_000 {
		t.Fatalf("refused movements changed the balance: %d", got)
	}
	// The limit error says how much is left.
	err = e.Store.Commit(ctx, charge(kim.ID, 2_950_001, now))
	p, _ := problem.As(err)
	if p == nil || p.Extra["remainingToday"] != int64(2_950_000) {
		t.Fatalf("limit problem = %+v", p)
	}
}

func TestDailyLimitUnderConcurrency(t *testing.T) {
	e := storetest.New(t)
	kim := register(t, e.Store, "Kim")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, limited := 0, 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.Store.Commit(ctx, charge(kim.ID, 100_000, e.Clock.Now()))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, problem.LimitExceeded):
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
	charged, err := e.Store.ChargedToday(ctx, kim.ID, e.Clock.Now())
	if err != nil || charged != 3_000_000 {
		t.Fatalf("counter %d (%v), want 3,000,000", charged, err)
	}
}

func TestDailyLimitResetsAtMidnightKST(t *testing.T) {
	e := storetest.New(t)
	kim := register(t, e.Store, "Kim")
	lastMinute := time.Date(2026, 11, 22, 23, 59, 0, 0, time.FixedZone("KST", 9*3600))
	tests := []struct {
		at   time.Time
		want error
	}{
		{lastMinute, nil}, // 3,000,000 on the 22nd
		{lastMinute.Add(59 * time.Second), problem.LimitExceeded}, // 23:59:59 is still the 22nd
		{lastMinute.Add(60 * time.Second), nil},                   // 00:00 KST: a new day
		{lastMinute.Add(61 * time.Second), problem.LimitExceeded},
	}
	for i, tc := range tests {
		err := e.Store.Commit(ctx, charge(kim.ID, 3_000_000, tc.at))
		if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Fatalf("step %d at %s: got %v, want %v", i, tc.at, err, tc.want)
		}
	}
	if got := balance(t, e.Store, store.MainAccount(kim.ID)); got != 6_000_000 {
		t.Fatalf("balance %d, want 6,000,000", got)
	}
}

func TestConcurrentDebitsNeverOverdraw(t *testing.T) {
	e := storetest.New(t)
	kim := register(t, e.Store, "Kim")
	savings, _ := e.Store.OpenSavings(ctx, kim.ID, "s", e.Clock.Now())
	if err := e.Store.Commit(ctx, charge(kim.ID, 100_000, e.Clock.Now())); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.Store.Commit(ctx, move(store.MainAccount(kim.ID), store.UserAccount(kim.ID, savings.ID), store.KindMain, store.KindSavings, 7_000, e.Clock.Now()))
			if err != nil && !errors.Is(err, problem.InsufficientFunds) {
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
	if got := balance(t, e.Store, store.MainAccount(kim.ID)); got != 2_000 {
		t.Fatalf("main has %d, want 2,000", got)
	}
}

func TestConflictsAreRetriedWithTheSameToken(t *testing.T) {
	tests := []struct {
		name       string
		conflicts  int64
		applyFirst bool
		wantErr    *problem.Problem
		wantMoved  int64
	}{
		{"a few conflicts, then success", 3, false, nil, 10_000},
		{"first attempt applied but its answer lost", 1, true, nil, 10_000},
		{"conflicts outlast the retries", 100, false, problem.Contention, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			faulty := &storetest.Faulty{ApplyFirst: tc.applyFirst}
			e := storetest.New(t, func(db store.API) store.API { faulty.API = db; return faulty })
			e.Store.SetRetryPolicy(5, time.Millisecond)
			kim := register(t, e.Store, "Kim")
			faulty.Conflicts.Store(tc.conflicts)
			err := e.Store.Commit(ctx, charge(kim.ID, 10_000, e.Clock.Now()))
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if got := balance(t, e.Store, store.MainAccount(kim.ID)); got != tc.wantMoved {
				t.Fatalf("moved %d, want %d", got, tc.wantMoved)
			}
			tokens := faulty.Tokens[1:] // the first call registered Kim
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
	e := storetest.New(t)
	kim := register(t, e.Store, "Kim")
	now := e.Clock.Now()
	key := store.IdemKey{Scope: kim.ID, Key: "k1", RequestHash: "h1"}
	resp := store.StoredResponse{Status: 201, Body: []byte(`{"first":true}`)}
	for i := 0; i < 3; i++ {
		tx := charge(kim.ID, 10_000, now)
		tx.Idempotency(key, store.StoredResponse{Status: 201, Body: []byte(`{"attempt":` + string(rune('0'+i)) + `}`)}, now)
		err := e.Store.Commit(ctx, tx)
		var replay *store.Replay
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
	tx.Idempotency(store.IdemKey{Scope: kim.ID, Key: "k1", RequestHash: "other"}, resp, now)
	if err := e.Store.Commit(ctx, tx); !errors.Is(err, problem.IdemKeyReused) {
		t.Fatalf("got %v, want idempotency_key_reused", err)
	}
	// After the retention, the key may be used again.
	later := now.Add(store.IdempotencyRetention + time.Second)
	tx = charge(kim.ID, 10_000, later)
	tx.Idempotency(key, resp, later)
	e.Clock.Set(later)
	if err := e.Store.Commit(ctx, tx); err != nil {
		t.Fatalf("expired key not reusable: %v", err)
	}
	if got := balance(t, e.Store, store.MainAccount(kim.ID)); got != 20_000 {
		t.Fatalf("balance %d, want 20,000", got)
	}
}

func TestConflictOnTheIdempotencyRecordMeansInFlight(t *testing.T) {
	faulty := &storetest.Faulty{}
	e := storetest.New(t, func(db store.API) store.API { faulty.API = db; return faulty })
	e.Store.SetRetryPolicy(3, time.Millisecond)
	kim := register(t, e.Store, "Kim")
	tx := charge(kim.ID, 10_000, e.Clock.Now())
	faulty.ConflictItem = tx.Len() // the record is added last
	tx.Idempotency(store.IdemKey{Scope: kim.ID, Key: "k", RequestHash: "h"}, store.StoredResponse{Status: 201}, e.Clock.Now())
	faulty.Conflicts.Store(100)
	if err := e.Store.Commit(ctx, tx); !errors.Is(err, problem.IdemInFlight) {
		t.Fatalf("got %v, want idempotency_key_in_use", err)
	}
	if got := balance(t, e.Store, store.MainAccount(kim.ID)); got != 0 {
		t.Fatalf("moved %d", got)
	}
}
