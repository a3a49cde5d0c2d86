package stacktest_test

import (
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/localstack/emulator"
	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/transfers"
)

// The test clock over three days with a pending transfer: the reminder
// fires at the first minute at or after 48 h, the expiry at the first
// minute at or after 72 h, the hold comes back to the sender, and the
// minute sweeps run only when something is due (a handful of runs, not
// 4,320 each).
func TestTestClockPendingTransfer(t *testing.T) {
	s := newStack(t)
	kim, lee := s.Register(t, "Kim"), s.Register(t, "Lee")
	s.Fund(t, kim, 50_000)
	s.Clock.Advance(30 * time.Second) // off the minute: the sweeps' slots come after
	created := s.Clock.Now().UTC()
	r := s.Post(t, "/transfers", kim.Token, `{"to":"`+lee.ID+`","amount":20000,"pending":true}`)
	if r.Status != 201 || r.Body["status"] != "pending" {
		t.Fatalf("pending transfer: %s", r.Raw)
	}
	id := r.Body["id"].(string)
	if b, h, a := s.Account(t, kim, kim.Main); b != 50_000 || h != 20_000 || a != 30_000 {
		t.Fatalf("kim before: balance %d held %d available %d", b, h, a)
	}

	r = s.Do(t, req{Method: "POST", Path: emulator.TestClockPath + "/advance", Body: `{"duration":"72h1m"}`})
	if r.Status != 200 {
		t.Fatal(r.Raw)
	}
	fired := map[string]int64{}
	for job, n := range r.Body["fired"].(map[string]any) {
		fired[job] = stacktest.Int(n)
	}
	// One run for the reminder, one for the expiry.
	if fired["pending-sweep"] != 2 {
		t.Errorf("pending-sweep ran %d times, want 2 (fired %v)", fired["pending-sweep"], fired)
	}
	// The fold runs when postings are due; the other sweeps have nothing.
	if fired["ledger-fold"] > 10 || fired["sprinkle-reclaim"] != 0 || fired["order-expiry"] != 0 || fired["settlement-sweep"] != 0 {
		t.Errorf("the minute sweeps ran %v", fired)
	}
	// The daily jobs run at each of their slots: three days of each.
	for _, job := range []string{"ledger-checkpoint", "savings-interest", "savings-installments"} {
		if fired[job] != 3 {
			t.Errorf("%s ran %d times, want 3", job, fired[job])
		}
	}
	if failed, _ := r.Body["failed"].([]any); len(failed) > 0 {
		t.Errorf("failed runs: %v", failed)
	}

	minute := func(d time.Duration) string {
		return created.Add(d).Truncate(time.Minute).Add(time.Minute).Format(time.RFC3339)
	}
	at := map[string]string{}
	r = s.Get(t, "/me/notifications?limit=10", lee.Token)
	if r.Status != 200 {
		t.Fatal(r.Raw)
	}
	for _, n := range r.Body["notifications"].([]any) {
		m := n.(map[string]any)
		if m["transferId"] == id {
			at[m["type"].(string)] = m["at"].(string)
		}
	}
	if at[transfers.NotifReminder] != minute(transfers.PendingRemindAt) || at[transfers.NotifExpired] != minute(transfers.PendingLifetime) {
		t.Errorf("reminded at %q, expired at %q; want %s and %s", at[transfers.NotifReminder], at[transfers.NotifExpired],
			minute(transfers.PendingRemindAt), minute(transfers.PendingLifetime))
	}
	if b, h, a := s.Account(t, kim, kim.Main); b != 50_000 || h != 0 || a != 50_000 {
		t.Errorf("kim after: balance %d held %d available %d, want the hold released", b, h, a)
	}
	if b, _, _ := s.Account(t, lee, lee.Main); b != 0 {
		t.Errorf("lee got %d from an expired transfer", b)
	}
	if r := s.Post(t, "/transfers/"+id+"/accept", lee.Token, ""); r.Status != 410 || r.Code() != "transfer_expired" {
		t.Errorf("accept after expiry: %s", r.Raw)
	}
	ddbtest.Audit(t, s.Name)
}
