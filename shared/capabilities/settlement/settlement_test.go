package settlement_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"minipay/shared/capabilities/settlement"
)

// 20,000 among Kim (the requester, a participant), Lee and Park: 6,667 +
// 6,667 + 6,666; Kim's share is settled at once; Lee and Park pay into
// Kim's main account; the last payment completes the request; both sides'
// history names the settlement and its memo.
func TestTwentyThousandAmongThree(t *testing.T) {
	w := newWorld(t)
	kim, lee, park := w.Register(t, "Kim Minji"), w.Register(t, "Lee Jun"), w.Register(t, "Park Sora")
	w.fund(t, lee, 50_000)
	w.fund(t, park, 50_000)
	sid, r := w.mustCreate(t, kim, body(20_000, []user{kim, lee, park}, `"split":"equal","memo":"dinner at Jinmi"`))
	if !settlement.ValidID(sid) || r.Body["status"] != "open" || num(r.Body["total"]) != 20_000 || num(r.Body["openCount"]) != 2 ||
		num(r.Body["outstanding"]) == 0 || r.Body["split"] != "equal" {
		t.Fatalf("create: %s", r.Raw)
	}
	v := w.view(t, kim, sid)
	got := amounts(v)
	all := []int64{got[kim.ID], got[lee.ID], got[park.ID]}
	if s := sorted(all); s[0] != 6_666 || s[1] != 6_667 || s[2] != 6_667 {
		t.Fatalf("shares %v, want 6,666 + 6,667 + 6,667", all)
	}
	st := statuses(v)
	if st[kim.ID] != "paid" || st[lee.ID] != "open" || st[park.ID] != "open" || !v.Participants[0].Self {
		t.Fatalf("statuses %v (%+v)", st, v.Participants)
	}
	// The requester's own share counts as paid from the start.
	if v.Outstanding != got[lee.ID]+got[park.ID] || v.Collected != 0 || v.OpenCount != 2 || v.PaidCount != 1 {
		t.Fatalf("progress %+v", v)
	}
	// The shares are stored: every read says the same.
	for i := 0; i < 3; i++ {
		if again := amounts(w.view(t, kim, sid)); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("shares changed: %v then %v", got, again)
		}
	}

	w.Clock.Advance(time.Minute)
	pr := w.mustPay(t, lee, sid)
	if num(pr.Body["amount"]) != got[lee.ID] || pr.Body["settlementStatus"] != "open" || num(pr.Body["autoCharged"]) != 0 ||
		pr.Body["toAccount"] != kim.Main || pr.Body["fromAccount"] != lee.Main {
		t.Fatalf("lee pays: %s", pr.Raw)
	}
	w.Clock.Advance(time.Minute)
	pr = w.mustPay(t, park, sid)
	if pr.Body["settlementStatus"] != "completed" {
		t.Fatalf("park pays last: %s", pr.Raw)
	}
	collected := got[lee.ID] + got[park.ID]
	if a := w.available(t, kim); a != collected {
		t.Errorf("kim has %d, want %d", a, collected)
	}
	if a := w.available(t, lee); a != 50_000-got[lee.ID] {
		t.Errorf("lee has %d", a)
	}
	v = w.view(t, kim, sid)
	if v.Status != "completed" || v.Collected != collected || v.OpenCount != 0 || v.PaidCount != 3 || v.Outstanding != 0 || v.CompletedAt.IsZero() {
		t.Fatalf("completed view %+v", v)
	}
	// A participant sees their own share only.
	lv := w.view(t, lee, sid)
	if lv.YourShare == nil || lv.YourShare.Status != "paid" || lv.YourShare.Amount != got[lee.ID] || len(lv.Participants) != 0 || lv.Status != "completed" {
		t.Fatalf("lee's view %+v", lv)
	}
	// History: both entries name the settlement and its memo.
	in := w.entries(t, kim)
	if len(in) != 2 {
		t.Fatalf("kim's entries %v", in)
	}
	for _, e := range in {
		if e["type"] != "settlement" || e["reference"] != "settlement "+sid || e["memo"] != "dinner at Jinmi" || e["direction"] != "in" {
			t.Errorf("requester entry %v", e)
		}
	}
	if in[0]["counterparty"] != "Park Sora" || in[1]["counterparty"] != "Lee Jun" {
		t.Errorf("requester entries' counterparties: %v / %v", in[0]["counterparty"], in[1]["counterparty"])
	}
	out := w.entries(t, lee)[0]
	if out["type"] != "settlement" || out["reference"] != "settlement "+sid || out["memo"] != "dinner at Jinmi" ||
		num(out["amount"]) != -got[lee.ID] || out["counterparty"] != "Kim Minji" || out["counterpartyAccount"] != kim.Main {
		t.Errorf("payer entry %v", out)
	}
	// Notifications: Lee and Park were asked; Kim heard of each payment and of the completion once.
	for _, u := range []user{lee, park} {
		if n := w.notifCount(t, u, settlement.NotifRequested, sid); n != 1 {
			t.Errorf("%s: %d requests", u.Name, n)
		}
	}
	if w.notifCount(t, kim, settlement.NotifPaid, sid) != 2 || w.notifCount(t, kim, settlement.NotifCompleted, sid) != 1 ||
		w.notifCount(t, kim, settlement.NotifRequested, sid) != 0 {
		t.Errorf("kim's notifications %v", w.notifications(t, kim))
	}
	if ns := w.notifications(t, kim); ns[0]["type"] != settlement.NotifCompleted || num(ns[0]["collected"]) != collected ||
		ns[1]["type"] != settlement.NotifPaid || ns[1]["userId"] != park.ID {
		t.Errorf("kim's newest notifications: %v", ns[:2])
	}
	// Lists.
	if got := w.list(t, kim, "requested", "completed"); len(got) != 1 || got[0] != sid {
		t.Errorf("kim's completed %v", got)
	}
	if got := w.list(t, kim, "requested", "open"); len(got) != 0 {
		t.Errorf("kim's open %v", got)
	}
	if got := w.list(t, lee, "received", "paid"); len(got) != 1 || got[0] != sid {
		t.Errorf("lee's paid %v", got)
	}
	if got := w.list(t, kim, "received", "open"); len(got) != 0 {
		t.Errorf("kim received %v", got)
	}
}

// Over many requests the participant who gets the smaller share of 20,000
// among 3 is not always the same position.
func TestEqualSplitExtraWonGoesToRandomParticipants(t *testing.T) {
	w := newWorld(t)
	ps := w.users(t, 4, "p")
	low := map[int]int{}
	for i := 0; i < 24; i++ {
		sid, _ := w.mustCreate(t, ps[0], body(20_000, ps[1:], `"split":"equal"`))
		v := w.view(t, ps[0], sid)
		for j, p := range v.Participants {
			if p.Amount == 6_666 {
				low[j]++
			}
		}
	}
	if len(low) < 2 {
		t.Errorf("the 6,666 share always went to one position: %v", low)
	}
}

func TestRandomAndExplicitSplits(t *testing.T) {
	w := newWorld(t)
	ps := w.users(t, 6, "p")
	for _, c := range []struct {
		name, extra string
		total       int64
		minimum     int64
	}{
		{"random", `"split":"random"`, 12_345, 1},
		{"random at the minimum", `"split":"random","minimumShare":2000`, 10_000, 2000},
		{"random with a minimum", `"split":"random","minimumShare":1000`, 50_000, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			sid, _ := w.mustCreate(t, ps[0], body(c.total, ps[1:], c.extra))
			v := w.view(t, ps[0], sid)
			var sum int64
			for _, p := range v.Participants {
				if p.Amount < c.minimum {
					t.Errorf("share %d below %d", p.Amount, c.minimum)
				}
				sum += p.Amount
			}
			if sum != c.total || len(v.Participants) != 5 || v.Split != "random" {
				t.Errorf("sum %d of %d shares: %+v", sum, len(v.Participants), v)
			}
		})
	}
	t.Run("explicit", func(t *testing.T) {
		sid, _ := w.mustCreate(t, ps[0], body(10_000, ps[:3], `"split":"explicit","amounts":[5000,3000,2000],"memo":"taxi"`))
		v := w.view(t, ps[0], sid)
		if a := amounts(v); a[ps[0].ID] != 5000 || a[ps[1].ID] != 3000 || a[ps[2].ID] != 2000 || v.Outstanding != 5000 || v.Memo != "taxi" {
			t.Errorf("explicit %+v", v)
		}
	})
}

// Each bad request is a 4xx problem with its own code, and nothing is
// written or moved.
func TestBadInput(t *testing.T) {
	w := newWorld(t)
	kim, lee, park := w.Register(t, "Kim"), w.Register(t, "Lee"), w.Register(t, "Park")
	w.fund(t, kim, 10_000)
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprintf("u_%016d", i))
	}
	ids := func(us ...string) string { return `"participants":["` + strings.Join(us, `","`) + `"]` }
	for _, c := range []struct {
		name, body, want string
	}{
		{"duplicate participants", `{"total":1000,` + ids(lee.ID, park.ID, lee.ID) + `}`, "400 settlement_duplicate_participant"},
		{"unknown user", `{"total":1000,` + ids(lee.ID, "u_0000000000000009") + `}`, "422 settlement_unknown_participant"},
		{"more than 100", `{"total":100000,"participants":[` + strings.Join(many, ",") + `]}`, "400 settlement_too_many_participants"},
		{"amounts do not sum", `{"total":1000,"split":"explicit","amounts":[500,400],` + ids(lee.ID, park.ID) + `}`, "400 settlement_amounts_mismatch"},
		{"fewer won than participants", `{"total":1,` + ids(lee.ID, park.ID) + `}`, "422 settlement_total_too_small"},
		{"below the random minimum", `{"total":1999,"split":"random","minimumShare":1000,` + ids(lee.ID, park.ID) + `}`, "422 settlement_total_too_small"},
		{"only the requester", `{"total":1000,` + ids(kim.ID) + `}`, "400 invalid_field"},
		{"no participants", `{"total":1000,"participants":[]}`, "400 invalid_field"},
		{"not a user id", `{"total":1000,` + ids("kim") + `}`, "400 invalid_field"},
		{"explicit without amounts", `{"total":1000,"split":"explicit",` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"amounts with equal", `{"total":1000,"amounts":[500,500],` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"minimum with equal", `{"total":1000,"minimumShare":10,` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"zero amount", `{"total":1000,"split":"explicit","amounts":[1000,0],` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"unknown split", `{"total":1000,"split":"halves",` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"fractional total", `{"total":10.5,` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"no total", `{` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"due in the past", `{"total":1000,"dueAt":"2020-01-01T00:00:00Z",` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"due too far", `{"total":1000,"dueAt":"2030-01-01T00:00:00Z",` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"due not a time", `{"total":1000,"dueAt":"tomorrow",` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"memo too long", `{"total":1000,"memo":"` + strings.Repeat("x", 201) + `",` + ids(lee.ID, park.ID) + `}`, "400 invalid_field"},
		{"unknown field", `{"total":1000,"tip":5,` + ids(lee.ID, park.ID) + `}`, "400 bad_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := w.create(t, kim, c.body)
			if got := outcome(r); got != c.want {
				t.Fatalf("%s, want %s", r.Raw, c.want)
			}
			if r.Body["detail"] == nil || r.Header["content-type"] != "application/problem+json" {
				t.Errorf("problem without detail: %s", r.Raw)
			}
		})
	}
	if r := w.Do(t, call{Fn: "create-settlement", Caller: kim.ID, Body: body(1000, []user{lee}, "")}); outcome(r) != "400 idempotency_key_required" {
		t.Errorf("without a key: %s", r.Raw)
	}
	for _, role := range []string{"requested", "received"} {
		for _, u := range []user{kim, lee, park} {
			if got := w.list(t, u, role, "open"); len(got) != 0 {
				t.Errorf("%s %s: %v", u.Name, role, got)
			}
		}
	}
	if len(w.notifications(t, lee)) != 0 || w.available(t, kim) != 10_000 {
		t.Error("a refused request wrote something")
	}
}

// Who may do what: strangers learn nothing (404), the requester cannot pay
// or decline a participant's share (403), a participant cannot pay
// another's (404) nor cancel or remind (404).
func TestAuthorization(t *testing.T) {
	w := newWorld(t)
	kim, lee, park, stranger := w.Register(t, "Kim"), w.Register(t, "Lee"), w.Register(t, "Park"), w.Register(t, "Stranger")
	for _, u := range []user{kim, lee, park, stranger} {
		w.fund(t, u, 50_000)
	}
	sid, _ := w.mustCreate(t, kim, body(30_000, []user{kim, lee, park}, `"memo":"rent"`))
	for _, c := range []struct {
		name string
		r    result
		want string
	}{
		{"stranger reads", w.get(t, stranger, sid), "404 settlement_not_found"},
		{"stranger pays lee's share", w.pay(t, stranger, sid, lee.ID, ""), "404 settlement_not_found"},
		{"stranger pays a share of their own", w.pay(t, stranger, sid, stranger.ID, ""), "404 settlement_not_found"},
		{"stranger declines", w.decline(t, stranger, sid, stranger.ID), "404 settlement_not_found"},
		{"stranger cancels", w.cancel(t, stranger, sid), "404 settlement_not_found"},
		{"stranger reminds", w.remind(t, stranger, sid), "404 settlement_not_found"},
		{"requester pays lee's share", w.pay(t, kim, sid, lee.ID, ""), "403 settlement_not_your_share"},
		{"requester declines lee's share", w.decline(t, kim, sid, lee.ID), "403 settlement_not_your_share"},
		{"requester pays own settled share", w.pay(t, kim, sid, kim.ID, ""), "409 settlement_share_paid"},
		{"requester declines own settled share", w.decline(t, kim, sid, kim.ID), "409 settlement_share_paid"},
		{"lee pays park's share", w.pay(t, lee, sid, park.ID, ""), "403 settlement_not_your_share"},
		{"lee declines park's share", w.decline(t, lee, sid, park.ID), "403 settlement_not_your_share"},
		{"lee cancels", w.cancel(t, lee, sid), "404 settlement_not_found"},
		{"lee reminds", w.remind(t, lee, sid), "404 settlement_not_found"},
		{"unknown settlement", w.get(t, kim, "sr_01kapq0e00abcdefghjkmnpqrs"), "404 settlement_not_found"},
		{"malformed id", w.pay(t, lee, "nope", lee.ID, ""), "404 settlement_not_found"},
		{"malformed user", w.pay(t, lee, sid, "nope", ""), "403 settlement_not_your_share"},
		{"stranger names a malformed user", w.pay(t, stranger, sid, "nope", ""), "404 settlement_not_found"},
		{"no key", w.Do(t, call{Fn: "pay-settlement", Caller: lee.ID, Path: map[string]string{"id": sid, "userId": lee.ID}}), "400 idempotency_key_required"},
	} {
		if got := outcome(c.r); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.r.Raw, c.want)
		}
	}
	for _, u := range []user{kim, lee, park, stranger} {
		if a := w.available(t, u); a != 50_000 {
			t.Errorf("%s has %d: money moved", u.Name, a)
		}
	}
	if v := w.view(t, kim, sid); v.OpenCount != 2 || v.Collected != 0 {
		t.Errorf("view %+v", v)
	}
}

// Paying uses transfers' automatic charge: the shortfall in 10,000 won
// steps within the daily limit.
func TestPayAutoCharges(t *testing.T) {
	w := newWorld(t)
	kim, lee, park, choi := w.Register(t, "Kim"), w.Register(t, "Lee"), w.Register(t, "Park"), w.Register(t, "Choi")
	w.charge(t, lee, 3_000)
	w.charge(t, choi, 3_000_000) // today's limit spent
	sid, _ := w.mustCreate(t, kim, body(36_000, []user{lee, park, choi}, `"split":"explicit","amounts":[12000,10000,14000],"memo":"trip"`))
	w.Clock.Advance(time.Second) // history sorts by time

	r := w.mustPay(t, lee, sid) // 3,000 available, 12,000 due: 10,000 charged
	if num(r.Body["autoCharged"]) != 10_000 {
		t.Fatalf("lee: %s", r.Raw)
	}
	if a := w.available(t, lee); a != 1_000 {
		t.Errorf("lee has %d, want 1,000", a)
	}
	e := w.entries(t, lee)
	if len(e) != 3 || e[0]["type"] != "settlement" || e[1]["type"] != "charge" || !strings.Contains(fmt.Sprint(e[1]["memo"]), sid) {
		t.Errorf("lee's history %v", e)
	}
	r = w.mustPay(t, park, sid) // nothing, 10,000 due: exactly 10,000 charged
	if num(r.Body["autoCharged"]) != 10_000 || w.available(t, park) != 0 {
		t.Fatalf("park: %s", r.Raw)
	}
	// Choi's balance covers it: no charge needed, although the limit is spent.
	if r := w.mustPay(t, choi, sid); num(r.Body["autoCharged"]) != 0 || r.Body["settlementStatus"] != "completed" {
		t.Fatalf("choi: %s", r.Raw)
	}
	if a := w.available(t, kim); a != 36_000 {
		t.Errorf("kim has %d", a)
	}

	// A shortfall past the daily limit is refused: nothing moves.
	sid2, _ := w.mustCreate(t, kim, body(3_000_000, []user{choi, lee}, `"split":"explicit","amounts":[2990000,10000]`))
	if r := w.pay(t, choi, sid2, choi.ID, ""); outcome(r) != "422 daily_limit_exceeded" {
		t.Fatalf("past the limit: %s", r.Raw)
	}
	if a := w.available(t, choi); a != 3_000_000-14_000 {
		t.Errorf("choi has %d", a)
	}
	if v := w.view(t, kim, sid2); statuses(v)[choi.ID] != "open" || v.Collected != 0 {
		t.Errorf("after a refused payment %+v", v)
	}
}

func TestDeclineAndCompletion(t *testing.T) {
	w := newWorld(t)
	kim, lee, park := w.Register(t, "Kim"), w.Register(t, "Lee"), w.Register(t, "Park")
	w.fund(t, park, 10_000)
	sid, _ := w.mustCreate(t, kim, body(9_000, []user{lee, park}, `"memo":"cake"`))
	r := w.decline(t, lee, sid, lee.ID)
	if r.Status != 200 || r.Body["status"] != "declined" || r.Body["settlementStatus"] != "open" {
		t.Fatalf("decline: %s", r.Raw)
	}
	for _, c := range []struct {
		r    result
		want string
	}{{w.decline(t, lee, sid, lee.ID), "409 settlement_share_declined"}, {w.pay(t, lee, sid, lee.ID, ""), "409 settlement_share_declined"}} {
		if outcome(c.r) != c.want {
			t.Errorf("%s, want %s", c.r.Raw, c.want)
		}
	}
	if r := w.mustPay(t, park, sid); r.Body["settlementStatus"] != "completed" {
		t.Fatalf("park: %s", r.Raw)
	}
	v := w.view(t, kim, sid)
	if v.Status != "completed" || v.Collected != 4_500 || v.DeclinedCount != 1 || v.PaidCount != 1 || statuses(v)[lee.ID] != "declined" {
		t.Fatalf("view %+v", v)
	}
	if w.notifCount(t, kim, settlement.NotifDeclined, sid) != 1 || w.notifCount(t, kim, settlement.NotifCompleted, sid) != 1 {
		t.Errorf("kim's notifications %v", w.notifications(t, kim))
	}
	if got := w.list(t, lee, "received", "declined"); len(got) != 1 || got[0] != sid {
		t.Errorf("lee's declined %v", got)
	}
	// A completed request: every action is refused with its code.
	for _, c := range []struct {
		r    result
		want string
	}{{w.pay(t, park, sid, park.ID, ""), "409 settlement_completed"}, {w.decline(t, lee, sid, lee.ID), "409 settlement_completed"},
		{w.cancel(t, kim, sid), "409 settlement_completed"}, {w.remind(t, kim, sid), "409 settlement_completed"}} {
		if outcome(c.r) != c.want {
			t.Errorf("%s, want %s", c.r.Raw, c.want)
		}
	}
	// The last to decline completes too.
	sid2, _ := w.mustCreate(t, kim, body(2_000, []user{lee, park}, ""))
	w.decline(t, lee, sid2, lee.ID)
	if r := w.decline(t, park, sid2, park.ID); r.Body["settlementStatus"] != "completed" {
		t.Fatalf("last decline: %s", r.Raw)
	}
	if v := w.view(t, kim, sid2); v.Status != "completed" || v.Collected != 0 || v.DeclinedCount != 2 {
		t.Errorf("all declined %+v", v)
	}
}

// Cancelling releases the open shares; paid shares stay paid. Everything
// after it is refused with settlement_cancelled.
func TestCancel(t *testing.T) {
	w := newWorld(t)
	kim, lee, park, choi := w.Register(t, "Kim"), w.Register(t, "Lee"), w.Register(t, "Park"), w.Register(t, "Choi")
	w.fund(t, lee, 10_000)
	sid, _ := w.mustCreate(t, kim, body(9_000, []user{lee, park, choi}, `"memo":"pizza"`))
	w.mustPay(t, lee, sid)
	w.decline(t, choi, sid, choi.ID)
	r := w.cancel(t, kim, sid)
	if r.Status != 200 || r.Body["status"] != "cancelled" || num(r.Body["collected"]) != 3_000 || num(r.Body["outstanding"]) != 0 {
		t.Fatalf("cancel: %s", r.Raw)
	}
	v := w.view(t, kim, sid)
	if st := statuses(v); st[lee.ID] != "paid" || st[park.ID] != "cancelled" || st[choi.ID] != "declined" || v.Collected != 3_000 {
		t.Fatalf("after cancel %v %+v", st, v)
	}
	if w.available(t, kim) != 3_000 || w.available(t, lee) != 7_000 {
		t.Error("cancel moved money")
	}
	for _, c := range []struct {
		r    result
		want string
	}{
		{w.pay(t, park, sid, park.ID, ""), "409 settlement_cancelled"},
		{w.decline(t, park, sid, park.ID), "409 settlement_cancelled"},
		{w.pay(t, lee, sid, lee.ID, ""), "409 settlement_cancelled"},
		{w.cancel(t, kim, sid), "409 settlement_cancelled"},
		{w.remind(t, kim, sid), "409 settlement_cancelled"},
	} {
		if outcome(c.r) != c.want {
			t.Errorf("%s, want %s", c.r.Raw, c.want)
		}
	}
	if got := w.list(t, park, "received", "cancelled"); len(got) != 1 || got[0] != sid {
		t.Errorf("park's cancelled %v", got)
	}
	if got := w.list(t, park, "received", "open"); len(got) != 0 {
		t.Errorf("park's open %v", got)
	}
	if got := w.list(t, kim, "requested", "cancelled"); len(got) != 1 {
		t.Errorf("kim's cancelled %v", got)
	}
	if w.notifCount(t, park, settlement.NotifCancelled, sid) != 1 || w.notifCount(t, lee, settlement.NotifCancelled, sid) != 0 ||
		w.notifCount(t, choi, settlement.NotifCancelled, sid) != 0 {
		t.Error("cancellation notifications go to the open participants only")
	}
	// Nothing is left for the sweep.
	w.Clock.Advance(time.Hour)
	if s := w.sweep(t); s.Due != 0 {
		t.Errorf("sweep %+v", s)
	}
}

// Reminders reach the open participants, at most once an hour per request.
func TestRemindRateLimited(t *testing.T) {
	w := newWorld(t)
	kim, lee, park, choi := w.Register(t, "Kim"), w.Register(t, "Lee"), w.Register(t, "Park"), w.Register(t, "Choi")
	w.fund(t, lee, 10_000)
	sid, _ := w.mustCreate(t, kim, body(9_000, []user{lee, park, choi}, ""))
	w.mustPay(t, lee, sid)
	r := w.remind(t, kim, sid)
	if r.Status != 200 || num(r.Body["reminded"]) != 2 {
		t.Fatalf("remind: %s", r.Raw)
	}
	for u, want := range map[user]int{lee: 0, park: 1, choi: 1} {
		if n := w.notifCount(t, u, settlement.NotifReminder, sid); n != want {
			t.Errorf("%s: %d reminders, want %d", u.Name, n, want)
		}
	}
	w.Clock.Advance(59 * time.Minute)
	r = w.remind(t, kim, sid)
	if outcome(r) != "429 settlement_remind_too_soon" || r.Header["retry-after"] != "61" || num(r.Body["retryAfterSeconds"]) != 61 {
		t.Fatalf("within the hour: %v %s", r.Header, r.Raw)
	}
	w.decline(t, choi, sid, choi.ID)
	w.Clock.Advance(time.Minute)
	if r := w.remind(t, kim, sid); r.Status != 200 || num(r.Body["reminded"]) != 1 {
		t.Fatalf("after the hour: %s", r.Raw)
	}
	if w.notifCount(t, park, settlement.NotifReminder, sid) != 2 || w.notifCount(t, choi, settlement.NotifReminder, sid) != 1 {
		t.Error("second reminder")
	}
	for _, n := range w.notifications(t, park) {
		if n["type"] == settlement.NotifReminder && n["reason"] != settlement.ReasonRequester {
			t.Errorf("reminder %v", n)
		}
	}
	// The sweep has nothing left to do.
	w.Clock.Advance(time.Hour)
	if s := w.sweep(t); s.Reminded != 0 || s.Due != 0 {
		t.Errorf("sweep %+v", s)
	}
}

// The automatic reminder goes 24 h before the due date, once, to the open
// participants; missed runs catch up; a requester's reminder within the
// hour before covers it; a request due too soon gets none.
func TestAutomaticDueReminder(t *testing.T) {
	w := newWorld(t)
	kim, lee, park := w.Register(t, "Kim"), w.Register(t, "Lee"), w.Register(t, "Park")
	w.fund(t, lee, 10_000)
	start := w.Clock.Now()
	due := start.Add(72 * time.Hour).UTC().Format(time.RFC3339)
	sid, _ := w.mustCreate(t, kim, body(2_000, []user{lee, park}, `"dueAt":"`+due+`"`))
	covered, _ := w.mustCreate(t, kim, body(2_000, []user{lee, park}, `"dueAt":"`+due+`"`))
	soon, _ := w.mustCreate(t, kim, body(2_000, []user{lee, park}, `"dueAt":"`+start.Add(30*time.Minute).UTC().Format(time.RFC3339)+`"`))
	late, _ := w.mustCreate(t, kim, body(2_000, []user{lee, park}, `"dueAt":"`+start.Add(80*time.Hour).UTC().Format(time.RFC3339)+`"`))
	w.mustPay(t, lee, sid)

	w.Clock.Set(start.Add(48*time.Hour - time.Minute))
	if s := w.sweep(t); s.Reminded != 0 || s.Due != 0 {
		t.Errorf("before: %+v", s)
	}
	if r := w.remind(t, kim, covered); r.Status != 200 { // 30 min before its automatic reminder
		t.Fatal(r.Raw)
	}
	w.Clock.Set(start.Add(48*time.Hour + 29*time.Minute))
	if s := w.sweep(t); s.Reminded != 1 || s.Due != 2 {
		t.Errorf("at 48 h: %+v (want park reminded for %s; %s covered)", s, sid, covered)
	}
	if s := w.sweep(t); s.Reminded != 0 || s.Due != 0 {
		t.Errorf("again: %+v", s)
	}
	if w.notifCount(t, park, settlement.NotifReminder, sid) != 1 || w.notifCount(t, lee, settlement.NotifReminder, sid) != 0 {
		t.Error("the automatic reminder goes to the open participants once")
	}
	for _, n := range w.notifications(t, park) {
		if n["type"] == settlement.NotifReminder && n["settlementId"] == sid && n["reason"] != settlement.ReasonDue {
			t.Errorf("reminder %v", n)
		}
	}
	if w.notifCount(t, park, settlement.NotifReminder, covered) != 1 {
		t.Error("the covered request was reminded twice")
	}
	// Missed runs: the sweep runs again only days later, past the due dates.
	w.Clock.Set(start.Add(100 * time.Hour))
	if s := w.sweep(t); s.Reminded != 2 || s.Due != 1 {
		t.Errorf("catch-up: %+v (late: %s)", s, late)
	}
	if w.notifCount(t, park, settlement.NotifReminder, soon) != 0 || w.notifCount(t, park, settlement.NotifReminder, late) != 1 {
		t.Error("soon/late reminders")
	}
	if v := w.view(t, kim, late); v.Status != "open" {
		t.Errorf("past due: %+v", v)
	}
}

func TestListsPaged(t *testing.T) {
	w := newWorld(t)
	kim, lee := w.Register(t, "Kim"), w.Register(t, "Lee")
	var ids []string
	for i := 0; i < 5; i++ {
		w.Clock.Advance(time.Second)
		sid, _ := w.mustCreate(t, kim, body(1_000, []user{lee}, ""))
		ids = append([]string{sid}, ids...)
	}
	if got := w.list(t, lee, "received", "open"); fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("received %v, want %v", got, ids)
	}
	if got := w.list(t, kim, "requested", "open"); fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("requested %v, want %v", got, ids)
	}
	r := w.Do(t, call{Fn: "list-settlements", Caller: lee.ID})
	first := r.Body["settlements"].([]any)[0].(map[string]any)
	if r.Status != 200 || first["id"] != ids[0] || num(first["amount"]) != 1_000 || first["status"] != "open" || first["requester"] != kim.ID {
		t.Errorf("default list: %s", r.Raw)
	}
	for _, q := range []map[string]string{{"role": "boss"}, {"status": "pending"}, {"role": "requested", "status": "paid"},
		{"role": "received", "status": "completed"}, {"limit": "0"}, {"cursor": "nope"}} {
		if r := w.Do(t, call{Fn: "list-settlements", Caller: lee.ID, Query: q}); r.Status != 400 {
			t.Errorf("%v: %d", q, r.Status)
		}
	}
}
