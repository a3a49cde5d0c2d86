package transfers_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/transfers"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ddb"
)

func (w *world) account(t testing.TB, u user) (balance, held, available int64) {
	t.Helper()
	r := w.Do(t, call{Fn: "get-account", Caller: u.ID, Path: map[string]string{"id": u.Main}})
	if r.Status != 200 {
		t.Fatalf("get account: %d %s", r.Status, r.Raw)
	}
	return int64(r.Body["balance"].(float64)), int64(r.Body["held"].(float64)), int64(r.Body["available"].(float64))
}

func (w *world) wantAccount(t testing.TB, u user, balance, held, available int64) {
	t.Helper()
	b, h, a := w.account(t, u)
	if b != balance || h != held || a != available {
		t.Errorf("%s: balance %d held %d available %d, want %d %d %d", u.Name, b, h, a, balance, held, available)
	}
}

// send is POST /transfers; pending is "" (the default), "true" or "false".
func (w *world) send(t testing.TB, from, to user, amount int64, pending string) result {
	t.Helper()
	body := fmt.Sprintf(`{"to":%q,"amount":%d}`, to.ID, amount)
	if pending != "" {
		body = fmt.Sprintf(`{"to":%q,"amount":%d,"pending":%s}`, to.ID, amount, pending)
	}
	return w.Do(t, call{Fn: "transfer", Caller: from.ID, Body: body, IdemKey: newKey()})
}

func (w *world) sendPending(t testing.TB, from, to user, amount int64) string {
	t.Helper()
	r := w.send(t, from, to, amount, "true")
	if r.Status != 201 || r.Body["status"] != "pending" {
		t.Fatalf("pending transfer: %d %s", r.Status, r.Raw)
	}
	return r.Body["id"].(string)
}

func (w *world) resolve(t testing.TB, fn string, u user, id, key string) result {
	t.Helper()
	if key == "" {
		key = newKey()
	}
	return w.Do(t, call{Fn: fn, Caller: u.ID, Path: map[string]string{"id": id}, IdemKey: key})
}

func (w *world) setDefault(t testing.TB, u user, pending bool) {
	t.Helper()
	r := w.Do(t, call{Fn: "update-settings", Caller: u.ID, Body: fmt.Sprintf(`{"pendingTransfers":%v}`, pending)})
	if r.Status != 200 || r.Body["pendingTransfers"] != pending {
		t.Fatalf("settings: %d %s", r.Status, r.Raw)
	}
}

func (w *world) sweep(t testing.TB) transfers.SweepSummary {
	t.Helper()
	h := w.Handlers["pending-sweep"].(func(context.Context, routes.ScheduledEvent) (transfers.SweepSummary, error))
	s, err := h(ctx, routes.ScheduledEvent{Job: "pending-sweep", ScheduledTime: w.Clock.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (w *world) notifications(t testing.TB, u user, limit int, cursor string) ([]map[string]any, string) {
	t.Helper()
	q := map[string]string{"limit": fmt.Sprint(limit)}
	if cursor != "" {
		q["cursor"] = cursor
	}
	r := w.Do(t, call{Fn: "list-notifications", Caller: u.ID, Query: q})
	if r.Status != 200 {
		t.Fatalf("notifications: %d %s", r.Status, r.Raw)
	}
	var out []map[string]any
	for _, n := range r.Body["notifications"].([]any) {
		out = append(out, n.(map[string]any))
	}
	next, _ := r.Body["nextCursor"].(string)
	return out, next
}

// notifTypes is every notification of u, newest first, read in pages of 2.
func (w *world) notifTypes(t testing.TB, u user) []string {
	t.Helper()
	var types []string
	cursor := ""
	for {
		page, next := w.notifications(t, u, 2, cursor)
		for _, n := range page {
			types = append(types, n["type"].(string))
		}
		if next == "" {
			return types
		}
		cursor = next
	}
}

func (w *world) list(t testing.TB, u user, role, status string) []string {
	t.Helper()
	r := w.Do(t, call{Fn: "list-transfers", Caller: u.ID, Query: map[string]string{"role": role, "status": status}})
	if r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Raw)
	}
	var ids []string
	for _, x := range r.Body["transfers"].([]any) {
		ids = append(ids, x.(map[string]any)["id"].(string))
	}
	return ids
}

// transferItem reads a pending transfer's item as stored.
func (w *world) transferItem(t testing.TB, id string) (p struct {
	Status string
	Amount int64
}) {
	t.Helper()
	item, err := w.Table.Get(ctx, ddb.Key("TRANSFER#"+id, "TRANSFER"))
	if err != nil || item == nil {
		t.Fatalf("transfer %s: %v", id, err)
	}
	d := ddb.Decode(item)
	p.Status, p.Amount = d.S("status"), d.N("amount")
	return p
}

func eq(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// With 30,000 and 20,000 pending, 10,000 more can be sent; 10,001 needs an
// automatic charge (transfers' rules: the shortfall rounded up to 10,000).
func TestHoldCountsAsSpent(t *testing.T) {
	w := newWorld(t)
	kim, lee, park := w.Register(t, "Kim"), w.Register(t, "Lee"), w.Register(t, "Park")
	w.charge(t, kim, 30_000)
	w.sendPending(t, kim, lee, 20_000)
	w.wantAccount(t, kim, 30_000, 20_000, 10_000)
	w.wantAccount(t, lee, 0, 0, 0)

	// 10,001 immediately: auto-charged 10,000.
	r := w.send(t, kim, park, 10_001, "false")
	if r.Status != 201 || r.Body["autoCharged"] != float64(10_000) || r.Body["status"] != "completed" {
		t.Fatalf("10,001: %d %s", r.Status, r.Raw)
	}
	w.wantAccount(t, kim, 29_999, 20_000, 9_999)
	// 9,999 more (all that is available) goes without a charge.
	r = w.send(t, kim, park, 9_999, "false")
	if r.Status != 201 || r.Body["autoCharged"] != float64(0) {
		t.Fatalf("9,999: %d %s", r.Status, r.Raw)
	}
	w.wantAccount(t, kim, 20_000, 20_000, 0)
}

// A pending transfer with a shortfall auto-charges too: one update of the
// sender's account tops up and holds.
func TestPendingAutoCharge(t *testing.T) {
	w := newWorld(t)
	kim, lee := w.Register(t, "Kim"), w.Register(t, "Lee")
	w.charge(t, kim, 5_000)
	r := w.send(t, kim, lee, 12_000, "true")
	if r.Status != 201 || r.Body["status"] != "pending" || r.Body["autoCharged"] != float64(10_000) {
		t.Fatalf("pending with charge: %d %s", r.Status, r.Raw)
	}
	w.wantAccount(t, kim, 15_000, 12_000, 3_000)
	// The daily limit counts it.
	if n := w.chargedToday(t, kim); n != 15_000 {
		t.Errorf("charged today %d", n)
	}
	// An unknown receiver: 404, nothing held.
	r = w.Do(t, call{Fn: "transfer", Caller: kim.ID, IdemKey: newKey(), Body: `{"to":"u_0000000000000009","amount":100,"pending":true}`})
	if r.Status != 404 {
		t.Fatalf("unknown receiver: %d %s", r.Status, r.Raw)
	}
	w.wantAccount(t, kim, 15_000, 12_000, 3_000)
}

func TestAcceptRejectCancel(t *testing.T) {
	w := newWorld(t)
	kim, lee, park := w.Register(t, "Kim Minji"), w.Register(t, "Lee"), w.Register(t, "Park")
	w.charge(t, kim, 30_000)
	r := w.Do(t, call{Fn: "transfer", Caller: kim.ID, IdemKey: newKey(),
		Body: fmt.Sprintf(`{"to":%q,"amount":10000,"pending":true,"displayName":"Minji","memo":"dinner"}`, lee.ID)})
	if r.Status != 201 {
		t.Fatal(r.Raw)
	}
	a := r.Body["id"].(string)
	b := w.sendPending(t, kim, lee, 7_000)
	c := w.sendPending(t, kim, lee, 3_000)
	w.wantAccount(t, kim, 30_000, 20_000, 10_000)

	// Roles: the sender cannot accept, the receiver cannot cancel, a
	// stranger sees nothing. All 404.
	for _, x := range []struct {
		fn string
		u  user
	}{{"accept-transfer", kim}, {"reject-transfer", kim}, {"cancel-transfer", lee}, {"accept-transfer", park}, {"cancel-transfer", park}} {
		if r := w.resolve(t, x.fn, x.u, a, ""); r.Status != 404 || r.Body["code"] != "transfer_not_found" {
			t.Errorf("%s by %s: %d %s", x.fn, x.u.Name, r.Status, r.Raw)
		}
	}

	w.Clock.Advance(time.Hour)
	key := newKey()
	r = w.resolve(t, "accept-transfer", lee, a, key)
	if r.Status != 201 || r.Body["status"] != "accepted" {
		t.Fatalf("accept: %d %s", r.Status, r.Raw)
	}
	if again := w.resolve(t, "accept-transfer", lee, a, key); again.Status != 201 || again.Raw != r.Raw || again.Header["idempotent-replayed"] != "true" {
		t.Errorf("replay: %d %s", again.Status, again.Raw)
	}
	w.wantAccount(t, kim, 20_000, 10_000, 10_000)
	w.wantAccount(t, lee, 10_000, 0, 10_000)
	// The receiver's entry shows the sender's real name and display name.
	er := w.Do(t, call{Fn: "list-entries", Caller: lee.ID, Path: map[string]string{"id": lee.Main}})
	e := er.Body["entries"].([]any)[0].(map[string]any)
	if e["counterparty"] != "Kim Minji" || e["displayName"] != "Minji" || e["memo"] != "dinner" || e["amount"] != float64(10_000) || e["type"] != "transfer" {
		t.Errorf("receiver entry %v", e)
	}

	w.Clock.Advance(time.Second)
	if r := w.resolve(t, "reject-transfer", lee, b, ""); r.Status != 201 || r.Body["status"] != "rejected" {
		t.Fatalf("reject: %d %s", r.Status, r.Raw)
	}
	w.wantAccount(t, kim, 20_000, 3_000, 17_000)
	w.Clock.Advance(time.Second)
	if r := w.resolve(t, "cancel-transfer", kim, c, ""); r.Status != 201 || r.Body["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", r.Status, r.Raw)
	}
	w.wantAccount(t, kim, 20_000, 0, 20_000)
	w.wantAccount(t, lee, 10_000, 0, 10_000)

	// Resolved: 409 with the state that won.
	for _, x := range []struct {
		fn   string
		u    user
		id   string
		code string
	}{{"accept-transfer", lee, a, "transfer_already_accepted"}, {"cancel-transfer", kim, a, "transfer_already_accepted"},
		{"accept-transfer", lee, b, "transfer_already_rejected"}, {"reject-transfer", lee, c, "transfer_already_cancelled"}} {
		if r := w.resolve(t, x.fn, x.u, x.id, ""); r.Status != 409 || r.Body["code"] != x.code {
			t.Errorf("%s: %d %s, want 409 %s", x.fn, r.Status, r.Raw, x.code)
		}
	}

	// Lists by role and status, newest first.
	if got := w.list(t, lee, "received", "pending"); len(got) != 0 {
		t.Errorf("lee pending %v", got)
	}
	if got := w.list(t, kim, "sent", "accepted"); !eq(got, []string{a}) {
		t.Errorf("kim accepted %v", got)
	}
	if got := w.list(t, lee, "received", "rejected"); !eq(got, []string{b}) {
		t.Errorf("lee rejected %v", got)
	}
	if got := w.list(t, kim, "received", "cancelled"); len(got) != 0 {
		t.Errorf("kim received cancelled %v", got)
	}
	// Notifications: Lee got three "received" and one "cancelled"; Kim
	// "accepted" and "rejected". Newest first, in pages of 2.
	if got := w.notifTypes(t, lee); !eq(got, []string{transfers.NotifCancelled, transfers.NotifPendingReceived, transfers.NotifPendingReceived, transfers.NotifPendingReceived}) {
		t.Errorf("lee notifications %v", got)
	}
	if got := w.notifTypes(t, kim); !eq(got, []string{transfers.NotifRejected, transfers.NotifAccepted}) {
		t.Errorf("kim notifications %v", got)
	}
}

func TestListsNewestFirstAndPaged(t *testing.T) {
	w := newWorld(t)
	kim, lee := w.Register(t, "Kim"), w.Register(t, "Lee")
	w.charge(t, kim, 10_000)
	var ids []string
	for i := 0; i < 5; i++ {
		w.Clock.Advance(time.Second)
		ids = append([]string{w.sendPending(t, kim, lee, 100)}, ids...)
	}
	if got := w.list(t, kim, "sent", "pending"); !eq(got, ids) {
		t.Errorf("sent %v, want %v", got, ids)
	}
	if got := w.list(t, lee, "received", "pending"); !eq(got, ids) {
		t.Errorf("received %v, want %v", got, ids)
	}
	r := w.Do(t, call{Fn: "list-transfers", Caller: lee.ID, Query: map[string]string{"role": "received", "limit": "3"}})
	page := r.Body["transfers"].([]any)
	next, _ := r.Body["nextCursor"].(string)
	if len(page) != 3 || next == "" {
		t.Fatalf("page 1: %s", r.Raw)
	}
	r = w.Do(t, call{Fn: "list-transfers", Caller: lee.ID, Query: map[string]string{"role": "received", "limit": "3", "cursor": next}})
	if page := r.Body["transfers"].([]any); len(page) != 2 || page[0].(map[string]any)["id"] != ids[3] {
		t.Fatalf("page 2: %s", r.Raw)
	}
	for _, q := range []map[string]string{{"role": "boss"}, {"status": "open"}, {"limit": "0"}, {"cursor": "nope"}} {
		if r := w.Do(t, call{Fn: "list-transfers", Caller: lee.ID, Query: q}); r.Status != 400 {
			t.Errorf("%v: %d", q, r.Status)
		}
	}
	ns, _ := w.notifications(t, lee, 100, "")
	if len(ns) != 5 || ns[0]["transferId"] != ids[0] || ns[4]["transferId"] != ids[4] {
		t.Errorf("notifications %v", ns)
	}
}

func TestSettingsDefaultAndOverride(t *testing.T) {
	w := newWorld(t)
	kim, lee := w.Register(t, "Kim"), w.Register(t, "Lee")
	w.charge(t, kim, 10_000)
	if r := w.send(t, kim, lee, 1_000, ""); r.Status != 201 || r.Body["status"] != "completed" {
		t.Fatalf("default immediate: %d %s", r.Status, r.Raw)
	}
	w.setDefault(t, kim, true)
	if r := w.send(t, kim, lee, 1_000, ""); r.Status != 201 || r.Body["status"] != "pending" || r.Body["expiresAt"] == nil {
		t.Fatalf("default pending: %d %s", r.Status, r.Raw)
	}
	if r := w.send(t, kim, lee, 1_000, "false"); r.Status != 201 || r.Body["status"] != "completed" {
		t.Fatalf("override immediate: %d %s", r.Status, r.Raw)
	}
	// Pending by default with a shortfall: the pending variant auto-charges.
	if r := w.send(t, kim, lee, 10_000, ""); r.Status != 201 || r.Body["status"] != "pending" || r.Body["autoCharged"] != float64(10_000) {
		t.Fatalf("default pending with charge: %d %s", r.Status, r.Raw)
	}
	w.setDefault(t, kim, false)
	if r := w.send(t, kim, lee, 1_000, ""); r.Status != 201 || r.Body["status"] != "completed" {
		t.Fatalf("back to immediate: %d %s", r.Status, r.Raw)
	}
	if r := w.send(t, kim, lee, 1_000, "true"); r.Status != 201 || r.Body["status"] != "pending" {
		t.Fatalf("override pending: %d %s", r.Status, r.Raw)
	}
	// held: 1,000 + 10,000 + 1,000; balance 20,000 - 3,000 sent immediately.
	w.wantAccount(t, kim, 17_000, 12_000, 5_000)
	if r := w.Do(t, call{Fn: "update-settings", Caller: kim.ID, Body: `{}`}); r.Status != 400 {
		t.Errorf("empty settings: %d", r.Status)
	}
	if r := w.Do(t, call{Fn: "update-settings", Caller: kim.ID, Body: `{"pendingTransfers":"yes"}`}); r.Status != 400 {
		t.Errorf("bad settings: %d", r.Status)
	}
}

// Reminder exactly once at 48 h; expiry at 72 h returns the money; a second
// sweep changes nothing.
func TestReminderAndExpiry(t *testing.T) {
	w := newWorld(t)
	kim, lee := w.Register(t, "Kim"), w.Register(t, "Lee")
	w.charge(t, kim, 30_000)
	start := w.Clock.Now()
	id := w.sendPending(t, kim, lee, 20_000)

	w.Clock.Set(start.Add(47*time.Hour + 59*time.Minute))
	if s := w.sweep(t); s.Reminded != 0 || s.Expired != 0 || s.Due != 0 {
		t.Errorf("47h59m: %+v", s)
	}
	w.Clock.Set(start.Add(48 * time.Hour))
	if s := w.sweep(t); s.Reminded != 1 || s.Expired != 0 {
		t.Errorf("48h: %+v", s)
	}
	if s := w.sweep(t); s.Reminded != 0 || s.Expired != 0 || s.Due != 0 {
		t.Errorf("48h again: %+v", s)
	}
	w.Clock.Set(start.Add(71*time.Hour + 59*time.Minute))
	if s := w.sweep(t); s.Reminded != 0 || s.Expired != 0 {
		t.Errorf("71h59m: %+v", s)
	}
	if got := w.notifTypes(t, lee); !eq(got, []string{transfers.NotifReminder, transfers.NotifPendingReceived}) {
		t.Errorf("lee notifications %v", got)
	}
	w.wantAccount(t, kim, 30_000, 20_000, 10_000)

	w.Clock.Set(start.Add(72 * time.Hour))
	// Past the expiry but not swept yet: accept answers 410.
	if r := w.resolve(t, "accept-transfer", lee, id, ""); r.Status != 410 || r.Body["code"] != "transfer_expired" {
		t.Errorf("accept at 72h: %d %s", r.Status, r.Raw)
	}
	if s := w.sweep(t); s.Expired != 1 || s.Reminded != 0 {
		t.Errorf("72h: %+v", s)
	}
	w.wantAccount(t, kim, 30_000, 0, 30_000)
	before := ddbtest.Audit(t, w.Name)
	if s := w.sweep(t); s.Expired != 0 || s.Reminded != 0 || s.Due != 0 {
		t.Errorf("72h again: %+v", s)
	}
	after := ddbtest.Audit(t, w.Name)
	if before.SumOfBalances != after.SumOfBalances || before.Entries != after.Entries {
		t.Errorf("second sweep changed the ledger: %v / %v", before, after)
	}
	w.wantAccount(t, kim, 30_000, 0, 30_000)
	if r := w.resolve(t, "cancel-transfer", kim, id, ""); r.Status != 410 || r.Body["code"] != "transfer_expired" {
		t.Errorf("cancel after expiry: %d %s", r.Status, r.Raw)
	}
	if got := w.notifTypes(t, lee); !eq(got, []string{transfers.NotifExpired, transfers.NotifReminder, transfers.NotifPendingReceived}) {
		t.Errorf("lee notifications %v", got)
	}
	if got := w.notifTypes(t, kim); !eq(got, []string{transfers.NotifExpired}) {
		t.Errorf("kim notifications %v", got)
	}
	if got := w.list(t, kim, "sent", "expired"); !eq(got, []string{id}) {
		t.Errorf("expired list %v", got)
	}
}

// A missed stretch of sweeps catches up: 4 days later, a transfer past its
// expiry is expired WITHOUT a reminder; one past its reminder time only is
// reminded.
func TestMissedSweepsCatchUp(t *testing.T) {
	w := newWorld(t)
	kim, lee := w.Register(t, "Kim"), w.Register(t, "Lee")
	w.charge(t, kim, 30_000)
	start := w.Clock.Now()
	old := w.sendPending(t, kim, lee, 10_000)
	w.Clock.Set(start.Add(2*24*time.Hour + time.Hour))
	young := w.sendPending(t, kim, lee, 5_000)

	w.Clock.Set(start.Add(4*24*time.Hour + time.Hour)) // old: 97 h; young: 48 h
	if s := w.sweep(t); s.Expired != 1 || s.Reminded != 1 || s.Due != 2 {
		t.Errorf("catch-up: %+v", s)
	}
	if s := w.sweep(t); s.Expired != 0 || s.Reminded != 0 {
		t.Errorf("again: %+v", s)
	}
	w.wantAccount(t, kim, 30_000, 5_000, 25_000)
	ns, _ := w.notifications(t, lee, 100, "")
	reminders := map[string]int{}
	for _, n := range ns {
		if n["type"] == transfers.NotifReminder {
			reminders[n["transferId"].(string)]++
		}
	}
	if reminders[old] != 0 || reminders[young] != 1 {
		t.Errorf("reminders %v (old %s, young %s)", reminders, old, young)
	}
}

// 20 concurrent accepts with different keys: exactly one 201, the others
// 409; the same key from 20 goroutines: one commit, the rest replay (or
// 409 in flight).
func TestTwentyConcurrentAccepts(t *testing.T) {
	w := newWorld(t)
	kim, lee := w.Register(t, "Kim"), w.Register(t, "Lee")
	w.charge(t, kim, 30_000)
	id := w.sendPending(t, kim, lee, 20_000)
	counts := stacktest.Run(20, func(int) result { return w.resolve(t, "accept-transfer", lee, id, "") })
	if counts["201"] != 1 || counts["409 transfer_already_accepted"] != 19 {
		t.Errorf("outcomes %v", counts)
	}
	w.wantAccount(t, kim, 10_000, 0, 10_000)
	w.wantAccount(t, lee, 20_000, 0, 20_000)

	id2 := w.sendPending(t, kim, lee, 5_000)
	key := newKey()
	var mu sync.Mutex
	bodies := map[string]int{}
	counts = stacktest.Run(20, func(int) result {
		r := w.resolve(t, "accept-transfer", lee, id2, key)
		mu.Lock()
		bodies[r.Raw]++
		mu.Unlock()
		return r
	})
	if counts["201"]+counts["409 idempotency_key_in_use"] != 20 || counts["201"] < 1 || len(bodies) > 2 {
		t.Errorf("same key: %v", counts)
	}
	w.wantAccount(t, kim, 5_000, 0, 5_000)
	w.wantAccount(t, lee, 25_000, 0, 25_000)
}

// Accept, reject, cancel and the expiry sweep fired together at the instant
// of expiry and just before it: exactly one outcome, the money in exactly
// one place.
func TestResolutionRaces(t *testing.T) {
	for round := 0; round < 6; round++ {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			w := newWorld(t)
			kim, lee := w.Register(t, "Kim"), w.Register(t, "Lee")
			w.charge(t, kim, 10_000)
			start := w.Clock.Now()
			ids := make([]string, 5)
			for i := range ids {
				ids[i] = w.sendPending(t, kim, lee, 2_000)
			}
			// Even rounds: before the expiry (the sweep reminds, and one of
			// the participants wins). Odd rounds: at the expiry (only the
			// sweep can win).
			at := start.Add(72*time.Hour - time.Millisecond)
			if round%2 == 1 {
				at = start.Add(72 * time.Hour)
			}
			w.Clock.Set(at)
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := map[string]int{}
			for _, id := range ids {
				for _, fn := range []string{"accept-transfer", "reject-transfer", "cancel-transfer"} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						u := lee
						if fn == "cancel-transfer" {
							u = kim
						}
						if r := w.resolve(t, fn, u, id, ""); r.Status == 201 {
							mu.Lock()
							wins[id]++
							mu.Unlock()
						} else if r.Status != 409 && r.Status != 410 {
							t.Errorf("%s: %d %s", fn, r.Status, r.Raw)
						}
					}()
				}
			}
			wg.Add(1)
			var swept transfers.SweepSummary
			go func() { defer wg.Done(); swept = w.sweep(t) }()
			wg.Wait()
			accepted := int64(0)
			for _, id := range ids {
				p := w.transferItem(t, id)
				if p.Status == transfers.StatusPending {
					t.Errorf("%s still pending", id)
				}
				n := wins[id]
				if p.Status == transfers.StatusExpired {
					n++
				}
				if n != 1 {
					t.Errorf("%s: %d outcomes (status %s)", id, n, p.Status)
				}
				if round%2 == 1 && p.Status != transfers.StatusExpired {
					t.Errorf("%s resolved %s at its expiry", id, p.Status)
				}
				if p.Status == transfers.StatusAccepted {
					accepted += p.Amount
				}
			}
			if round%2 == 1 && swept.Expired != 5 {
				t.Errorf("sweep %+v", swept)
			}
			w.wantAccount(t, kim, 10_000-accepted, 0, 10_000-accepted)
			w.wantAccount(t, lee, accepted, 0, accepted)
		})
	}
}

func TestBadRequests(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim")
	if r := w.resolve(t, "accept-transfer", kim, "nope", ""); r.Status != 404 {
		t.Errorf("bad id: %d", r.Status)
	}
	if r := w.resolve(t, "accept-transfer", kim, "01kapq0e00abcdefghjkmnpqrs", ""); r.Status != 404 || r.Body["code"] != "transfer_not_found" {
		t.Errorf("unknown id: %d %s", r.Status, r.Raw)
	}
	if r := w.Do(t, call{Fn: "accept-transfer", Caller: kim.ID, Path: map[string]string{"id": "01kapq0e00abcdefghjkmnpqrs"}}); r.Status != 400 {
		t.Errorf("no key: %d", r.Status)
	}
}

// TransactionConflict (never returned by DynamoDB Local, injected here) on
// an accept and on the sweep's expiry is retried with the same request
// token: a conflicted attempt that did commit is not applied twice.
func TestConflictsAreRetried(t *testing.T) {
	faulty := &ddbtest.Faulty{ApplyFirst: true}
	w := &world{stacktest.NewWorld(t, func(db ddb.Client) ddb.Client { faulty.Client = db; return faulty })}
	w.Ledger.SetRetryPolicy(5, time.Millisecond)
	kim, lee := w.Register(t, "Kim"), w.Register(t, "Lee")
	w.charge(t, kim, 30_000)
	a := w.sendPending(t, kim, lee, 10_000)
	w.sendPending(t, kim, lee, 5_000)

	faulty.Conflicts.Store(2)
	r := w.resolve(t, "accept-transfer", lee, a, "")
	faulty.Conflicts.Store(0)
	if r.Status != 201 {
		t.Fatalf("accept: %d %s", r.Status, r.Raw)
	}
	w.wantAccount(t, kim, 20_000, 5_000, 15_000)
	w.wantAccount(t, lee, 10_000, 0, 10_000)

	w.Clock.Advance(transfers.PendingLifetime)
	faulty.Conflicts.Store(2)
	s := w.sweep(t)
	faulty.Conflicts.Store(0)
	if s.Expired != 1 {
		t.Errorf("sweep %+v", s)
	}
	w.wantAccount(t, kim, 20_000, 0, 20_000)
}
