package sprinkle_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/sprinkle"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

var ctx = context.Background()

type (
	call   = stacktest.Call
	result = stacktest.Result
	user   = stacktest.User
)

type world struct{ *stacktest.World }

func newWorld(t *testing.T) *world { return &world{stacktest.NewWorld(t)} }

func (w *world) charge(t testing.TB, u user, amount int64) {
	t.Helper()
	r := w.Do(t, call{Fn: "charge", Caller: u.ID, Path: map[string]string{"id": u.Main}, Body: fmt.Sprintf(`{"amount":%d}`, amount), IdemKey: stacktest.NewKey()})
	if r.Status != 201 {
		t.Fatalf("charge %d: %d %s", amount, r.Status, r.Raw)
	}
}

func (w *world) available(t testing.TB, userID string) int64 {
	t.Helper()
	a, err := w.Ledger.GetAccount(ctx, userID, ledger.MainAccountID(userID))
	if err != nil {
		t.Fatal(err)
	}
	return a.Available
}

func (w *world) room(t testing.TB, owner user, members ...user) string {
	t.Helper()
	r := w.Do(t, call{Fn: "create-room", Caller: owner.ID, Body: `{"name":"lunch"}`})
	if r.Status != 201 {
		t.Fatalf("create room: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	for _, m := range members {
		if r := w.addMember(t, owner, id, m.ID); r.Status != 201 {
			t.Fatalf("add member: %d %s", r.Status, r.Raw)
		}
	}
	return id
}

func (w *world) addMember(t testing.TB, by user, roomID, userID string) result {
	return w.Do(t, call{Fn: "add-room-member", Caller: by.ID, Path: map[string]string{"id": roomID}, Body: fmt.Sprintf(`{"userId":%q}`, userID)})
}

func (w *world) sprinkle(t testing.TB, u user, roomID, body string) result {
	return w.Do(t, call{Fn: "create-sprinkle", Caller: u.ID, Path: map[string]string{"id": roomID}, Body: body, IdemKey: stacktest.NewKey()})
}

func (w *world) mustSprinkle(t testing.TB, u user, roomID, body string) string {
	t.Helper()
	r := w.sprinkle(t, u, roomID, body)
	if r.Status != 201 {
		t.Fatalf("sprinkle: %d %s", r.Status, r.Raw)
	}
	return r.Body["token"].(string)
}

func (w *world) claim(t testing.TB, callerID, roomID, token string) result {
	return w.Do(t, call{Fn: "claim-sprinkle", Caller: callerID, Path: map[string]string{"id": roomID, "token": token}, IdemKey: stacktest.NewKey()})
}

func (w *world) lookup(t testing.TB, callerID, roomID, token string) result {
	return w.Do(t, call{Fn: "get-sprinkle", Caller: callerID, Path: map[string]string{"id": roomID, "token": token}})
}

func (w *world) reclaim(t testing.TB) sprinkle.ReclaimSummary {
	t.Helper()
	h := w.Handlers["sprinkle-reclaim"].(func(context.Context, routes.ScheduledEvent) (sprinkle.ReclaimSummary, error))
	s, err := h(ctx, routes.ScheduledEvent{Job: "sprinkle-reclaim", ScheduledTime: w.Clock.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func code(r result) string {
	c, _ := r.Body["code"].(string)
	return fmt.Sprint(r.Status, " ", c)
}

func TestRoomsAndMembers(t *testing.T) {
	w := newWorld(t)
	a, b, c := w.Register(t, "A"), w.Register(t, "B"), w.Register(t, "C")
	id := w.room(t, a)
	if r := w.addMember(t, a, id, b.ID); r.Status != 201 || r.Body["added"] != true {
		t.Fatalf("add b: %d %s", r.Status, r.Raw)
	}
	if r := w.addMember(t, a, id, b.ID); r.Status != 200 || r.Body["added"] != false {
		t.Fatalf("add b again: %d %s", r.Status, r.Raw)
	}
	if r := w.addMember(t, b, id, b.ID); r.Status != 200 {
		t.Fatalf("b adds b: %d %s", r.Status, r.Raw)
	}
	if r := w.addMember(t, c, id, c.ID); code(r) != "403 not_a_member" {
		t.Fatalf("c adds self: %s", r.Raw)
	}
	if r := w.addMember(t, c, id, a.ID); code(r) != "403 not_a_member" {
		t.Fatalf("c adds a: %s", r.Raw)
	}
	if r := w.addMember(t, a, id, "u_0000000000000000"); code(r) != "404 user_not_found" {
		t.Fatalf("unknown user: %s", r.Raw)
	}
	if r := w.addMember(t, a, id, "nobody"); code(r) != "400 invalid_field" {
		t.Fatalf("bad user id: %s", r.Raw)
	}
	r := w.Do(t, call{Fn: "get-room", Caller: b.ID, Path: map[string]string{"id": id}})
	if r.Status != 200 || r.Body["name"] != "lunch" || len(r.Body["members"].([]any)) != 2 {
		t.Fatalf("get room: %d %s", r.Status, r.Raw)
	}
	for _, rid := range []string{id, "r_0000000000000000", "bad"} {
		if r := w.Do(t, call{Fn: "get-room", Caller: c.ID, Path: map[string]string{"id": rid}}); code(r) != "404 room_not_found" {
			t.Fatalf("non-member get %s: %s", rid, r.Raw)
		}
	}
	if r := w.Do(t, call{Fn: "create-room", Caller: a.ID, Body: `{"name":""}`}); code(r) != "400 invalid_field" {
		t.Fatalf("empty name: %s", r.Raw)
	}
}

func claimedAmounts(t testing.TB, w *world, sprinkler user, roomID, token string) (int64, []int64, map[string]bool) {
	t.Helper()
	r := w.lookup(t, sprinkler.ID, roomID, token)
	if r.Status != 200 {
		t.Fatalf("lookup: %d %s", r.Status, r.Raw)
	}
	var amounts []int64
	users := map[string]bool{}
	for _, c := range r.Body["claims"].([]any) {
		m := c.(map[string]any)
		amounts = append(amounts, int64(m["amount"].(float64)))
		u := m["userId"].(string)
		if users[u] {
			t.Errorf("user %s claimed twice", u)
		}
		users[u] = true
		if _, err := time.Parse(time.RFC3339, m["at"].(string)); err != nil {
			t.Errorf("claim time %v", m["at"])
		}
	}
	sort.Slice(amounts, func(i, j int) bool { return amounts[i] < amounts[j] })
	return int64(r.Body["claimedTotal"].(float64)), amounts, users
}

func TestEqualSplitStoredAndPaidExactly(t *testing.T) {
	w := newWorld(t)
	s := w.Register(t, "sprinkler")
	w.charge(t, s, 50_000)
	ms := []user{w.Register(t, "m1"), w.Register(t, "m2"), w.Register(t, "m3"), w.Register(t, "m4")}
	room := w.room(t, s, ms...)
	r := w.sprinkle(t, s, room, `{"amount":10000,"count":3,"split":"equal"}`)
	if r.Status != 201 || !sprinkle.ValidToken(r.Body["token"].(string)) || r.Body["claimWindowMinutes"].(float64) != 10 {
		t.Fatalf("sprinkle: %d %s", r.Status, r.Raw)
	}
	token := r.Body["token"].(string)
	if got := w.available(t, s.ID); got != 40_000 {
		t.Fatalf("sprinkler has %d after sprinkling", got)
	}
	var got []int64
	for _, m := range ms[:3] {
		r := w.claim(t, m.ID, room, token)
		if r.Status != 201 {
			t.Fatalf("claim: %d %s", r.Status, r.Raw)
		}
		amount := int64(r.Body["amount"].(float64))
		got = append(got, amount)
		if w.available(t, m.ID) != amount {
			t.Fatalf("member has %d, claimed %d", w.available(t, m.ID), amount)
		}
	}
	if r := w.claim(t, ms[3].ID, room, token); code(r) != "409 sprinkle_exhausted" {
		t.Fatalf("4th claim: %s", r.Raw)
	}
	total, amounts, _ := claimedAmounts(t, w, s, room, token)
	if total != 10000 || fmt.Sprint(amounts) != "[3333 3333 3334]" {
		t.Fatalf("claimed %d: %v (responses %v)", total, amounts, got)
	}
	// Fully claimed: the reclaim marks it with nothing to return.
	w.Clock.Advance(11 * time.Minute)
	if sum := w.reclaim(t); sum.Reclaimed != 1 || sum.Returned != 0 {
		t.Fatalf("reclaim %+v", sum)
	}
}

func TestRandomSplitStoredAndPaidExactly(t *testing.T) {
	w := newWorld(t)
	s := w.Register(t, "sprinkler")
	w.charge(t, s, 50_000)
	var ms []user
	for i := 0; i < 6; i++ {
		ms = append(ms, w.Register(t, fmt.Sprint("m", i)))
	}
	room := w.room(t, s, ms...)
	token := w.mustSprinkle(t, s, room, `{"amount":7,"count":6,"split":"random","claimWindowMinutes":1440}`)
	token2 := w.mustSprinkle(t, s, room, `{"amount":12345,"count":6,"split":"random"}`)
	for _, tok := range []string{token, token2} {
		for _, m := range ms {
			if r := w.claim(t, m.ID, room, tok); r.Status != 201 || r.Body["amount"].(float64) < 1 {
				t.Fatalf("claim: %d %s", r.Status, r.Raw)
			}
		}
	}
	for tok, want := range map[string]int64{token: 7, token2: 12345} {
		total, amounts, users := claimedAmounts(t, w, s, room, tok)
		var sum int64
		for _, a := range amounts {
			sum += a
		}
		if total != want || sum != want || len(users) != 6 || amounts[0] < 1 {
			t.Fatalf("%s: total %d sum %d amounts %v", tok, total, sum, amounts)
		}
	}
	var paid int64
	for _, m := range ms {
		paid += w.available(t, m.ID)
	}
	if paid != 7+12345 || w.available(t, s.ID) != 50_000-7-12345 {
		t.Fatalf("members got %d, sprinkler has %d", paid, w.available(t, s.ID))
	}
}

func TestClaimRefusals(t *testing.T) {
	w := newWorld(t)
	s, m1, m2, outsider := w.Register(t, "s"), w.Register(t, "m1"), w.Register(t, "m2"), w.Register(t, "o")
	w.charge(t, s, 100_000)
	room := w.room(t, s, m1, m2)
	token := w.mustSprinkle(t, s, room, `{"amount":1000,"count":1}`)
	if r := w.claim(t, m1.ID, room, token); r.Status != 201 {
		t.Fatalf("claim: %s", r.Raw)
	}
	closed := w.mustSprinkle(t, s, room, `{"amount":1000,"count":2,"claimWindowMinutes":1}`)
	open := w.mustSprinkle(t, s, room, `{"amount":1000,"count":2,"claimWindowMinutes":60}`)
	w.Clock.Advance(time.Minute) // exactly at the close: closed
	unused := "222"
	for unused == token || unused == closed || unused == open {
		unused = sprinkle.NewToken()
	}
	cases := []struct {
		name, caller, room, token, want string
	}{
		{"not a member", outsider.ID, room, open, "403 not_a_member"},
		{"own sprinkle", s.ID, room, open, "403 own_sprinkle"},
		{"already claimed", m1.ID, room, token, "409 already_claimed"},
		{"all shares taken", m2.ID, room, token, "409 sprinkle_exhausted"},
		{"window closed", m1.ID, room, closed, "410 claim_window_closed"},
		{"no such token", m1.ID, room, unused, "404 sprinkle_not_found"},
		{"malformed token", m1.ID, room, "abc", "404 sprinkle_not_found"},
		{"token of another room", m1.ID, "r_0000000000000000", open, "404 sprinkle_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := w.available(t, tc.caller)
			if r := w.claim(t, tc.caller, tc.room, tc.token); code(r) != tc.want {
				t.Fatalf("got %s, want %s", r.Raw, tc.want)
			}
			if w.available(t, tc.caller) != before {
				t.Fatal("money moved")
			}
		})
	}
	// A refused claim is stored with its key: the same key replays it.
	key := stacktest.NewKey()
	c := call{Fn: "claim-sprinkle", Caller: s.ID, Path: map[string]string{"id": room, "token": open}, IdemKey: key}
	if r1, r2 := w.Do(t, c), w.Do(t, c); code(r1) != "403 own_sprinkle" || r2.Raw != r1.Raw || r2.Header["idempotent-replayed"] != "true" {
		t.Fatalf("replay: %s / %s", r1.Raw, r2.Raw)
	}
	// Missing key.
	if r := w.Do(t, call{Fn: "claim-sprinkle", Caller: m2.ID, Path: map[string]string{"id": room, "token": open}}); code(r) != "400 idempotency_key_required" {
		t.Fatalf("no key: %s", r.Raw)
	}
}

func TestClaimIsIdempotent(t *testing.T) {
	w := newWorld(t)
	s, m := w.Register(t, "s"), w.Register(t, "m")
	w.charge(t, s, 10_000)
	room := w.room(t, s, m)
	token := w.mustSprinkle(t, s, room, `{"amount":1000,"count":2}`)
	c := call{Fn: "claim-sprinkle", Caller: m.ID, Path: map[string]string{"id": room, "token": token}, IdemKey: stacktest.NewKey()}
	r1, r2 := w.Do(t, c), w.Do(t, c)
	if r1.Status != 201 || r2.Raw != r1.Raw || r2.Header["idempotent-replayed"] != "true" {
		t.Fatalf("%s / %s", r1.Raw, r2.Raw)
	}
	if w.available(t, m.ID) != 500 {
		t.Fatalf("paid %d", w.available(t, m.ID))
	}
	// Creating a sprinkle: the same key replays, the money moves once.
	sc := call{Fn: "create-sprinkle", Caller: s.ID, Path: map[string]string{"id": room}, Body: `{"amount":3000,"count":3}`, IdemKey: stacktest.NewKey()}
	if r1, r2 := w.Do(t, sc), w.Do(t, sc); r1.Status != 201 || r2.Raw != r1.Raw {
		t.Fatalf("%s / %s", r1.Raw, r2.Raw)
	}
	if got := w.available(t, s.ID); got != 10_000-1000-3000 {
		t.Fatalf("sprinkler has %d", got)
	}
}

func TestCreateSprinkleValidation(t *testing.T) {
	w := newWorld(t)
	s, outsider := w.Register(t, "s"), w.Register(t, "o")
	w.charge(t, s, 10_000)
	w.charge(t, outsider, 10_000)
	room := w.room(t, s)
	for _, tc := range []struct{ body, want string }{
		{`{"amount":100,"count":0}`, "400 invalid_field"},
		{`{"amount":100}`, "400 invalid_field"},
		{`{"amount":2,"count":3}`, "400 invalid_field"},
		{`{"amount":5000,"count":1001}`, "400 invalid_field"},
		{`{"amount":100,"count":"2"}`, "400 bad_request"},
		{`{"amount":100,"count":2.5}`, "400 invalid_field"},
		{`{"amount":100,"count":2,"claimWindowMinutes":0}`, "400 invalid_field"},
		{`{"amount":100,"count":2,"claimWindowMinutes":1441}`, "400 invalid_field"},
		{`{"amount":100,"count":2,"split":"fair"}`, "400 invalid_field"},
		{`{"amount":-5,"count":2}`, "400 invalid_field"},
		{`{"amount":100000,"count":2}`, "422 insufficient_funds"},
	} {
		if r := w.sprinkle(t, s, room, tc.body); code(r) != tc.want {
			t.Errorf("%s: %s, want %s", tc.body, r.Raw, tc.want)
		}
	}
	if r := w.sprinkle(t, outsider, room, `{"amount":100,"count":2}`); code(r) != "403 not_a_member" {
		t.Errorf("outsider: %s", r.Raw)
	}
	if w.available(t, s.ID) != 10_000 || w.available(t, outsider.ID) != 10_000 {
		t.Fatal("money moved")
	}
}

func TestReclaim(t *testing.T) {
	w := newWorld(t)
	s, m := w.Register(t, "s"), w.Register(t, "m")
	w.charge(t, s, 100_000)
	room := w.room(t, s, m)
	token := w.mustSprinkle(t, s, room, `{"amount":10000,"count":4}`)
	if r := w.claim(t, m.ID, room, token); r.Status != 201 {
		t.Fatalf("claim: %s", r.Raw)
	}
	w.Clock.Advance(9 * time.Minute)
	if sum := w.reclaim(t); sum.Due != 0 {
		t.Fatalf("reclaimed before the window closed: %+v", sum)
	}
	w.Clock.Advance(time.Minute) // the window closes
	if sum := w.reclaim(t); sum.Reclaimed != 1 || sum.Returned != 7500 {
		t.Fatalf("reclaim: %+v", sum)
	}
	if sum := w.reclaim(t); sum.Reclaimed != 0 || sum.Returned != 0 {
		t.Fatalf("second run: %+v", sum)
	}
	// The sprinkler is told, once, in the reclaim's own transaction.
	r := w.Do(t, stacktest.Call{Fn: "list-notifications", Caller: s.ID})
	notes, _ := r.Body["notifications"].([]any)
	if r.Status != 200 || len(notes) != 1 || notes[0].(map[string]any)["type"] != sprinkle.NotifyReclaimed ||
		notes[0].(map[string]any)["amount"] != float64(7500) || notes[0].(map[string]any)["token"] != token {
		t.Fatalf("notifications: %d %s", r.Status, r.Raw)
	}
	// Even a stale due entry pays once: the reclaim re-checks.
	returned, reclaimed, err := sprinkle.ReclaimByToken(ctx, w.Services, room, token)
	if err != nil || reclaimed || returned != 0 {
		t.Fatalf("stale reclaim: %d %v %v", returned, reclaimed, err)
	}
	if got := w.available(t, s.ID); got != 100_000-10_000+7500 {
		t.Fatalf("sprinkler has %d", got)
	}
	late := w.Register(t, "late")
	w.addMember(t, s, room, late.ID)
	if r := w.claim(t, late.ID, room, token); code(r) != "410 claim_window_closed" {
		t.Fatalf("claim after reclaim: %s", r.Raw)
	}

	// Missed runs catch up: three sprinkles closing at different times,
	// one run two hours later returns them all.
	w.mustSprinkle(t, s, room, `{"amount":100,"count":1,"claimWindowMinutes":1}`)
	w.Clock.Advance(30 * time.Second)
	w.mustSprinkle(t, s, room, `{"amount":200,"count":2,"claimWindowMinutes":5}`)
	w.mustSprinkle(t, s, room, `{"amount":300,"count":3,"claimWindowMinutes":60}`)
	before := w.available(t, s.ID)
	w.Clock.Advance(2 * time.Hour)
	if sum := w.reclaim(t); sum.Reclaimed != 3 || sum.Returned != 600 {
		t.Fatalf("catch-up: %+v", sum)
	}
	if got := w.available(t, s.ID); got != before+600 {
		t.Fatalf("sprinkler has %d, want %d", got, before+600)
	}
	if sum := w.reclaim(t); sum.Due != 0 {
		t.Fatalf("still due: %+v", sum)
	}
	// The history shows the reclaim.
	entries, _, err := w.Ledger.ListEntries(ctx, ledger.EntryQuery{AccountID: ledger.MainAccountID(s.ID), Page: ddb.PageRequest{Limit: 50}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Type == sprinkle.TypeSprinkleReclaim {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d reclaim entries, want 4", n)
	}
}

func lookupID(t testing.TB, w *world, s user, room, token string) string {
	t.Helper()
	r := w.lookup(t, s.ID, room, token)
	if r.Status != 200 {
		t.Fatalf("lookup: %s", r.Raw)
	}
	return r.Body["id"].(string)
}

func TestLookup(t *testing.T) {
	w := newWorld(t)
	s, m, o := w.Register(t, "s"), w.Register(t, "m"), w.Register(t, "o")
	w.charge(t, s, 10_000)
	room := w.room(t, s, m)
	token := w.mustSprinkle(t, s, room, `{"amount":1000,"count":2}`)
	w.Clock.Advance(time.Minute)
	claimed := w.claim(t, m.ID, room, token)
	if claimed.Status != 201 {
		t.Fatal(claimed.Raw)
	}
	r := w.lookup(t, s.ID, room, token)
	if r.Status != 200 || r.Body["amount"].(float64) != 1000 || r.Body["claimedTotal"].(float64) != 500 {
		t.Fatalf("lookup: %s", r.Raw)
	}
	if c := r.Body["claims"].([]any); len(c) != 1 || c[0].(map[string]any)["userId"] != m.ID || c[0].(map[string]any)["at"] != claimed.Body["claimedAt"] {
		t.Fatalf("claims: %s", r.Raw)
	}
	if r.Body["createdAt"] != ddbtest.Start.UTC().Format(time.RFC3339) {
		t.Fatalf("createdAt %v", r.Body["createdAt"])
	}
	for _, who := range []string{m.ID, o.ID} {
		if r := w.lookup(t, who, room, token); code(r) != "404 sprinkle_not_found" {
			t.Fatalf("lookup by %s: %s", who, r.Raw)
		}
	}
	w.Clock.Set(ddbtest.Start.Add(7*24*time.Hour - time.Second))
	if r := w.lookup(t, s.ID, room, token); r.Status != 200 {
		t.Fatalf("lookup on day 7: %s", r.Raw)
	}
	w.Clock.Set(ddbtest.Start.Add(7 * 24 * time.Hour))
	if r := w.lookup(t, s.ID, room, token); code(r) != "404 sprinkle_not_found" {
		t.Fatalf("lookup after 7 days: %s", r.Raw)
	}
	w.reclaim(t) // return the unclaimed half (keeps the audit's escrow at zero; not required)
}

// Tokens are unique among a room's live sprinkles: a collision is refused
// in the transaction (and the handler draws another token), and a token is
// free again once its sprinkle's lookup window is over.
func TestTokenUniqueAmongLiveSprinkles(t *testing.T) {
	w := newWorld(t)
	s := w.Register(t, "s")
	w.charge(t, s, 1_000_000)
	room := w.room(t, s)
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		tok := w.mustSprinkle(t, s, room, `{"amount":10,"count":1}`)
		if seen[tok] {
			t.Fatalf("token %s twice", tok)
		}
		seen[tok] = true
	}
	create := func(token string) error { return sprinkle.CreateWithToken(ctx, w.Services, room, s.ID, token, 10) }
	var taken string
	for tok := range seen {
		taken = tok
		break
	}
	if err := create(taken); !sprinkle.IsTokenTaken(err) {
		t.Fatalf("reusing a live token: %v", err)
	}
	w.Clock.Advance(sprinkle.LookupWindow + time.Second)
	if err := create(taken); err != nil {
		t.Fatalf("reusing an expired token: %v", err)
	}
	w.Clock.Advance(time.Hour)
	if sum := w.reclaim(t); sum.Reclaimed != 41 {
		t.Fatalf("reclaim %+v", sum)
	}
}

// bulkMembers registers n users and adds them to the room through the
// handlers, 16 at a time.
func bulkMembers(t testing.TB, w *world, room, owner string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := w.Do(t, call{Fn: "create-user", Body: fmt.Sprintf(`{"name":"member %d"}`, i)})
				if r.Status != 201 {
					errs <- fmt.Errorf("register: %d %s", r.Status, r.Raw)
					continue
				}
				id := r.Body["user"].(map[string]any)["id"].(string)
				if r := w.addMember(t, user{ID: owner}, room, id); r.Status != 201 {
					errs <- fmt.Errorf("add member: %d %s", r.Status, r.Raw)
					continue
				}
				ids[i] = id
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// 3,000 members claim a sprinkle of 100 shares at once: exactly 100 win,
// everyone else hears "all shares taken", nobody twice, the sum is exact.
func TestThreeThousandClaimers(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 claimers: run without -short")
	}
	const members, shares, amount = 3000, 100, 1_000_000
	w := newWorld(t)
	s := w.Register(t, "sprinkler")
	w.charge(t, s, amount)
	room := w.room(t, s)
	start := time.Now()
	ids := bulkMembers(t, w, room, s.ID, members)
	t.Logf("%d members in %v", members, time.Since(start).Round(time.Millisecond))
	// All 3,000 requests run at once; their DynamoDB calls queue on the
	// local client's bounded connection pool (ddb.LocalMaxConns).
	token := w.mustSprinkle(t, s, room, fmt.Sprintf(`{"amount":%d,"count":%d,"split":"random"}`, amount, shares))
	start = time.Now()
	var mu sync.Mutex
	paid := map[string]int64{}
	counts := stacktest.Run(members, func(i int) result {
		r := w.claim(t, ids[i], room, token)
		if r.Status == 201 {
			mu.Lock()
			paid[ids[i]] += int64(r.Body["amount"].(float64))
			mu.Unlock()
		}
		return r
	})
	t.Logf("%d claims in %v: %v", members, time.Since(start).Round(time.Millisecond), counts)
	if counts["201"] != shares || counts["409 sprinkle_exhausted"] != members-shares {
		t.Fatalf("outcomes %v", counts)
	}
	var sum int64
	for id, p := range paid {
		sum += p
		if got := w.available(t, id); got != p {
			t.Errorf("%s has %d, was paid %d", id, got, p)
		}
	}
	total, amounts, users := claimedAmounts(t, w, s, room, token)
	if sum != amount || total != amount || len(users) != shares || len(amounts) != shares || amounts[0] < 1 {
		t.Fatalf("paid %d, lookup total %d, %d users", sum, total, len(users))
	}
	w.Clock.Advance(time.Hour)
	if sum := w.reclaim(t); sum.Reclaimed != 1 || sum.Returned != 0 {
		t.Fatalf("reclaim %+v", sum)
	}
}

// 200 concurrent claims by the same member (different keys): one wins.
func TestSameMemberTwoHundredTimes(t *testing.T) {
	w := newWorld(t)
	s, m := w.Register(t, "s"), w.Register(t, "m")
	w.charge(t, s, 100_000)
	room := w.room(t, s, m)
	token := w.mustSprinkle(t, s, room, `{"amount":100000,"count":50,"split":"random"}`)
	counts := stacktest.Run(200, func(int) result { return w.claim(t, m.ID, room, token) })
	if counts["201"] != 1 || counts["409 already_claimed"] != 199 {
		t.Fatalf("outcomes %v", counts)
	}
	total, _, users := claimedAmounts(t, w, s, room, token)
	if len(users) != 1 || w.available(t, m.ID) != total {
		t.Fatalf("claims %v, member has %d of %d", users, w.available(t, m.ID), total)
	}
	w.Clock.Advance(time.Hour)
	if sum := w.reclaim(t); sum.Returned != 100_000-total {
		t.Fatalf("reclaim %+v", sum)
	}
}
