package stacktest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"minipay/localstack/stacktest"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// promotedCredits is how many transfers the promoted receiver's footprints
// average over: its credits spread over ledger.MaxShards shards by a hash
// of random movement ids, so enough of them that each shard's share
// (shard 0's above all: it has a class of its own) is near 1/16.
const promotedCredits = 512

// promoted records the steady state of a hot receiver (mix c): a user's
// main account the fold job has promoted to ledger.MaxShards, credited by
// many payers, and the fold of those credits. The promotion itself is the
// real one (a fold run over more than the threshold of its postings), with
// the threshold lowered so a few transfers reach it.
func (f *footprints) promoted() {
	t := f.t
	s := f.stack()
	s.Services.Ledger.SetPromotion(8, 0)
	rc := s.Register(t, "hot receiver")
	s.must(s.Get(t, "/accounts", rc.Token), 200)
	r := roles{}.user(rc, "payee")
	var payers []stacktest.User
	for i := 0; i < 16; i++ {
		p := s.Register(t, fmt.Sprint("payer", i))
		s.Charge(t, p, 100_000)
		s.must(s.Get(t, "/accounts", p.Token), 200)
		payers = append(payers, p)
		r.user(p, "payer")
	}
	s.Clock.Advance(2 * time.Minute)
	s.fire("ledger-fold") // the charges' postings
	for _, p := range payers {
		s.must(s.Post(t, "/transfers", p.Token, transfer(rc.ID, 100)), 201)
	}
	s.Clock.Advance(2 * time.Minute)
	s.fire("ledger-fold") // 16 postings of one account: promoted
	item, err := s.Table.Get(context.Background(), ledger.MainAccount(rc.ID).Key())
	if err != nil || ddb.Decode(item).N("shards") != ledger.MaxShards {
		t.Fatalf("the receiver was not promoted: %v %v", item, err)
	}
	// Every process learns of it (a count below the maximum is re-read);
	// from then on it is remembered for good.
	for _, p := range payers {
		s.must(s.Post(t, "/transfers", p.Token, transfer(rc.ID, 100)), 201)
	}
	s.Services.Ledger.SetPromotion(ledger.PromoteAfter, ledger.KnownFresh)
	s.Clock.Advance(2 * time.Minute)
	s.fire("ledger-fold")
	pr := func() roles { return r }
	// The route's throttle refills on the stack's clock, which stands
	// still here: what is recorded is the handler's cost, not the bucket.
	s.Emulator.SetThrottle("POST /transfers", nil)
	s.step("POST /transfers (to a promoted receiver)", promotedCredits, pr, func() {
		for i := 0; i < promotedCredits; i++ {
			s.must(s.Post(t, "/transfers", payers[i%len(payers)].Token, transfer(rc.ID, 10)), 201)
		}
	})
	s.Clock.Advance(2 * time.Minute)
	s.step("job ledger-fold (a promoted receiver)", promotedCredits, pr, func() { s.fire("ledger-fold") })
}

// Over HTTP: many payers credit one user's main account at once; the fold
// job promotes it; more credits spread over its shards while the fold job
// runs; its balance (GET /accounts/{id}) is exact, and its history pages
// (GET /accounts/{id}/entries) list every credit once, newest first,
// across the shards. The audit runs at the end.
func TestAHotMainAccountIsPromotedAndReadsStayExact(t *testing.T) {
	s := stacktest.New(t, config.Config{})
	s.Services.Ledger.SetPromotion(20, 0)
	rc := s.Register(t, "hot receiver")
	payers := make([]stacktest.User, 10)
	for i := range payers {
		payers[i] = s.Register(t, fmt.Sprint("payer", i))
		s.Charge(t, payers[i], 10_000)
	}
	s.Clock.Advance(2 * time.Minute)
	fire := func() {
		if _, err := s.Emulator.Fire(context.Background(), "ledger-fold", s.Clock.Now()); err != nil {
			t.Error(err)
		}
	}
	fire()
	pay := func(rounds int) {
		burst(len(payers)*rounds, func(i int) {
			if r := s.Post(t, "/transfers", payers[i%len(payers)].Token, transfer(rc.ID, 1)); r.Status != 201 {
				t.Errorf("transfer: %d %s", r.Status, r.Raw)
			}
		})
	}
	pay(3) // 30 credits, one shard
	s.Clock.Advance(2 * time.Minute)
	fire()
	item, err := s.Table.Get(context.Background(), ledger.MainAccount(rc.ID).Key())
	if err != nil || ddb.Decode(item).N("shards") != ledger.MaxShards {
		t.Fatalf("30 credits folded in one run did not promote the account: %v %v", item, err)
	}
	done := make(chan struct{})
	go func() { defer close(done); pay(5) }() // 50 more, while the fold runs
	fire()
	<-done
	const total = 80
	if b, _, _ := s.Account(t, rc, rc.Main); b != total {
		t.Fatalf("balance %d, want %d", b, total)
	}
	seen := map[string]bool{}
	last, cursor := "~", ""
	for page := 1; ; page++ {
		path := "/accounts/" + rc.Main + "/entries?limit=7"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := s.Get(t, path, rc.Token)
		if r.Status != 200 {
			t.Fatalf("page %d: %s", page, r.Raw)
		}
		for _, e := range r.Body["entries"].([]any) {
			id := e.(map[string]any)["id"].(string)
			if seen[id] || id >= last {
				t.Fatalf("page %d: %s twice or out of order (after %s)", page, id, last)
			}
			seen[id], last = true, id
		}
		next, _ := r.Body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != total {
		t.Fatalf("history listed %d entries, want %d", len(seen), total)
	}
	s.Clock.Advance(2 * time.Minute)
	fire()
	if b, _, _ := s.Account(t, rc, rc.Main); b != total {
		t.Fatalf("balance after the fold %d, want %d", b, total)
	}
}
