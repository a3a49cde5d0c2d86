package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/contention"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// contended runs the hot-account scenarios under the contention model, on a
// table of their own: 100 senders to one account at once (beside random
// pairs, for the p99 to compare with), 3,000 members claiming one sprinkle
// of 100 shares, and a merchant-like account paid by 500 distinct payers
// spread over 5 s.
func contended(ctx context.Context, out io.Writer, db *dynamodb.Client, o Options) error {
	model := contention.Wrap(db, o.Model)
	table := fmt.Sprintf("bench_model_%d", time.Now().UnixNano())
	if err := ddb.CreateTable(ctx, db, table); err != nil {
		return err
	}
	s, err := newStack(out, db, model, table)
	if err != nil {
		return err
	}
	defer s.server.Close()
	cfg := o.Model
	if cfg.ServiceTime == 0 {
		cfg.ServiceTime = 15 * time.Millisecond
	}
	fmt.Fprintf(out, "\n# Under the contention model (%s per transaction, %.0f WCU/s per partition; see localstack/contention)\n",
		cfg.ServiceTime, max(cfg.WCUPerSecond, 1000))
	fmt.Fprintln(out, "| scenario | requests | 201 | 503 | other | conflicts / success | throttles | p50 | p99 |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|")

	// Random pairs, 16 clients: the p99 the hot receiver is compared with.
	pairs := make([]user, 50)
	parallel(16, len(pairs), func(i int) { pairs[i] = s.register(fmt.Sprint("pair ", i), 10_000_000) })
	model.Reset()
	rows := []burstRow{s.burst("transfers between random pairs, 16 clients", model, 16, 400, 0, func(i int) (int, string) {
		a := rand.IntN(len(pairs))
		b := (a + 1 + rand.IntN(len(pairs)-1)) % len(pairs)
		return s.try("POST", "/transfers", pairs[a].token, fmt.Sprintf(`{"to":%q,"amount":1}`, pairs[b].id))
	})}

	// 100 senders into one account at the same moment.
	receiver := s.register("hot receiver", 0)
	senders := make([]user, o.HotSenders)
	parallel(16, len(senders), func(i int) { senders[i] = s.register(fmt.Sprint("sender ", i), 100_000) })
	model.Reset()
	rows = append(rows, s.burst(fmt.Sprintf("%d senders -> 1 account at once", len(senders)), model, len(senders), len(senders), 0, func(i int) (int, string) {
		return s.try("POST", "/transfers", senders[i].token, fmt.Sprintf(`{"to":%q,"amount":1000}`, receiver.id))
	}))

	// 3,000 members claim one sprinkle of 100 shares at the same moment.
	sprinkler := s.register("sprinkler", 10_000_000)
	var room struct{ ID string }
	s.do("POST", "/rooms", sprinkler.token, `{"name":"bench room"}`, 201, &room)
	members := make([]user, o.Claimers)
	parallel(16, len(members), func(i int) {
		members[i] = s.register(fmt.Sprint("member ", i), 0)
		s.post("/rooms/"+room.ID+"/members", sprinkler.token, fmt.Sprintf(`{"userId":%q}`, members[i].id), 201)
	})
	var created struct{ Token string }
	s.do("POST", "/rooms/"+room.ID+"/sprinkles", sprinkler.token, fmt.Sprintf(`{"amount":1000000,"count":%d,"split":"random"}`, o.Shares), 201, &created)
	model.Reset()
	claim := s.burst(fmt.Sprintf("%d members claim a sprinkle of %d shares at once", len(members), o.Shares), model, len(members), len(members), 0, func(i int) (int, string) {
		return s.try("POST", "/rooms/"+room.ID+"/sprinkles/"+created.Token+"/claims", members[i].token, "")
	})
	rows = append(rows, claim)
	if claim.outcomes["201"] != o.Shares || claim.outcomes["409 sprinkle_exhausted"] != o.Claimers-o.Shares {
		s.note(fmt.Errorf("sprinkle outcomes under the model %v", claim.outcomes))
	}

	// A merchant-like account paid by distinct payers spread over a window.
	merchant := s.register("merchant", 0)
	payers := make([]user, o.Payers)
	parallel(16, len(payers), func(i int) { payers[i] = s.register(fmt.Sprint("payer ", i), 100_000) })
	model.Reset()
	rows = append(rows, s.burst(fmt.Sprintf("%d payers -> 1 account over %s", len(payers), o.PayWindow), model, len(payers), len(payers), o.PayWindow, func(i int) (int, string) {
		return s.try("POST", "/transfers", payers[i].token, fmt.Sprintf(`{"to":%q,"amount":700}`, merchant.id))
	}))
	for _, r := range rows {
		fmt.Fprintf(out, "| %s | %d | %d | %d | %d | %.2f | %d | %s | %s |\n", r.name, r.n, r.outcomes["201"], r.outcomes["503 contention"],
			r.n-r.outcomes["201"]-r.outcomes["503 contention"], r.report.ConflictsPerSuccess(), r.report.Total.Throttles, ms(r.p50), ms(r.p99))
	}
	for _, r := range rows {
		if keys := r.hot(); keys != "" {
			fmt.Fprintf(out, "hottest keys, %s: %s\n", r.name, keys)
		}
	}
	for _, c := range []struct {
		name string
		u    user
		want int64
	}{{"hot receiver", receiver, int64(len(senders)) * 1000}, {"merchant", merchant, int64(len(payers)) * 700}} {
		acct, err := s.ledger.GetAccount(ctx, c.u.id, c.u.main)
		s.check(nil, err)
		fmt.Fprintf(out, "%s: balance %d (want %d from the 201s: %v)\n", c.name, acct.Balance, c.want, acct.Balance == c.want)
	}
	r, err := ledger.Audit(ctx, db, table)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s\n", r)
	if !r.OK() {
		return fmt.Errorf("bench: audit of the model's table failed")
	}
	return nil
}

type burstRow struct {
	name     string
	n        int
	outcomes map[string]int
	p50, p99 time.Duration
	report   contention.Report
}

func (r burstRow) hot() string {
	var parts []string
	for _, k := range r.report.Hottest {
		if k.Counts.Conflicts+k.Counts.Throttles > 0 {
			parts = append(parts, fmt.Sprintf("%s (%d conflicts, %d throttles)", k.Key, k.Counts.Conflicts, k.Counts.Throttles))
		}
	}
	return strings.Join(parts, "; ")
}

// burst runs n requests on `clients` goroutines (clients = n: all at the
// same moment), or, with a window, starts request i at i/n of it.
func (s *stack) burst(name string, model *contention.Model, clients, n int, window time.Duration, req func(i int) (int, string)) burstRow {
	lat := make([]time.Duration, n)
	var mu sync.Mutex
	outcomes := map[string]int{}
	start := time.Now()
	run := func(i int) {
		if window > 0 {
			time.Sleep(time.Until(start.Add(window * time.Duration(i) / time.Duration(n))))
		}
		t := time.Now()
		status, code := req(i)
		lat[i] = time.Since(t)
		mu.Lock()
		outcomes[strings.TrimSpace(fmt.Sprint(status, " ", code))]++
		mu.Unlock()
	}
	if window > 0 {
		clients = n
	}
	parallel(clients, n, run)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return burstRow{name: name, n: n, outcomes: outcomes, p50: lat[n/2], p99: lat[min(n-1, n*99/100)], report: model.Report(3)}
}
