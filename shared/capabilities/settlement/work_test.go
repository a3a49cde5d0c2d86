package settlement_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/capabilities/settlement"
	"minipay/shared/kernel/ddb"
)

// outage fails, while on, every TransactWriteItems whose first item is an
// update of an item whose SK starts with sk, with an expression containing
// match: a Lambda that dies (or a DynamoDB that fails) right after a
// handler's first commit.
type outage struct {
	ddb.Client
	on        atomic.Bool
	sk, match atomic.Value // string
	hits      atomic.Int64
}

func (o *outage) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if o.on.Load() && len(in.TransactItems) > 0 && in.TransactItems[0].Update != nil {
		u := in.TransactItems[0].Update
		sk, _ := u.Key[ddb.AttrSK].(*types.AttributeValueMemberS)
		if sk != nil && strings.HasPrefix(sk.Value, o.sk.Load().(string)) && strings.Contains(aws.ToString(u.UpdateExpression), o.match.Load().(string)) {
			o.hits.Add(1)
			return nil, errors.New("injected outage")
		}
	}
	return o.Client.TransactWriteItems(ctx, in, opts...)
}

func (o *outage) fail(sk, match string) { o.sk.Store(sk); o.match.Store(match); o.on.Store(true) }
func (o *outage) heal()                 { o.on.Store(false) }

// 100 participants do not fit one transaction: the first ones are
// written with the settlement, the rest published at once in chunks;
// every participant is asked, can pay, and is told of the cancellation.
func TestHundredParticipants(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim")
	ps := w.users(t, 100, "p")
	w.fund(t, ps[99], 10_000)
	sid, r := w.mustCreate(t, kim, body(1_000_000, ps, `"memo":"company dinner"`))
	if num(r.Body["openCount"]) != 100 || num(r.Body["participantCount"]) != 100 {
		t.Fatalf("create: %s", r.Raw)
	}
	for _, i := range []int{0, 23, 24, 56, 57, 99} {
		if got := w.list(t, ps[i], "received", "open"); len(got) != 1 || got[0] != sid {
			t.Errorf("participant %d's list %v", i, got)
		}
		if w.notifCount(t, ps[i], settlement.NotifRequested, sid) != 1 {
			t.Errorf("participant %d not asked once", i)
		}
	}
	w.mustPay(t, ps[99], sid)
	w.decline(t, ps[0], sid, ps[0].ID)
	if r := w.remind(t, kim, sid); r.Status != 200 || num(r.Body["reminded"]) != 98 {
		t.Fatalf("remind: %s", r.Raw)
	}
	r = w.cancel(t, kim, sid)
	if r.Status != 200 || num(r.Body["collected"]) != 10_000 {
		t.Fatalf("cancel: %s", r.Raw)
	}
	v := w.view(t, kim, sid)
	st := statuses(v)
	n := map[string]int{}
	for _, s := range st {
		n[s]++
	}
	if n["paid"] != 1 || n["declined"] != 1 || n["cancelled"] != 98 {
		t.Fatalf("statuses %v", n)
	}
	for _, i := range []int{1, 50, 98} {
		if got := w.list(t, ps[i], "received", "cancelled"); len(got) != 1 || w.notifCount(t, ps[i], settlement.NotifCancelled, sid) != 1 {
			t.Errorf("participant %d: cancelled list %v", i, got)
		}
	}
	w.Clock.Advance(time.Hour)
	if s := w.sweep(t); s.Due != 0 {
		t.Errorf("left work: %+v", s)
	}
	if r := w.create(t, kim, body(1_000_000, append(ps, kim, w.Register(t, "one too many")), "")); outcome(r) != "400 settlement_too_many_participants" {
		t.Errorf("102: %s", r.Raw)
	}
}

// Work a handler could not finish (its Lambda died after its first
// commit) is finished by the sweep after the grace period, once, however
// many sweeps run at once.
func TestSweepFinishesWhatACrashLeft(t *testing.T) {
	o := &outage{}
	w := newWorld(t, func(db ddb.Client) ddb.Client { o.Client = db; return o })
	kim := w.Register(t, "Kim")
	ps := w.users(t, 40, "p")
	w.fund(t, ps[39], 10_000)

	// Publishing: the first 24 participants are written with the
	// settlement; the chunk of the other 16 fails.
	o.fail("META", "publishedCount")
	sid, _ := w.mustCreate(t, kim, body(40_000, ps, `"dueAt":"`+w.Clock.Now().Add(72*time.Hour).UTC().Format(time.RFC3339)+`"`))
	o.heal()
	if o.hits.Load() == 0 {
		t.Fatal("the outage did not hit")
	}
	if got := w.list(t, ps[30], "received", "open"); len(got) != 0 {
		t.Fatalf("published despite the outage: %v", got)
	}
	if r := w.pay(t, ps[39], sid, ps[39].ID, ""); outcome(r) != "404 settlement_not_found" {
		t.Fatalf("an unpublished share: %s", r.Raw)
	}
	if v := w.view(t, kim, sid); v.OpenCount != 40 || statuses(v)[ps[39].ID] != "open" {
		t.Fatalf("view %+v", v)
	}
	if s := w.sweep(t); s.Due != 0 { // within the grace the handler's work is its own
		t.Fatalf("sweep within the grace: %+v", s)
	}
	w.Clock.Advance(3 * time.Minute)
	sums := make([]settlement.SweepSummary, 3)
	burst(3, func(i int) { sums[i] = w.sweep(t) })
	if p := sums[0].Published + sums[1].Published + sums[2].Published; p != 16 {
		t.Fatalf("published %d: %+v", p, sums)
	}
	for _, i := range []int{24, 30, 39} {
		if got := w.list(t, ps[i], "received", "open"); len(got) != 1 || w.notifCount(t, ps[i], settlement.NotifRequested, sid) != 1 {
			t.Errorf("participant %d after the sweep: %v", i, got)
		}
	}
	w.mustPay(t, ps[39], sid)

	// A reminder whose fan-out fails.
	o.fail("SHARE#", "remindSeq")
	if r := w.remind(t, kim, sid); r.Status != 200 || num(r.Body["reminded"]) != 0 {
		t.Fatalf("remind in the outage: %s", r.Raw)
	}
	o.heal()
	w.Clock.Advance(3 * time.Minute)
	burst(2, func(i int) { sums[i] = w.sweep(t) })
	if n := sums[0].Reminded + sums[1].Reminded; n != 39 {
		t.Fatalf("reminded %d: %+v", n, sums[:2])
	}
	if w.notifCount(t, ps[0], settlement.NotifReminder, sid) != 1 || w.notifCount(t, ps[39], settlement.NotifReminder, sid) != 0 {
		t.Error("reminders")
	}

	// A cancellation whose fan-out fails.
	o.fail("SHARE#", ":cancelled")
	r := w.cancel(t, kim, sid)
	o.heal()
	if r.Status != 200 || r.Body["status"] != "cancelled" {
		t.Fatalf("cancel in the outage: %s", r.Raw)
	}
	if got := w.list(t, ps[5], "received", "open"); len(got) != 1 {
		t.Fatalf("fanned out despite the outage: %v", got)
	}
	if r := w.pay(t, ps[5], sid, ps[5].ID, ""); outcome(r) != "409 settlement_cancelled" {
		t.Fatalf("pay after the cancellation: %s", r.Raw)
	}
	w.Clock.Advance(3 * time.Minute)
	burst(3, func(i int) { sums[i] = w.sweep(t) })
	if n := sums[0].Cancelled + sums[1].Cancelled + sums[2].Cancelled; n != 39 {
		t.Fatalf("cancelled %d: %+v", n, sums)
	}
	for _, i := range []int{0, 5, 38} {
		if got := w.list(t, ps[i], "received", "cancelled"); len(got) != 1 || w.notifCount(t, ps[i], settlement.NotifCancelled, sid) != 1 {
			t.Errorf("participant %d after the sweep: %v", i, got)
		}
	}
	// Nothing is left, not even the automatic reminder.
	w.Clock.Advance(100 * time.Hour)
	if s := w.sweep(t); s.Due != 0 || s.Reminded != 0 {
		t.Errorf("left work: %+v", s)
	}
	if w.available(t, kim) != 1_000 {
		t.Errorf("kim has %d", w.available(t, kim))
	}
}
