// Package bench is minipay's load report: the local stack end to end
// (HTTP -> emulator -> authorizer cache -> handler via the Lambda JSON path
// -> DynamoDB Local), side by side in one run with the floor, a bare
// TransactWriteItems of the same items. `make bench` prints it. Bounded in
// count and time, loopback only.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/contention"
	"minipay/localstack/ddbtest"
	"minipay/localstack/dynamolocal"
	"minipay/localstack/emulator"
	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
	"minipay/shared/kernel/money"
	"minipay/shared/wiring/app"
)

// Options size the run.
type Options struct {
	Endpoint       string // DynamoDB Local; "" starts one in memory
	Accounts       int    // accounts transfers pick random pairs from
	Transfers      int    // transfers per measured scenario
	HotSenders     int    // senders into one account at once
	HistoryEntries int    // entries on the big account for the history comparison
	Claimers       int    // room members claiming one sprinkle at once
	Shares         int    // shares of that sprinkle
	Orders         int    // merchant orders through place, accept, cook, refund
	// Contended runs the hot-account scenarios again under the contention
	// model (the cloud's conflicts and partition capacity).
	Contended bool
	Model     contention.Config
	Payers    int           // the merchant-like receiver's distinct payers
	PayWindow time.Duration // spread over this long
	// Settlement requests: participants per request (all pay at once), requests.
	SettlementParticipants, SettlementRounds int
	// SavingsAccounts are seeded for the 04:00 interest job (0: skip it).
	SavingsAccounts int
}

// Defaults is what make bench runs.
var Defaults = Options{Accounts: 100, Transfers: 400, HotSenders: 100, HistoryEntries: 100_000, Claimers: 3000, Shares: 100, Orders: 200,
	Contended: true, Payers: 500, PayWindow: 5 * time.Second, SettlementParticipants: 10, SettlementRounds: 20,
	SavingsAccounts: 10_000}

const operatorToken = "bench-operator-token"

type stack struct {
	out     io.Writer
	deps    httpapi.Services // the stack's handlers' (the savings scenario builds its own from it)
	ledger  *ledger.Ledger
	table   string
	inst    *ddbtest.Instrumented
	bare    *dynamodb.Client
	server  *httptest.Server
	client  *http.Client
	keySeq  atomic.Int64
	fail    atomic.Int64
	mu      sync.Mutex
	lastErr string
}

type user struct{ id, main, token string }

// Run runs every scenario and writes the report.
func Run(ctx context.Context, out io.Writer, o Options) error {
	if o.Endpoint == "" {
		srv, err := dynamolocal.Start(ctx, dynamolocal.Options{})
		if err != nil {
			return err
		}
		defer srv.Stop()
		o.Endpoint = srv.Endpoint
	}
	db, err := ddb.NewClient(ctx, config.Config{DynamoDBEndpoint: o.Endpoint})
	if err != nil {
		return err
	}
	table := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if err := ddb.CreateTable(ctx, db, table); err != nil {
		return err
	}
	inst := &ddbtest.Instrumented{Client: db}
	s, err := newStack(out, db, inst, table)
	if err != nil {
		return err
	}
	defer s.server.Close()

	fmt.Fprintf(out, "minipay load report  %s  (DynamoDB Local %s, table %s)\n", time.Now().UTC().Format(time.RFC3339), o.Endpoint, table)
	fmt.Fprintln(out, "Each row is measured in this run; compare ratios, not absolute times (shared, noisy machine).")

	// Each transfer run gets users of its own, fresh (their tokens never
	// used, their funding a posting not yet folded), so its cold rows are
	// cold and its warm rows warmed on purpose.
	var users []user
	for _, clients := range []int{1, 16} {
		users = make([]user, o.Accounts)
		parallel(16, o.Accounts, func(i int) { users[i] = s.register(fmt.Sprint("user ", clients, " ", i), 1_000_000_000) })
		if err := s.err(); err != nil {
			return err
		}
		if clients == 1 {
			s.charges(ctx, users[0], 200)
		}
		s.transfers(ctx, users, o.Transfers, clients)
	}
	s.hot(o.HotSenders)
	if o.Orders > 0 {
		s.orders(o.Orders)
	}
	s.sprinkle(ctx, o.Claimers, o.Shares)
	if o.SettlementParticipants > 0 && o.SettlementRounds > 0 {
		s.settlement("", o.SettlementParticipants, o.SettlementRounds)
		if err := s.settlementContended(db, o.SettlementParticipants, max(o.SettlementRounds/4, 1)); err != nil {
			return err
		}
	}
	s.history(ctx, users[1], o.HistoryEntries)
	if o.SavingsAccounts > 0 {
		s.savingsInterest(ctx, s.deps, o.SavingsAccounts)
	}
	if o.Contended {
		if err := contended(ctx, out, db, o); err != nil {
			return err
		}
	}

	r, err := ledger.Audit(ctx, db, table)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s\n", r)
	if !r.OK() {
		return fmt.Errorf("bench: audit failed")
	}
	return s.err()
}

// newStack serves the real handlers through the emulator on table, their
// DynamoDB calls going through client (the bare client, instrumented or
// wrapped in the contention model).
func newStack(out io.Writer, bare *dynamodb.Client, client ddb.Client, table string) (*stack, error) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	d, err := app.NewServices(client, config.Config{Table: table, OperatorTokenSHA256: users.TokenHash(operatorToken)}, clock.Real{}, log)
	if err != nil {
		return nil, err
	}
	// Thousands of requests at once queue on one DynamoDB Local (the cloud
	// would scale out), so allow them longer than the functions' timeout.
	// Unthrottled: the scenarios measure past the payment routes' throttles.
	emu, err := emulator.New(emulator.Config{Handlers: app.Handlers(d), Routes: routes.Routes, Clock: clock.Real{}, Log: log,
		FunctionTimeout: 5 * time.Minute, Unthrottled: true})
	if err != nil {
		return nil, err
	}
	inst, _ := client.(*ddbtest.Instrumented)
	return &stack{out: out, deps: d, ledger: d.Ledger, table: table, inst: inst, bare: bare, server: httptest.NewServer(emu),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}}, nil
}

// ---- scenarios ----

func (s *stack) charges(ctx context.Context, u user, n int) {
	fmt.Fprintf(s.out, "\n## One charge of 1 won, %d in a row, 1 client\n", n)
	s.inst.Reset()
	emu := measure(n, 1, func(int) { s.post("/accounts/"+u.main+"/charges", u.token, `{"amount":1}`, 201) })
	use := s.inst.Reset()
	bare := measure(n, 1, func(int) {
		now := time.Now()
		tx := &ledger.Tx{}
		tx.Move(ledger.BankCharge(u.id, ledger.NewMovementID(now), 1, now, ""))
		tx.ChargeLimit(u.id, now, 1, money.DailyChargeLimit)
		tx.Idempotency(ledger.IdemKey{Scope: u.id, Key: s.key(), RequestHash: "h"}, ledger.StoredResponse{Status: 201, Body: []byte(`{}`)}, now)
		s.check(s.bare.TransactWriteItems(ctx, s.ledger.Input(tx)))
	})
	table(s.out, []row{{"through the emulator", emu}, {"bare TransactWriteItems, same 6 items", bare}})
	fmt.Fprintf(s.out, "emulator / bare, p50: %.2fx.  DynamoDB requests per charge: %.2f (%v); WCU per charge: %.1f\n",
		ratio(emu.p50, bare.p50), float64(use.Total())/float64(n), use.Requests, use.WCU/float64(n))
}

func (s *stack) transfers(ctx context.Context, users []user, n, clients int) {
	fmt.Fprintf(s.out, "\n## Transfers between random pairs of %d accounts: %d transfers, %d concurrent client(s)\n", len(users), n, clients)
	pairs := func() [][2]int {
		p := make([][2]int, n)
		for i := range p {
			a := rand.IntN(len(users))
			b := (a + 1 + rand.IntN(len(users)-1)) % len(users)
			p[i] = [2]int{a, b}
		}
		return p
	}
	send := func(p [][2]int) func(int) {
		return func(i int) {
			from, to := users[p[i][0]], users[p[i][1]]
			s.post("/transfers", from.token, fmt.Sprintf(`{"to":%q,"amount":%d,"memo":"bench"}`, to.id, 1+rand.IntN(1000)), 201)
		}
	}
	// Cold: the users as registered. A sender's first transfer meets an
	// authorizer cache miss (its token's first use) and folds the posting
	// its funding left; so do later ones after a credit.
	s.inst.Reset()
	cold := measure(n, clients, send(pairs()))
	coldUse := s.inst.Reset()
	// Warm: every user's token used once (the authorizer's cache holds it
	// for routes.AuthorizerCacheTTL, longer than the run) and every
	// pending posting folded, before timing. What is left is the steady
	// state: the folds of the credits the run itself makes.
	s.warm(ctx, users)
	s.inst.Reset()
	warm := measure(n, clients, send(pairs()))
	warmUse := s.inst.Reset()
	bp := pairs()
	bare := measure(n, clients, func(i int) {
		from, to := users[bp[i][0]], users[bp[i][1]]
		s.check(nil, BareTransfer(ctx, s.bare, s.ledger, from.id, to.id, s.key(), int64(1+rand.IntN(1000))))
	})
	table(s.out, []row{{"POST /transfers, cold (new tokens, unfolded)", cold}, {"POST /transfers, warm (tokens cached, folded)", warm},
		{"bare TransactWriteItems, same 6 items", bare}})
	fmt.Fprintf(s.out, "emulator / bare, cold: throughput %.2fx, p50 %.2fx.  warm: throughput %.2fx, p50 %.2fx\n",
		cold.perSecond/bare.perSecond, ratio(cold.p50, bare.p50), warm.perSecond/bare.perSecond, ratio(warm.p50, bare.p50))
	for _, u := range []struct {
		name string
		use  ddbtest.Usage
	}{{"cold", coldUse}, {"warm", warmUse}} {
		fmt.Fprintf(s.out, "%s: DynamoDB requests per transfer %.2f (%v; GetItems are authorizer cache misses); WCU per transfer %.1f (as DynamoDB Local reports it)\n",
			u.name, float64(u.use.Total())/float64(n), u.use.Requests, u.use.WCU/float64(n))
	}
}

// warm uses every user's token once (an authorizer cache miss now, not in
// the timed run) and folds every posting on their main accounts.
func (s *stack) warm(ctx context.Context, users []user) {
	parallel(16, len(users), func(i int) {
		s.get("/accounts", users[i].token, nil)
		_, err := s.ledger.FoldAccount(ctx, ledger.MainAccount(users[i].id))
		s.check(nil, err)
	})
}

// BareTransfer is the floor a transfer is compared against: the items POST
// /transfers writes between two main accounts (the sender's debit, the
// receiver's credit, two history entries, the idempotency record and the
// check that the sender's default is "immediate") as ONE bare
// TransactWriteItems on db: no HTTP, emulator, authorizer or handler.
// localstack/load measures its throughput as the DynamoDB Local ceiling.
func BareTransfer(ctx context.Context, db *dynamodb.Client, l *ledger.Ledger, fromUser, toUser, key string, amount int64) error {
	now := time.Now()
	tx := &ledger.Tx{}
	// As POST /transfers: a check that the sender's default is "immediate".
	tx.Check(ddb.Key(ledger.UserPK(fromUser), "SETTINGS#transfers"), ledger.Cond{Expr: "attribute_not_exists(pendingByDefault) OR pendingByDefault = :b",
		Values: ddb.Item{":b": ddb.Bool(false)}}, func(ddb.Item) error { return fmt.Errorf("pending by default") })
	tx.Move(ledger.Movement{ID: ledger.NewMovementID(now), Type: "transfer", Amount: amount, At: now, Memo: "bench",
		From: ledger.MainAccount(fromUser), FromKind: ledger.KindMain, To: ledger.MainAccount(toUser), ToKind: ledger.KindMain,
		FromLabel: "user", ToLabel: toUser, Originator: "user"})
	tx.Idempotency(ledger.IdemKey{Scope: fromUser, Key: key, RequestHash: "h"}, ledger.StoredResponse{Status: 201, Body: []byte(`{}`)}, now)
	_, err := db.TransactWriteItems(ctx, l.Input(tx))
	return err
}

func (s *stack) hot(n int) {
	fmt.Fprintf(s.out, "\n## Hot receiver: %d senders pay one account at the same moment\n", n)
	senders := make([]user, n)
	parallel(16, n, func(i int) { senders[i] = s.register(fmt.Sprint("sender ", i), 100_000) })
	receiver := s.register("receiver", 0)
	failed := s.fail.Load()
	start := time.Now()
	parallel(n, n, func(i int) {
		s.post("/transfers", senders[i].token, fmt.Sprintf(`{"to":%q,"amount":1000}`, receiver.id), 201)
	})
	took := time.Since(start)
	acct, err := s.ledger.GetAccount(context.Background(), receiver.id, receiver.main)
	s.check(nil, err)
	fmt.Fprintf(s.out, "%d transfers finished in %s; failures %d; receiver balance %d (want %d)\n",
		n, took.Round(time.Millisecond), s.fail.Load()-failed, acct.Balance, int64(n)*1000)
}

func (s *stack) sprinkle(ctx context.Context, claimers, shares int) {
	fmt.Fprintf(s.out, "\n## Sprinkle: %d room members claim a sprinkle of %d shares at the same moment\n", claimers, shares)
	sprinkler := s.register("sprinkler", 1_000_000)
	var room struct{ ID string }
	s.do("POST", "/rooms", sprinkler.token, `{"name":"bench room"}`, 201, &room)
	// Members register and join through the emulator too (not measured).
	members := make([]user, claimers)
	start := time.Now()
	parallel(16, claimers, func(i int) {
		members[i] = s.register(fmt.Sprint("member ", i), 0)
		s.post("/rooms/"+room.ID+"/members", sprinkler.token, fmt.Sprintf(`{"userId":%q}`, members[i].id), 201)
	})
	fmt.Fprintf(s.out, "(set up %d members in %s)\n", claimers, time.Since(start).Round(time.Millisecond))
	var created struct{ Token string }
	s.do("POST", "/rooms/"+room.ID+"/sprinkles", sprinkler.token, fmt.Sprintf(`{"amount":1000000,"count":%d,"split":"random"}`, shares), 201, &created)
	var mu sync.Mutex
	outcomes := map[string]int{}
	start = time.Now()
	parallel(claimers, claimers, func(i int) {
		status, code := s.try("POST", "/rooms/"+room.ID+"/sprinkles/"+created.Token+"/claims", members[i].token, "")
		mu.Lock()
		outcomes[strings.TrimSpace(fmt.Sprint(status, " ", code))]++
		mu.Unlock()
	})
	took := time.Since(start)
	fmt.Fprintf(s.out, "%d claims finished in %s (%.0f claims/s); outcomes %v (want %d x 201, the rest 409 sprinkle_exhausted)\n",
		claimers, took.Round(time.Millisecond), float64(claimers)/took.Seconds(), outcomes, shares)
	if outcomes["201"] != shares || outcomes["409 sprinkle_exhausted"] != claimers-shares {
		s.note(fmt.Errorf("sprinkle outcomes %v", outcomes))
	}
}

func (s *stack) history(ctx context.Context, u user, big int) {
	fmt.Fprintf(s.out, "\n## History: the 20 newest entries, tuned (one Query through the emulator) vs naive (Scan + filter)\n")
	small := s.register("small history", 0)
	for i := 0; i < 5; i++ { // 5 charges + 5 withdrawals = 10 entries
		s.post("/accounts/"+small.main+"/charges", small.token, `{"amount":1000}`, 201)
		s.post("/accounts/"+small.main+"/withdrawals", small.token, `{"amount":1000}`, 201)
	}
	var rows []row
	for _, c := range []struct {
		label   string
		u       user
		entries int
	}{{"10", small, 10}, {fmt.Sprint(big), u, big}} {
		if c.entries == big {
			start := time.Now()
			s.check(nil, seedEntries(ctx, s.bare, s.ledger, s.table, u.id, big))
			fmt.Fprintf(s.out, "(seeded %d entries in %s)\n", big, time.Since(start).Round(time.Millisecond))
		}
		tuned := measure(20, 1, func(int) {
			var page struct{ Entries []json.RawMessage }
			s.get("/accounts/"+c.u.main+"/entries?limit=20", c.u.token, &page)
			if len(page.Entries) != min(20, c.entries) && c.entries >= 10 && len(page.Entries) < 10 {
				s.note(fmt.Errorf("tuned page has %d entries", len(page.Entries)))
			}
		})
		naiveRuns := 3
		if c.entries == big {
			naiveRuns = 1 // a full-table Scan of 100,000+ items takes about a minute on DynamoDB Local
		}
		naive := measure(naiveRuns, 1, func(int) {
			e, err := naiveLatestEntries(ctx, s.bare, s.table, c.u.main, 20)
			s.check(nil, err)
			if len(e) != min(20, c.entries) && len(e) < 10 {
				s.note(fmt.Errorf("naive page has %d entries", len(e)))
			}
		})
		rows = append(rows, row{"tuned, " + c.label + " entries on the account", tuned}, row{"naive, " + c.label + " entries on the account", naive})
	}
	table(s.out, rows)
	fmt.Fprintf(s.out, "naive / tuned, p50: %.0fx with 10 entries, %.0fx with %d (the naive Scan reads the whole table)\n",
		ratio(rows[1].r.p50, rows[0].r.p50), ratio(rows[3].r.p50, rows[2].r.p50), big)
}

// ---- HTTP ----

func (s *stack) register(name string, fund int64) user {
	var out struct {
		Token       string
		User        struct{ ID string }
		MainAccount struct{ ID string }
	}
	s.do("POST", "/users", "", fmt.Sprintf(`{"name":%q}`, name), 201, &out)
	u := user{id: out.User.ID, main: out.MainAccount.ID, token: out.Token}
	if fund > 0 {
		s.post("/operator/deposits", operatorToken, fmt.Sprintf(`{"userId":%q,"amount":%d,"reference":"fund-%s"}`, u.id, fund, u.id), 201)
	}
	return u
}

func (s *stack) post(path, token, body string, want int) { s.do("POST", path, token, body, want, nil) }

func (s *stack) get(path, token string, v any) { s.do("GET", path, token, "", 200, v) }

func (s *stack) do(method, path, token, body string, want int, v any) {
	req, _ := http.NewRequest(method, s.server.URL+path, strings.NewReader(body))
	req.Header.Set("content-type", "application/json")
	if token != "" {
		req.Header.Set("authorization", "Bearer "+token)
	}
	if method == "POST" {
		req.Header.Set("idempotency-key", s.key())
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.note(err)
		return
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.note(fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw))
		return
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			s.note(err)
		}
	}
}

// try sends a POST and returns the status and problem code, whatever they are.
func (s *stack) try(method, path, token, body string) (int, string) {
	req, _ := http.NewRequest(method, s.server.URL+path, strings.NewReader(body))
	req.Header.Set("content-type", "application/json")
	req.Header.Set("authorization", "Bearer "+token)
	req.Header.Set("idempotency-key", s.key())
	resp, err := s.client.Do(req)
	if err != nil {
		s.note(err)
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var p struct{ Code string }
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p.Code
}

func (s *stack) key() string { return fmt.Sprint("bench-", s.keySeq.Add(1)) }

func (s *stack) check(_ any, err error) {
	if err != nil {
		s.note(err)
	}
}

func (s *stack) note(err error) {
	s.fail.Add(1)
	s.mu.Lock()
	s.lastErr = err.Error()
	s.mu.Unlock()
}

func (s *stack) err() error {
	if n := s.fail.Load(); n > 0 {
		return fmt.Errorf("bench: %d failed requests; last: %s", n, s.lastErr)
	}
	return nil
}

// ---- measuring ----

type result struct {
	n             int
	took          time.Duration
	perSecond     float64
	p50, p99, max time.Duration
}

type row struct {
	name string
	r    result
}

// measure runs op(i) for i in [0, n) on `clients` goroutines and reports
// throughput and latency percentiles.
func measure(n, clients int, op func(i int)) result {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	start := time.Now()
	parallel(clients, clients, func(int) {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			t := time.Now()
			op(i)
			lat[i] = time.Since(t)
		}
	})
	took := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return result{n: n, took: took, perSecond: float64(n) / took.Seconds(),
		p50: lat[n/2], p99: lat[min(n-1, n*99/100)], max: lat[n-1]}
}

func parallel(workers, n int, f func(i int)) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

func table(out io.Writer, rows []row) {
	fmt.Fprintf(out, "| %-48s | %6s | %9s | %11s | %11s |\n", "", "ops", "ops/s", "p50", "p99")
	fmt.Fprintf(out, "|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 50), strings.Repeat("-", 8), strings.Repeat("-", 11), strings.Repeat("-", 13), strings.Repeat("-", 13))
	for _, r := range rows {
		fmt.Fprintf(out, "| %-48s | %6d | %9.2f | %11s | %11s |\n", r.name, r.r.n, r.r.perSecond, ms(r.r.p50), ms(r.r.p99))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
