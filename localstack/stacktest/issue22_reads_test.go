package stacktest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/localstack/emulator"
	"minipay/localstack/stacktest"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// slowClient delays every DynamoDB call while slow is set, so the
// invocations of one burst are all in flight at once.
type slowClient struct {
	ddb.Client
	slow  *atomic.Bool
	delay time.Duration
}

func (c slowClient) wait() {
	if c.slow.Load() {
		time.Sleep(c.delay)
	}
}

func (c slowClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.wait()
	return c.Client.GetItem(ctx, in, o...)
}

func (c slowClient) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.wait()
	return c.Client.PutItem(ctx, in, o...)
}

func (c slowClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.wait()
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c slowClient) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.wait()
	return c.Client.Query(ctx, in, o...)
}

func (c slowClient) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.wait()
	return c.Client.TransactWriteItems(ctx, in, o...)
}

// Issue 22 item 8: on every route that reserves its function's
// concurrency, more simultaneous requests than the route's burst (more than
// the reserved concurrency, too) are answered 2xx/4xx or the gateway's fast
// 429, never 500: the throttle sheds the overload before Lambda would
// refuse an invocation. Every invocation is held in flight (slow DynamoDB)
// and the stack's clock stands still, so no token comes back meanwhile.
func TestOverloadIsA429NeverA500(t *testing.T) {
	var slow atomic.Bool
	s := stacktest.New(t, config.Config{}, func(c ddb.Client) ddb.Client {
		return slowClient{Client: c, slow: &slow, delay: 300 * time.Millisecond}
	})
	kim := s.Register(t, "Kim")
	s.Get(t, "/accounts", kim.Token) // the authorizer's cache holds Kim's token
	rows := 0
	for _, r := range routes.Routes {
		if r.ReservedConcurrency == 0 {
			continue
		}
		rows++
		path := r.Path
		path = strings.ReplaceAll(path, "/stores/{id}", "/stores/"+ddb.NewID("st_"))
		path = strings.ReplaceAll(path, "/orders/{id}", "/orders/"+ddb.NewTimeID(s.Clock.Now()))
		body := ""
		switch {
		case r.Path == "/orders":
			body = fmt.Sprintf(`{"store":%q,"amount":1000}`, ddb.NewID("st_"))
		case strings.HasSuffix(r.Path, "/refunds"), strings.HasSuffix(r.Path, "/withdrawals"):
			body = `{"amount":1000}`
		}
		n := r.ReservedConcurrency + 10
		var mu sync.Mutex
		outcomes := map[int]int{}
		slow.Store(true)
		burst(n, func(int) {
			resp := s.Do(t, req{Method: r.Method, Path: path, Token: kim.Token, Body: body, Key: stacktest.NewKey()})
			mu.Lock()
			outcomes[resp.Status]++
			mu.Unlock()
			if resp.Status == 429 && resp.Raw != `{"message":"Too Many Requests"}` {
				t.Errorf("%s %s: 429 %s", r.Method, path, resp.Raw)
			}
		})
		slow.Store(false)
		key := r.Method + " " + r.Path
		for status, k := range outcomes {
			if status >= 500 || status < 200 || status >= 300 && status < 400 {
				t.Errorf("%s: %d answered %d (outcomes %v)", key, k, status, outcomes)
			}
		}
		if outcomes[429] < n-r.Throttle.Burst {
			t.Errorf("%s: %d of %d throttled, want at least %d (outcomes %v)", key, outcomes[429], n, n-r.Throttle.Burst, outcomes)
		}
		t.Logf("%s: %d at once (burst %d, reserved %d): %v", key, n, r.Throttle.Burst, r.ReservedConcurrency, outcomes)
	}
	if rows == 0 {
		t.Fatal("no route reserves concurrency")
	}
	if st := s.Emulator.Overload(); st.Refused != 0 {
		t.Errorf("reserved concurrency refused %d invocations", st.Refused)
	}
	ddbtest.Audit(t, s.Name)
}

// Issue 22 item 13: over HTTP, the test clock moves only for a JSON body
// sent to a loopback Host with no foreign Origin; a text/plain POST (what a
// web page may send cross-site without a preflight), a rebound DNS name as
// Host, and a foreign Origin are refused and the clock stays put.
func TestTestClockTakesOnlyLocalJSON(t *testing.T) {
	s := newStack(t)
	send := func(host, origin, ctype string) int {
		r, err := http.NewRequest("POST", s.URL+emulator.TestClockPath+"/advance", strings.NewReader(`{"duration":"1h"}`))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			r.Host = host
		}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	start := s.Clock.Now()
	for _, c := range []struct {
		name, host, origin, ctype string
		want                      int
	}{
		{"text/plain", "", "", "text/plain", 415},
		{"no content type", "", "", "", 415},
		{"form", "", "", "application/x-www-form-urlencoded", 415},
		{"rebound DNS name", "attacker.example:80", "", "application/json", 403},
		{"cross-site page", "", "https://attacker.example", "application/json", 403},
	} {
		if got := send(c.host, c.origin, c.ctype); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if now := s.Clock.Now(); !now.Equal(start) {
		t.Fatalf("a refused request moved the clock by %s", now.Sub(start))
	}
	for _, host := range []string{"", "localhost", "[::1]:8080"} {
		if got := send(host, "", "application/json; charset=utf-8"); got != 200 {
			t.Errorf("JSON to Host %q: %d", host, got)
		}
	}
	if moved := s.Clock.Now().Sub(start); moved != 3*time.Hour {
		t.Errorf("the clock moved %s, want 3h", moved)
	}
	ddbtest.Audit(t, s.Name)
}

// Issue 22 item 5, over HTTP: the operator credits Kim 1, 2, 4, ... won
// (each a posting) and the fold folds each in, while eight clients read
// GET /accounts and GET /accounts/{id}: the balances that exist are
// 2^k - 1, and every read must show one of them (a fold between the
// read's two reads would count a posting twice or not at all).
func TestAccountReadsRacingFoldsShowBalancesThatExisted(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	const credits, readers = 20, 8
	existed := func(v int64) bool { return v >= 0 && (v+1)&v == 0 }
	var done atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		for i := 0; i < credits; i++ {
			r := s.Post(t, "/operator/deposits", stacktest.OperatorToken, fmt.Sprintf(`{"userId":%q,"amount":%d,"reference":%q}`, kim.ID, int64(1)<<i, stacktest.NewKey()))
			if r.Status != 201 {
				t.Errorf("deposit: %s", r.Raw)
				return
			}
			if n, err := s.Ledger.FoldAccount(context.Background(), ledger.MainAccount(kim.ID)); err != nil || n != 1 {
				t.Errorf("fold: %d %v", n, err)
				return
			}
		}
	}()
	// A read that met a write on each of its tries answers the README's
	// 503 contention (retry shortly): no balance, so nothing to check.
	var contended atomic.Int64
	busy := func(r stacktest.Response) bool {
		if r.Status == 503 && r.Code() == "contention" {
			contended.Add(1)
			return true
		}
		return false
	}
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				var balance, available int64
				if i%2 == 0 {
					r := s.Get(t, "/accounts/"+kim.Main, kim.Token)
					if busy(r) {
						continue
					}
					if r.Status != 200 {
						t.Errorf("get: %s", r.Raw)
						return
					}
					balance, available = stacktest.Int(r.Body["balance"]), stacktest.Int(r.Body["available"])
				} else {
					r := s.Get(t, "/accounts", kim.Token)
					if busy(r) {
						continue
					}
					list, _ := r.Body["accounts"].([]any)
					if r.Status != 200 || len(list) != 1 {
						t.Errorf("list: %s", r.Raw)
						return
					}
					a := list[0].(map[string]any)
					balance, available = stacktest.Int(a["balance"]), stacktest.Int(a["available"])
				}
				reads.Add(1)
				if !existed(balance) || available != balance {
					t.Errorf("read balance %d available %d: no such balance existed", balance, available)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d reads, %d answered 503 contention", reads.Load(), contended.Load())
	if reads.Load() == 0 {
		t.Error("no read answered a balance")
	}
	if b, _, _ := s.Account(t, kim, kim.Main); b != 1<<credits-1 {
		t.Errorf("balance %d, want %d", b, 1<<credits-1)
	}
	ddbtest.Audit(t, s.Name)
}
