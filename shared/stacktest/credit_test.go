package stacktest_test

import (
	"context"
	"fmt"
	"time"

	"minipay/shared/ddb"
	"minipay/shared/ledger"
	"minipay/shared/stacktest"
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
	s.Deps.Ledger.SetPromotion(8, 0)
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
	s.Deps.Ledger.SetPromotion(ledger.PromoteAfter, ledger.KnownFresh)
	s.Clock.Advance(2 * time.Minute)
	s.fire("ledger-fold")
	pr := func() roles { return r }
	s.step("POST /transfers (to a promoted receiver)", promotedCredits, pr, func() {
		for i := 0; i < promotedCredits; i++ {
			s.must(s.Post(t, "/transfers", payers[i%len(payers)].Token, transfer(rc.ID, 10)), 201)
		}
	})
	s.Clock.Advance(2 * time.Minute)
	s.step("job ledger-fold (a promoted receiver)", promotedCredits, pr, func() { s.fire("ledger-fold") })
}
