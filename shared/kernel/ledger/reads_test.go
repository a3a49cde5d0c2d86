package ledger_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ledger"
)

// Issue 22 item 5: a read shows a balance that existed. For each of four
// users a writer credits 1, 2, 4, ... won, each as a posting, folding it in
// after each: the balances that exist are 0, 1, 3, 7, ... (2^k - 1), so a
// read that counts a folded posting twice, or not at all, shows a number
// of another form. Readers race the folds with GetAccount and ListAccounts
// from eight goroutines per user; every balance they see must be one of
// those.
func TestReadsRacingFoldsShowBalancesThatExisted(t *testing.T) {
	e := ddbtest.New(t)
	const users, credits, readers = 4, 30, 8
	var wg sync.WaitGroup
	var reads, bad atomic.Int64
	existed := func(v int64) bool { return v >= 0 && (v+1)&v == 0 } // 2^k - 1
	for range users {
		u := register(t, e, "u")
		a := ledger.MainAccount(u.ID)
		var done atomic.Bool
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done.Store(true)
			for i := 0; i < credits; i++ {
				now := e.Clock.Now()
				tx := &ledger.Tx{}
				tx.Move(ledger.BankCharge(u.ID, ledger.NewMovementID(now), int64(1)<<i, now, ""))
				if err := e.Ledger.Commit(ctx, tx); err != nil {
					t.Error(err)
					return
				}
				if n, err := e.Ledger.FoldAccount(ctx, a); err != nil || n != 1 {
					t.Errorf("fold: %d %v", n, err)
					return
				}
			}
		}()
		for r := 0; r < readers; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !done.Load() {
					var got ledger.Account
					if r%2 == 0 {
						acct, err := e.Ledger.GetAccount(ctx, u.ID, a.ID)
						if err != nil {
							t.Error(err)
							return
						}
						got = acct
					} else {
						list, err := e.Ledger.ListAccounts(ctx, u.ID)
						if err != nil || len(list) != 1 {
							t.Errorf("list: %v %v", list, err)
							return
						}
						got = list[0]
					}
					reads.Add(1)
					if !existed(got.Balance) || got.Available != got.Balance {
						bad.Add(1)
						t.Errorf("read balance %d available %d: no such balance existed", got.Balance, got.Available)
					}
				}
			}()
		}
	}
	wg.Wait()
	t.Logf("%d reads, %d showed a balance that never existed", reads.Load(), bad.Load())
	ddbtest.Audit(t, e.Name)
}
