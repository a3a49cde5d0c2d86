package bench

import (
	"fmt"
	"io"
	"log/slog"
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
	"minipay/localstack/emulator"
	"minipay/shared/capabilities/users"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/config"
	"minipay/shared/wiring/app"
)

// settlement: a requester asks n participants for their share of a bill,
// and all n pay at the same moment; repeated for `rounds` requests. It
// reports the creation, the time until every share of a request is paid,
// each payment's latency, and the DynamoDB requests per payment (one
// GetItem of the share, one TransactWriteItems, a second for the last
// share, whose first try finds it is the last; the settlement item every
// payment updates is the request's one hot item).
func (s *stack) settlement(title string, participants, rounds int) {
	fmt.Fprintf(s.out, "\n## Settlement%s: a request to %d participants, all pay at the same moment (%d requests)\n", title, participants, rounds)
	requester := s.register("bench requester", 0)
	ps := make([]user, participants)
	parallel(16, participants, func(i int) { ps[i] = s.register(fmt.Sprint("participant ", i), 10_000_000) })
	ids := make([]string, participants)
	for i, p := range ps {
		ids[i] = fmt.Sprintf("%q", p.id)
	}
	body := fmt.Sprintf(`{"total":%d,"memo":"bench dinner","participants":[%s]}`, 10_007*participants, strings.Join(ids, ","))
	// Every token once, so the authorizer's cache is warm as in steady use.
	for _, p := range ps {
		s.get("/settlements?role=received&limit=1", p.token, nil)
	}

	sids := make([]string, rounds)
	s.inst.Reset()
	created := measure(rounds, 1, func(i int) {
		var out struct{ ID string }
		s.do("POST", "/settlements", requester.token, body, 201, &out)
		sids[i] = out.ID
	})
	createUse := s.inst.Reset()

	var lat []time.Duration
	var untilPaid []time.Duration
	var mu sync.Mutex
	var retried atomic.Int64
	failed := s.fail.Load()
	for _, sid := range sids {
		start := time.Now()
		parallel(participants, participants, func(i int) {
			t := time.Now()
			retried.Add(s.payShare("/settlements/"+sid+"/shares/"+ps[i].id+"/pay", ps[i].token))
			d := time.Since(t)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		})
		untilPaid = append(untilPaid, time.Since(start))
	}
	payUse := s.inst.Reset()
	payments := len(lat)

	// Each request completed exactly once, with every share collected.
	completed := 0
	for _, sid := range sids {
		var v struct {
			Status    string
			Collected int64
		}
		s.get("/settlements/"+sid, requester.token, &v)
		if v.Status == "completed" && v.Collected == int64(10_007*participants) {
			completed++
		}
	}
	completions := 0
	for cursor, pages := "", 0; pages < 1000; pages++ {
		var inbox struct {
			Notifications []struct{ Type string }
			NextCursor    string
		}
		s.get("/me/notifications?limit=100&cursor="+cursor, requester.token, &inbox)
		for _, n := range inbox.Notifications {
			if n.Type == "settlement_completed" {
				completions++
			}
		}
		if cursor = inbox.NextCursor; cursor == "" {
			break
		}
	}
	if completed != rounds || completions != rounds {
		s.note(fmt.Errorf("settlement: %d of %d requests completed, %d completion notifications", completed, rounds, completions))
	}

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	sort.Slice(untilPaid, func(i, j int) bool { return untilPaid[i] < untilPaid[j] })
	pay := result{n: payments, p50: lat[payments/2], p99: lat[min(payments-1, payments*99/100)], max: lat[payments-1]}
	var total time.Duration
	for _, d := range untilPaid {
		total += d
	}
	pay.took = total
	pay.perSecond = float64(payments) / total.Seconds()
	table(s.out, []row{{fmt.Sprintf("POST /settlements (%d participants), 1 client", participants), created},
		{fmt.Sprintf("pay a share, %d at once per request", participants), pay}})
	fmt.Fprintf(s.out, "all %d shares of a request paid in: p50 %s, max %s; failures %d; 503s retried by the client %d; %d of %d requests completed, %d completion notifications\n",
		participants, ms(untilPaid[len(untilPaid)/2]), ms(untilPaid[len(untilPaid)-1]), s.fail.Load()-failed, retried.Load(), completed, rounds, completions)
	fmt.Fprintf(s.out, "DynamoDB requests per creation: %.2f (%v); WCU per creation: %.1f\n",
		float64(createUse.Total())/float64(rounds), createUse.Requests, createUse.WCU/float64(rounds))
	fmt.Fprintf(s.out, "DynamoDB requests per payment: %.2f (%v); TransactWriteItems per payment %.2f; WCU per payment: %.1f\n",
		float64(payUse.Total())/float64(payments), payUse.Requests, float64(payUse.Requests["TransactWriteItems"])/float64(payments), payUse.WCU/float64(payments))
}

// payShare pays one share as a client does: a 503 (contention) is retried
// after a moment with the same Idempotency-Key. It returns the retries.
func (s *stack) payShare(path, token string) int64 {
	key := s.key()
	for retries := int64(0); ; retries++ {
		req, _ := http.NewRequest("POST", s.server.URL+path, nil)
		req.Header.Set("authorization", "Bearer "+token)
		req.Header.Set("idempotency-key", key)
		resp, err := s.client.Do(req)
		if err != nil {
			s.note(err)
			return retries
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 201:
			return retries
		case resp.StatusCode == 503 && retries < 20:
			time.Sleep(50 * time.Millisecond)
		default:
			s.note(fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, raw))
			return retries
		}
	}
}

// settlementContended runs the settlement scenario again through the
// contention model (localstack/contention: DynamoDB's transaction conflicts,
// which DynamoDB Local never returns, and per-partition write capacity):
// every payment of a request updates the settlement item, so concurrent
// payers conflict on it and the kernel retries them.
func (s *stack) settlementContended(db *dynamodb.Client, participants, rounds int) error {
	model := contention.Wrap(db, contention.Config{})
	inst := &ddbtest.Instrumented{Client: model}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	d, err := app.NewServices(inst, config.Config{Table: s.table, OperatorTokenSHA256: users.TokenHash(operatorToken)}, clock.Real{}, log)
	if err != nil {
		return err
	}
	emu, err := emulator.New(emulator.Config{Handlers: app.Handlers(d), Routes: routes.Routes, Clock: clock.Real{}, Log: log,
		FunctionTimeout: 5 * time.Minute})
	if err != nil {
		return err
	}
	c := &stack{out: s.out, ledger: d.Ledger, table: s.table, inst: inst, bare: db, server: httptest.NewServer(emu), client: s.client}
	defer c.server.Close()
	c.keySeq.Store(s.keySeq.Load() + 1_000_000)
	c.settlement(" under the contention model", participants, rounds)
	r := model.Report(3)
	fmt.Fprintf(s.out, "%s\n", r)
	fmt.Fprintf(s.out, "transaction conflicts per successful write: %.2f\n", r.ConflictsPerSuccess())
	if err := c.err(); err != nil {
		s.note(err)
	}
	return nil
}
