package stacktest_test

// Regression tests of issue 22, items 1, 2 and 9, over HTTP through the
// emulator: acting on another's settlement share is a 403, the
// requester's own share is counted, and closing a savings account frees
// its slot under the cap. Every stack ends with the money audit.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/savings"
	"minipay/shared/kernel/clock"
)

type settlementPeople struct{ kim, lee, park, stranger stacktest.User }

func createSettlement(t *testing.T, s *stacktest.Stack, requester stacktest.User, total int64, participants ...stacktest.User) (string, resp) {
	t.Helper()
	ids := make([]string, len(participants))
	for i, p := range participants {
		ids[i] = fmt.Sprintf("%q", p.ID)
	}
	r := s.Post(t, "/settlements", requester.Token, fmt.Sprintf(`{"total":%d,"participants":[%s],"split":"equal","memo":"dinner"}`,
		total, strings.Join(ids, ",")))
	if r.Status != 201 {
		t.Fatalf("create settlement: %s", r.Raw)
	}
	return r.Body["id"].(string), r
}

func sharePath(sid, uid, verb string) string {
	return "/settlements/" + sid + "/shares/" + uid + "/" + verb
}

// Item 1: a participant paying or declining another participant's share
// (or any share not theirs) is a 403 settlement_not_your_share, as is the
// requester acting on a share not theirs; only someone who is neither
// requester nor participant gets the 404. Nothing moves, nothing changes.
func TestIssue22ForeignShareIsForbidden(t *testing.T) {
	s := newStack(t)
	p := settlementPeople{s.Register(t, "Kim"), s.Register(t, "Lee"), s.Register(t, "Park"), s.Register(t, "Stranger")}
	for _, u := range []stacktest.User{p.lee, p.park, p.stranger} {
		s.Fund(t, u, 50_000)
	}
	// Kim is a participant of her own request; Lee requests without a share of his own.
	sid, _ := createSettlement(t, s, p.kim, 30_000, p.kim, p.lee, p.park)
	sid2, _ := createSettlement(t, s, p.lee, 10_000, p.park, p.kim)
	for _, c := range []struct {
		name        string
		who         stacktest.User
		sid, uid    string
		verb, want  string
		forbiddenOf bool // the detail must not claim the caller has no share
	}{
		{"lee pays park's share", p.lee, sid, p.park.ID, "pay", "403 settlement_not_your_share", true},
		{"lee declines park's share", p.lee, sid, p.park.ID, "decline", "403 settlement_not_your_share", true},
		{"lee pays kim's settled share", p.lee, sid, p.kim.ID, "pay", "403 settlement_not_your_share", true},
		{"lee pays a stranger's (no) share", p.lee, sid, p.stranger.ID, "pay", "403 settlement_not_your_share", true},
		{"lee declines a stranger's (no) share", p.lee, sid, p.stranger.ID, "decline", "403 settlement_not_your_share", true},
		{"lee pays a malformed user's share", p.lee, sid, "nope", "pay", "403 settlement_not_your_share", true},
		{"requester pays lee's share", p.kim, sid, p.lee.ID, "pay", "403 settlement_not_your_share", true},
		{"requester declines lee's share", p.kim, sid, p.lee.ID, "decline", "403 settlement_not_your_share", true},
		{"requester pays a stranger's (no) share", p.kim, sid, p.stranger.ID, "pay", "403 settlement_not_your_share", true},
		{"requester without a share pays their own", p.lee, sid2, p.lee.ID, "pay", "403 settlement_not_your_share", true},
		{"requester without a share declines their own", p.lee, sid2, p.lee.ID, "decline", "403 settlement_not_your_share", true},
		{"requester without a share pays park's", p.lee, sid2, p.park.ID, "pay", "403 settlement_not_your_share", true},
		{"participant kim pays park's share in lee's request", p.kim, sid2, p.park.ID, "pay", "403 settlement_not_your_share", true},
		{"requester pays own settled share", p.kim, sid, p.kim.ID, "pay", "409 settlement_share_paid", false},
		{"stranger pays lee's share", p.stranger, sid, p.lee.ID, "pay", "404 settlement_not_found", false},
		{"stranger declines lee's share", p.stranger, sid, p.lee.ID, "decline", "404 settlement_not_found", false},
		{"stranger pays a share of their own", p.stranger, sid, p.stranger.ID, "pay", "404 settlement_not_found", false},
		{"stranger declines a share of their own", p.stranger, sid, p.stranger.ID, "decline", "404 settlement_not_found", false},
		{"unknown settlement", p.lee, "sr_01kapq0e00abcdefghjkmnpqrs", p.park.ID, "pay", "404 settlement_not_found", false},
		{"malformed settlement", p.lee, "nope", p.park.ID, "pay", "404 settlement_not_found", false},
	} {
		r := s.Post(t, sharePath(c.sid, c.uid, c.verb), c.who.Token, "")
		if r.String() != c.want {
			t.Errorf("%s: %s, want %s", c.name, r.Raw, c.want)
			continue
		}
		if detail, _ := r.Body["detail"].(string); c.forbiddenOf && strings.Contains(detail, "you have no share") {
			t.Errorf("%s: detail %q says the caller has no share", c.name, detail)
		}
	}
	for _, u := range []stacktest.User{p.lee, p.park, p.stranger} {
		if a := s.Available(t, u); a != 50_000 {
			t.Errorf("%s has %d: money moved", u.Name, a)
		}
	}
	if a := s.Available(t, p.kim); a != 0 {
		t.Errorf("kim has %d: money moved", a)
	}
	v := s.Get(t, "/settlements/"+sid, p.kim.Token)
	checkCounts(t, "after the refusals", v, 1, 2, 0, 0)
	// Each participant still acts on their own share.
	if r := s.Post(t, sharePath(sid, p.lee.ID, "pay"), p.lee.Token, ""); r.Status != 201 {
		t.Fatalf("lee pays his own share: %s", r.Raw)
	}
	if r := s.Post(t, sharePath(sid, p.park.ID, "decline"), p.park.Token, ""); r.Status != 200 || r.Body["settlementStatus"] != "completed" {
		t.Fatalf("park declines her own share: %s", r.Raw)
	}
	// After completion a participant naming another's share is still told it is not theirs.
	if r := s.Post(t, sharePath(sid, p.park.ID, "pay"), p.lee.Token, ""); r.String() != "403 settlement_not_your_share" {
		t.Errorf("lee pays park's share of a completed request: %s", r.Raw)
	}
}

// checkCounts checks a requester's view: the counts are the given ones,
// they add up to participantCount, and they agree with the statuses of
// the shares listed.
func checkCounts(t *testing.T, when string, r resp, paid, open, declined, cancelled int64) {
	t.Helper()
	if r.Status != 200 && r.Status != 201 {
		t.Fatalf("%s: %s", when, r.Raw)
	}
	got := map[string]int64{"paid": stacktest.Int(r.Body["paidCount"]), "open": stacktest.Int(r.Body["openCount"]),
		"declined": stacktest.Int(r.Body["declinedCount"]), "cancelled": stacktest.Int(r.Body["cancelledCount"])}
	want := map[string]int64{"paid": paid, "open": open, "declined": declined, "cancelled": cancelled}
	listed := map[string]int64{}
	ps, _ := r.Body["participants"].([]any)
	for _, p := range ps {
		listed[p.(map[string]any)["status"].(string)]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(listed) != fmt.Sprint(trim(want)) {
		t.Errorf("%s: counts %v, shares listed %v, want %v: %s", when, got, listed, want, r.Raw)
	}
	if n := stacktest.Int(r.Body["participantCount"]); n != paid+open+declined+cancelled || n != int64(len(ps)) {
		t.Errorf("%s: participantCount %d, %d shares listed, counts sum to %d", when, n, len(ps), paid+open+declined+cancelled)
	}
}

func trim(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// Item 2: a requester who lists themselves has their share counted as
// paid from the start, in create's response, GET, the list and the
// completion notification; a cancelled request counts its cancelled
// shares too.
func TestIssue22RequesterOwnShareIsCounted(t *testing.T) {
	s := newStack(t)
	kim, lee, park := s.Register(t, "Kim"), s.Register(t, "Lee"), s.Register(t, "Park")
	s.Fund(t, lee, 50_000)
	s.Fund(t, park, 50_000)

	sid, created := createSettlement(t, s, kim, 30_000, kim, lee, park)
	checkCounts(t, "create's response", created, 1, 2, 0, 0)
	checkCounts(t, "GET after create", s.Get(t, "/settlements/"+sid, kim.Token), 1, 2, 0, 0)
	if r := s.Post(t, sharePath(sid, lee.ID, "pay"), lee.Token, ""); r.Status != 201 || r.Body["settlementStatus"] != "open" {
		t.Fatalf("lee pays: %s", r.Raw)
	}
	checkCounts(t, "GET after lee paid", s.Get(t, "/settlements/"+sid, kim.Token), 2, 1, 0, 0)
	// A participant's view carries the same counts.
	if r := s.Get(t, "/settlements/"+sid, lee.Token); stacktest.Int(r.Body["paidCount"]) != 2 || stacktest.Int(r.Body["openCount"]) != 1 {
		t.Errorf("lee's view: %s", r.Raw)
	}
	if r := s.Post(t, sharePath(sid, park.ID, "pay"), park.Token, ""); r.Status != 201 || r.Body["settlementStatus"] != "completed" {
		t.Fatalf("park pays last: %s", r.Raw)
	}
	done := s.Get(t, "/settlements/"+sid, kim.Token)
	checkCounts(t, "GET at completion", done, 3, 0, 0, 0)
	if c := stacktest.Int(done.Body["collected"]); c != 20_000 {
		t.Errorf("collected %d, want the 20,000 that moved (the requester's own share moves nothing)", c)
	}
	// The completion notification counts the requester's share too.
	n := s.Get(t, "/me/notifications?limit=50", kim.Token)
	found := false
	for _, it := range n.Body["notifications"].([]any) {
		m := it.(map[string]any)
		if m["type"] == "settlement_completed" && m["settlementId"] == sid {
			found = true
			if stacktest.Int(m["paidCount"]) != 3 || stacktest.Int(m["declinedCount"]) != 0 || stacktest.Int(m["collected"]) != 20_000 {
				t.Errorf("completion notification %v, want paidCount 3", m)
			}
		}
	}
	if !found {
		t.Errorf("no completion notification: %s", n.Raw)
	}
	// The requester's list shows the completed request with all three shares.
	l := s.Get(t, "/settlements?role=requested&status=completed", kim.Token)
	if ss, _ := l.Body["settlements"].([]any); len(ss) != 1 || stacktest.Int(ss[0].(map[string]any)["participantCount"]) != 3 {
		t.Errorf("requested list: %s", l.Raw)
	}

	// Completion by a decline, and a cancelled request.
	sid2, _ := createSettlement(t, s, kim, 9_000, lee, kim, park)
	if r := s.Post(t, sharePath(sid2, lee.ID, "decline"), lee.Token, ""); r.Status != 200 {
		t.Fatalf("lee declines: %s", r.Raw)
	}
	checkCounts(t, "GET after lee declined", s.Get(t, "/settlements/"+sid2, kim.Token), 1, 1, 1, 0)
	if r := s.Post(t, sharePath(sid2, park.ID, "decline"), park.Token, ""); r.Status != 200 || r.Body["settlementStatus"] != "completed" {
		t.Fatalf("park declines last: %s", r.Raw)
	}
	checkCounts(t, "GET completed by declines", s.Get(t, "/settlements/"+sid2, kim.Token), 1, 0, 2, 0)

	sid3, _ := createSettlement(t, s, kim, 9_000, kim, lee, park)
	if r := s.Post(t, sharePath(sid3, lee.ID, "pay"), lee.Token, ""); r.Status != 201 {
		t.Fatalf("lee pays: %s", r.Raw)
	}
	if r := s.Post(t, "/settlements/"+sid3+"/cancel", kim.Token, ""); r.Status != 200 {
		t.Fatalf("cancel: %s", r.Raw)
	}
	checkCounts(t, "GET cancelled", s.Get(t, "/settlements/"+sid3, kim.Token), 2, 0, 0, 1)
	if a := s.Available(t, kim); a != 23_000 {
		t.Errorf("kim has %d, want 20,000 + 3,000", a)
	}
}

// openSavings opens a free savings account: its id, or the refusal.
func openSavings(t *testing.T, s *stacktest.Stack, u stacktest.User) (string, resp) {
	t.Helper()
	r := s.Post(t, "/accounts", u.Token, "")
	if r.Status != 201 {
		return "", r
	}
	return r.Body["id"].(string), r
}

func closeSavings(t *testing.T, s *stacktest.Stack, u stacktest.User, id string) resp {
	t.Helper()
	return s.Post(t, "/accounts/"+id+"/close", u.Token, "")
}

// openSavingsCount counts u's savings accounts that GET /accounts/{id} says are open.
func openSavingsCount(t *testing.T, s *stacktest.Stack, u stacktest.User) int {
	t.Helper()
	l := s.Get(t, "/accounts", u.Token)
	n := 0
	for _, a := range l.Body["accounts"].([]any) {
		m := a.(map[string]any)
		if m["kind"] != "savings" {
			continue
		}
		r := s.Get(t, "/accounts/"+m["id"].(string), u.Token)
		if r.Body["savings"].(map[string]any)["status"] == "open" {
			n++
		}
	}
	return n
}

// Item 9: the cap is on open savings accounts: open 20, the 21st is
// refused; close 5 (one of them holding money), and exactly 5 more open.
func TestIssue22ClosingSavingsFreesASlot(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	s.Fund(t, kim, 100_000)
	var ids []string
	for i := 0; i < savings.MaxSavingsAccounts; i++ {
		id, r := openSavings(t, s, kim)
		if id == "" {
			t.Fatalf("open %d: %s", i+1, r.Raw)
		}
		ids = append(ids, id)
	}
	if _, r := openSavings(t, s, kim); r.String() != "422 too_many_accounts" {
		t.Fatalf("21st open: %s", r.Raw)
	}
	if r := s.Post(t, "/accounts/"+ids[0]+"/deposits", kim.Token, `{"amount":30000}`); r.Status != 201 {
		t.Fatalf("deposit: %s", r.Raw)
	}
	for _, id := range ids[:5] {
		if r := closeSavings(t, s, kim, id); r.Status != 201 {
			t.Fatalf("close %s: %s", id, r.Raw)
		}
	}
	// Closing twice frees nothing more.
	if r := closeSavings(t, s, kim, ids[0]); r.String() != "409 savings_account_closed" {
		t.Fatalf("second close: %s", r.Raw)
	}
	for i := 0; i < 5; i++ {
		if id, r := openSavings(t, s, kim); id == "" {
			t.Fatalf("open %d after closing 5: %s", i+1, r.Raw)
		}
	}
	if _, r := openSavings(t, s, kim); r.String() != "422 too_many_accounts" {
		t.Fatalf("open past the cap again: %s", r.Raw)
	}
	if n := openSavingsCount(t, s, kim); n != savings.MaxSavingsAccounts {
		t.Errorf("%d open savings accounts, want %d", n, savings.MaxSavingsAccounts)
	}
	if a := s.Available(t, kim); a != 100_000 {
		t.Errorf("kim has %d, want 100,000 back", a)
	}
}

// Item 9 under races: 30 opens at once give exactly 20 accounts; then 8
// closes and 16 opens at once: every close succeeds, the open accounts
// never pass 20, and the counter stays exact: afterwards opening fills
// exactly up to 20 again.
func TestIssue22SavingsCapUnderRacingOpensAndCloses(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	var mu sync.Mutex
	var ids []string
	outcomes := map[string]int{}
	burst(30, func(int) {
		id, r := openSavings(t, s, kim)
		mu.Lock()
		defer mu.Unlock()
		outcomes[r.String()]++
		if id != "" {
			ids = append(ids, id)
		}
	})
	if outcomes["201"] != savings.MaxSavingsAccounts || outcomes["422 too_many_accounts"] != 30-savings.MaxSavingsAccounts {
		t.Fatalf("30 opens at once: %v", outcomes)
	}
	closing := ids[:8]
	outcomes = map[string]int{}
	burst(24, func(i int) {
		var r resp
		if i < len(closing) {
			r = closeSavings(t, s, kim, closing[i])
			r.Status += 1000 // tell closes from opens in the tally
		} else {
			_, r = openSavings(t, s, kim)
		}
		mu.Lock()
		defer mu.Unlock()
		outcomes[r.String()]++
	})
	opened := outcomes["201"]
	if outcomes["1201"] != len(closing) || opened+outcomes["422 too_many_accounts"] != 16 || opened > len(closing) {
		t.Fatalf("8 closes and 16 opens at once: %v", outcomes)
	}
	if n := openSavingsCount(t, s, kim); n != savings.MaxSavingsAccounts-len(closing)+opened {
		t.Fatalf("%d open, want %d", n, savings.MaxSavingsAccounts-len(closing)+opened)
	}
	for i := opened; i < len(closing); i++ {
		if id, r := openSavings(t, s, kim); id == "" {
			t.Fatalf("refill %d: %s", i, r.Raw)
		}
	}
	if _, r := openSavings(t, s, kim); r.String() != "422 too_many_accounts" {
		t.Fatalf("open past the cap after the race: %s", r.Raw)
	}
	if n := openSavingsCount(t, s, kim); n != savings.MaxSavingsAccounts {
		t.Errorf("%d open savings accounts, want %d", n, savings.MaxSavingsAccounts)
	}
}

// Item 9 at maturity: an account that matures frees its slot as a
// closed one does.
func TestIssue22MaturityFreesASlot(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	s.Fund(t, kim, 100_000)
	st := ddbtest.Start.In(clock.KST)
	s.Clock.Set(time.Date(st.Year(), st.Month(), st.Day(), 10, 0, 0, 0, clock.KST))
	r := s.Post(t, "/accounts", kim.Token, `{"name":"one month","termMonths":1}`)
	if r.Status != 201 {
		t.Fatalf("open: %s", r.Raw)
	}
	short := r.Body["id"].(string)
	if r := s.Post(t, "/accounts/"+short+"/deposits", kim.Token, `{"amount":50000}`); r.Status != 201 {
		t.Fatalf("deposit: %s", r.Raw)
	}
	for i := 1; i < savings.MaxSavingsAccounts; i++ {
		if id, r := openSavings(t, s, kim); id == "" {
			t.Fatalf("open %d: %s", i+1, r.Raw)
		}
	}
	if _, r := openSavings(t, s, kim); r.String() != "422 too_many_accounts" {
		t.Fatalf("21st open: %s", r.Raw)
	}
	// A month later, at 04:00 Asia/Seoul, the interest job matures it.
	s.Clock.Set(time.Date(st.Year(), st.Month()+1, st.Day(), 4, 0, 0, 0, clock.KST))
	if _, err := s.Emulator.Fire(context.Background(), "savings-interest", s.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := s.Get(t, "/accounts/"+short, kim.Token); r.Body["savings"].(map[string]any)["status"] != savings.StatusMatured {
		t.Fatalf("not matured: %s", r.Raw)
	}
	if id, r := openSavings(t, s, kim); id == "" {
		t.Fatalf("open after the maturity: %s", r.Raw)
	}
	if _, r := openSavings(t, s, kim); r.String() != "422 too_many_accounts" {
		t.Fatalf("open past the cap after the maturity: %s", r.Raw)
	}
	if a := s.Available(t, kim); a <= 100_000 {
		t.Errorf("kim has %d: principal and interest not back", a)
	}
}
