package settlement_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/settlement"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ddb"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

var ctx = context.Background()

type (
	call   = stacktest.Call
	result = stacktest.Result
	user   = stacktest.User
)

var newKey = stacktest.NewKey

// world is one test's API plus this package's shortcuts. Balances are read
// through GET /accounts/{id}, never from the account items.
type world struct{ *stacktest.World }

func newWorld(t *testing.T, wrap ...func(ddb.Client) ddb.Client) *world {
	return &world{stacktest.NewWorld(t, wrap...)}
}

func (w *world) users(t testing.TB, n int, prefix string) []user {
	t.Helper()
	out := make([]user, n)
	for i := range out {
		out[i] = w.Register(t, fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

// fund credits u's main account (the operator's deposit: outside the daily
// charge limit).
func (w *world) fund(t testing.TB, u user, amount int64) {
	t.Helper()
	r := w.Do(t, call{Fn: "operator-deposit", Caller: httpapi.RoleOperator, IdemKey: newKey(),
		Body: fmt.Sprintf(`{"userId":%q,"amount":%d,"reference":%q}`, u.ID, amount, newKey())})
	if r.Status != 201 {
		t.Fatalf("fund %d: %d %s", amount, r.Status, r.Raw)
	}
}

func (w *world) charge(t testing.TB, u user, amount int64) {
	t.Helper()
	r := w.Do(t, call{Fn: "charge", Caller: u.ID, Path: map[string]string{"id": u.Main}, Body: fmt.Sprintf(`{"amount":%d}`, amount), IdemKey: newKey()})
	if r.Status != 201 {
		t.Fatalf("charge %d: %d %s", amount, r.Status, r.Raw)
	}
}

func (w *world) available(t testing.TB, u user) int64 {
	t.Helper()
	r := w.Do(t, call{Fn: "get-account", Caller: u.ID, Path: map[string]string{"id": u.Main}})
	if r.Status != 200 {
		t.Fatalf("get account: %d %s", r.Status, r.Raw)
	}
	return num(r.Body["available"])
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// body is a create request for participants with extra fields.
func body(total int64, ps []user, extra string) string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = fmt.Sprintf("%q", p.ID)
	}
	b := fmt.Sprintf(`{"total":%d,"participants":[%s]`, total, strings.Join(ids, ","))
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

func (w *world) create(t testing.TB, u user, body string) result {
	t.Helper()
	return w.Do(t, call{Fn: "create-settlement", Caller: u.ID, Body: body, IdemKey: newKey()})
}

func (w *world) mustCreate(t testing.TB, u user, body string) (string, result) {
	t.Helper()
	r := w.create(t, u, body)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	return r.Body["id"].(string), r
}

func (w *world) pay(t testing.TB, u user, sid, uid, key string) result {
	t.Helper()
	if key == "" {
		key = newKey()
	}
	return w.Do(t, call{Fn: "pay-settlement", Caller: u.ID, Path: map[string]string{"id": sid, "userId": uid}, IdemKey: key})
}

func (w *world) mustPay(t testing.TB, u user, sid string) result {
	t.Helper()
	r := w.pay(t, u, sid, u.ID, "")
	if r.Status != 201 || r.Body["status"] != "paid" {
		t.Fatalf("pay: %d %s", r.Status, r.Raw)
	}
	return r
}

func (w *world) decline(t testing.TB, u user, sid, uid string) result {
	t.Helper()
	return w.Do(t, call{Fn: "decline-settlement", Caller: u.ID, Path: map[string]string{"id": sid, "userId": uid}})
}

func (w *world) cancel(t testing.TB, u user, sid string) result {
	t.Helper()
	return w.Do(t, call{Fn: "cancel-settlement", Caller: u.ID, Path: map[string]string{"id": sid}})
}

func (w *world) remind(t testing.TB, u user, sid string) result {
	t.Helper()
	return w.Do(t, call{Fn: "remind-settlement", Caller: u.ID, Path: map[string]string{"id": sid}})
}

func (w *world) get(t testing.TB, u user, sid string) result {
	t.Helper()
	return w.Do(t, call{Fn: "get-settlement", Caller: u.ID, Path: map[string]string{"id": sid}})
}

// view is the settlement as u sees it (200 required), decoded.
func (w *world) view(t testing.TB, u user, sid string) settlement.Settlement {
	t.Helper()
	r := w.get(t, u, sid)
	if r.Status != 200 {
		t.Fatalf("get %s: %d %s", sid, r.Status, r.Raw)
	}
	var v settlement.Settlement
	if err := json.Unmarshal([]byte(r.Raw), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// statuses is each participant's status in the requester's view.
func statuses(v settlement.Settlement) map[string]string {
	m := map[string]string{}
	for _, p := range v.Participants {
		m[p.UserID] = p.Status
	}
	return m
}

func amounts(v settlement.Settlement) map[string]int64 {
	m := map[string]int64{}
	for _, p := range v.Participants {
		m[p.UserID] = p.Amount
	}
	return m
}

// list is the ids of GET /settlements?role=&status= (every page, in pages of 2).
func (w *world) list(t testing.TB, u user, role, status string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 0; pages < 100; pages++ {
		q := map[string]string{"role": role, "status": status, "limit": "2"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		r := w.Do(t, call{Fn: "list-settlements", Caller: u.ID, Query: q})
		if r.Status != 200 {
			t.Fatalf("list: %d %s", r.Status, r.Raw)
		}
		for _, x := range r.Body["settlements"].([]any) {
			ids = append(ids, x.(map[string]any)["id"].(string))
		}
		if cursor, _ = r.Body["nextCursor"].(string); cursor == "" {
			return ids
		}
	}
	t.Fatal("list did not end")
	return nil
}

// notifications is u's inbox, newest first.
func (w *world) notifications(t testing.TB, u user) []map[string]any {
	t.Helper()
	var out []map[string]any
	cursor := ""
	for pages := 0; pages < 100; pages++ {
		q := map[string]string{"limit": "100"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		r := w.Do(t, call{Fn: "list-notifications", Caller: u.ID, Query: q})
		if r.Status != 200 {
			t.Fatalf("notifications: %d %s", r.Status, r.Raw)
		}
		for _, n := range r.Body["notifications"].([]any) {
			out = append(out, n.(map[string]any))
		}
		if cursor, _ = r.Body["nextCursor"].(string); cursor == "" {
			return out
		}
	}
	return out
}

// notifCount counts u's notifications of type typ about sid.
func (w *world) notifCount(t testing.TB, u user, typ, sid string) int {
	t.Helper()
	n := 0
	for _, x := range w.notifications(t, u) {
		if x["type"] == typ && x["settlementId"] == sid {
			n++
		}
	}
	return n
}

func (w *world) entries(t testing.TB, u user) []map[string]any {
	t.Helper()
	r := w.Do(t, call{Fn: "list-entries", Caller: u.ID, Path: map[string]string{"id": u.Main}, Query: map[string]string{"limit": "100"}})
	if r.Status != 200 {
		t.Fatalf("entries: %d %s", r.Status, r.Raw)
	}
	var out []map[string]any
	for _, e := range r.Body["entries"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

func (w *world) sweep(t testing.TB) settlement.SweepSummary {
	t.Helper()
	h := w.Handlers["settlement-sweep"].(func(context.Context, routes.ScheduledEvent) (settlement.SweepSummary, error))
	s, err := h(ctx, routes.ScheduledEvent{Job: "settlement-sweep", ScheduledTime: w.Clock.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// outcome is "201" or "409 settlement_share_paid".
func outcome(r result) string {
	k := fmt.Sprint(r.Status)
	if c, ok := r.Body["code"].(string); ok {
		k += " " + c
	}
	return k
}

// burst runs f(i) for i < n at once.
func burst(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

func sorted(xs []int64) []int64 {
	out := append([]int64(nil), xs...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func has(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
