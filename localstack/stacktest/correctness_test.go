package stacktest_test

// Regression tests of the correctness fixes found by driving the running API
// from outside (issue 8), over HTTP through the emulator.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

func TestMain(m *testing.M) {
	code := ddbtest.Main(m)
	fmt.Print(stacktest.OpenAPIReport())
	os.Exit(code)
}

type (
	req  = stacktest.Request
	resp = stacktest.Response
)

func newStack(t *testing.T) *stacktest.Stack { return stacktest.New(t, config.Config{}) }

func transfer(to string, amount int64) string {
	return fmt.Sprintf(`{"to":%q,"amount":%d}`, to, amount)
}

func burst(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; f(i) }()
	}
	close(start)
	wg.Wait()
}

// Item 1: ten transfers of 1,495,000 fired at once by a sender with 0: as in
// any serial order, the first charges 1,500,000 and the second 1,490,000
// (the exact shortfall then), the rest hit the daily limit; nothing is
// charged that no transfer needed.
func TestRacingAutoChargesAreExact(t *testing.T) {
	s := newStack(t)
	kim, lee := s.Register(t, "Kim"), s.Register(t, "Lee")
	var mu sync.Mutex
	outcomes := map[string]int{}
	var charged []int64
	burst(10, func(int) {
		r := s.Post(t, "/transfers", kim.Token, transfer(lee.ID, 1_495_000))
		mu.Lock()
		defer mu.Unlock()
		outcomes[r.String()]++
		if r.Status == 201 {
			charged = append(charged, stacktest.Int(r.Body["autoCharged"]))
		}
	})
	if outcomes["201"] != 2 || outcomes["422 daily_limit_exceeded"] != 8 {
		t.Fatalf("outcomes %v, want 2 x 201 and 8 x 422", outcomes)
	}
	if total := charged[0] + charged[1]; total != 2_990_000 {
		t.Fatalf("auto-charged %v (sum %d), want 1,500,000 and 1,490,000", charged, total)
	}
	if got := s.Available(t, kim); got != 0 {
		t.Fatalf("Kim keeps %d won that no transfer needed", got)
	}
}

// Item 1, as a property: several senders fire many auto-charging transfers
// of random amounts at once. Every sender ends with less than one charge
// step left, and exactly what the top-ups brought in minus what was sent.
func TestRacingAutoChargesLeaveLessThanAStep(t *testing.T) {
	s := newStack(t)
	receiver := s.Register(t, "receiver")
	type sender struct {
		u                  stacktest.User
		start, in, out     int64
		ok, limited, other int
		log                []string
	}
	senders := make([]*sender, 4)
	for i := range senders {
		senders[i] = &sender{u: s.Register(t, fmt.Sprint("sender ", i)), start: int64(i) * 3_000}
		if senders[i].start > 0 {
			s.Fund(t, senders[i].u, senders[i].start)
		}
	}
	var mu sync.Mutex
	burst(48, func(i int) {
		sd := senders[i%len(senders)]
		amount := 1 + rand.Int64N(60_000)
		r := s.Post(t, "/transfers", sd.u.Token, transfer(receiver.ID, amount))
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Status == 201:
			sd.ok++
			sd.out += amount
			sd.in += stacktest.Int(r.Body["autoCharged"])
			sd.log = append(sd.log, fmt.Sprintf("%s: %d charged %d", r.Body["id"], amount, stacktest.Int(r.Body["autoCharged"])))
		case r.Code() == "daily_limit_exceeded":
			sd.limited++
		default:
			sd.other++
			t.Errorf("transfer: %s", r.Raw)
		}
	})
	for _, sd := range senders {
		left := s.Available(t, sd.u)
		if want := sd.start + sd.in - sd.out; left != want || left < 0 || (sd.in > 0 && left >= 10_000) {
			sort.Strings(sd.log)
			t.Errorf("%s: %d left, want start %d + charged %d - sent %d = %d, below 10,000 if anything was charged\n%s",
				sd.u.Name, left, sd.start, sd.in, sd.out, want, strings.Join(sd.log, "\n"))
		}
		if sd.ok == 0 {
			t.Errorf("%s: no transfer went through", sd.u.Name)
		}
	}
}

// Item 2: flipping the pending-by-default setting while transfers are in
// flight never answers an internal signal: every transfer completes (pending
// or immediate) or gets an unstored 503, and its key then still works.
func TestFlippingTheDefaultNeverLeaksASignal(t *testing.T) {
	s := newStack(t)
	kim, lee := s.Register(t, "Kim"), s.Register(t, "Lee")
	s.Fund(t, kim, 10_000_000)
	var mu sync.Mutex
	outcomes := map[string]int{}
	var retry []string
	burst(60, func(i int) {
		if i%3 == 0 {
			r := s.Do(t, req{Method: "PUT", Path: "/me/settings", Token: kim.Token, Body: fmt.Sprintf(`{"pendingTransfers":%v}`, i%2 == 0)})
			if r.Status != 200 {
				t.Errorf("settings: %s", r.Raw)
			}
			return
		}
		key := stacktest.NewKey()
		r := s.Do(t, req{Method: "POST", Path: "/transfers", Token: kim.Token, Body: transfer(lee.ID, 100), Key: key})
		mu.Lock()
		defer mu.Unlock()
		status, _ := r.Body["status"].(string)
		outcomes[r.String()+" "+status]++
		switch {
		case r.Status == 201:
		case r.Status == 503 && r.Header.Get("Retry-After") != "":
			retry = append(retry, key)
		default:
			t.Errorf("transfer: %d %s", r.Status, r.Raw)
		}
	})
	for _, key := range retry {
		if r := s.Do(t, req{Method: "POST", Path: "/transfers", Token: kim.Token, Body: transfer(lee.ID, 100), Key: key}); r.Status != 201 {
			t.Errorf("retry of a 503's key: %s", r.Raw)
		}
	}
	t.Logf("outcomes %v, %d retried", outcomes, len(retry))
	// Resolve what waits, so the audit sees no open holds (it checks them too).
	for cursor := ""; ; {
		r := s.Get(t, "/transfers?role=received&status=pending&limit=100&cursor="+cursor, lee.Token)
		for _, x := range r.Body["transfers"].([]any) {
			id := x.(map[string]any)["id"].(string)
			if a := s.Post(t, "/transfers/"+id+"/accept", lee.Token, ""); a.Status != 201 {
				t.Fatalf("accept: %s", a.Raw)
			}
		}
		next, _ := r.Body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
}

// Item 3: refusals decided before the ledger are stored and replayed like
// the ledger's; validation errors (400) are not.
func TestRefusalsBeforeTheLedgerAreReplayed(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	savings := s.Post(t, "/accounts", kim.Token, `{"name":"trip"}`)
	_ = savings
	tests := []struct {
		name, path, body string
		code             string
	}{
		{"a charge above the daily limit in one go", "/accounts/" + kim.Main + "/charges", `{"amount":3000001}`, "daily_limit_exceeded"},
		{"a transfer to oneself", "/transfers", transfer(kim.ID, 1000), "self_transfer"},
		{"a savings deposit into the main account", "/accounts/" + kim.Main + "/deposits", `{"amount":1000}`, "wrong_account_kind"},
		{"a charge into someone else's account", "/accounts/m_0000000000000000/charges", `{"amount":1000}`, "account_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := stacktest.NewKey()
			first := s.Do(t, req{Method: "POST", Path: tc.path, Token: kim.Token, Body: tc.body, Key: key})
			again := s.Do(t, req{Method: "POST", Path: tc.path, Token: kim.Token, Body: tc.body, Key: key})
			if first.Code() != tc.code || again.Raw != first.Raw || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("first %s, again %s (replayed %q)", first.Raw, again.Raw, again.Header.Get("Idempotent-Replayed"))
			}
		})
	}
	key := stacktest.NewKey()
	bad := s.Do(t, req{Method: "POST", Path: "/accounts/" + kim.Main + "/charges", Token: kim.Token, Body: `{"amount":0}`, Key: key})
	good := s.Do(t, req{Method: "POST", Path: "/accounts/" + kim.Main + "/charges", Token: kim.Token, Body: `{"amount":5}`, Key: key})
	if bad.Status != 400 || good.Status != 201 {
		t.Fatalf("a 400 spent the key: %s then %s", bad.Raw, good.Raw)
	}
}

// Item 4: every over-limit refusal carries remainingToday.
func TestEveryLimitRefusalSaysWhatIsLeft(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	r := s.Post(t, "/accounts/"+kim.Main+"/charges", kim.Token, `{"amount":3000001}`)
	if r.Code() != "daily_limit_exceeded" || stacktest.Int(r.Body["remainingToday"]) != 3_000_000 {
		t.Fatalf("one charge above the limit: %s", r.Raw)
	}
	s.Charge(t, kim, 2_000_000)
	r = s.Post(t, "/accounts/"+kim.Main+"/charges", kim.Token, `{"amount":3000000}`)
	if r.Code() != "daily_limit_exceeded" || stacktest.Int(r.Body["remainingToday"]) != 1_000_000 {
		t.Fatalf("over what is left: %s", r.Raw)
	}
}

// Items 5 and 6: listing parameters never cause a 5xx, and a cursor works
// only on the listing that issued it.
func TestListingsRefuseForeignAndStrayCursors(t *testing.T) {
	s := stacktest.New(t, config.Config{TokenTTL: 800 * 24 * time.Hour}) // the tokens outlive the year below
	kim, lee := s.Register(t, "Kim"), s.Register(t, "Lee")
	for i := 0; i < 3; i++ {
		s.Charge(t, kim, 1000)
		s.Charge(t, lee, 1000)
		s.Clock.Advance(time.Second)
		if r := s.Post(t, "/transfers", kim.Token, `{"to":"`+lee.ID+`","amount":1,"pending":true}`); r.Status != 201 {
			t.Fatal(r.Raw)
		}
	}
	cursorOf := func(path, token string) string {
		r := s.Get(t, path, token)
		c, _ := r.Body["nextCursor"].(string)
		if r.Status != 200 || c == "" {
			t.Fatalf("%s: %s", path, r.Raw)
		}
		return c
	}
	kimEntries := cursorOf("/accounts/"+kim.Main+"/entries?limit=1", kim.Token)
	kimIn := cursorOf("/accounts/"+kim.Main+"/entries?limit=1&direction=in", kim.Token)
	kimSent := cursorOf("/transfers?limit=1", kim.Token)
	leeNotes := cursorOf("/me/notifications?limit=1", lee.Token)
	year := time.Hour * 24 * 366
	old := url.QueryEscape(s.Clock.Now().Add(-year).Format(time.RFC3339))
	future := url.QueryEscape(s.Clock.Now().Add(time.Hour).Format(time.RFC3339))
	now := s.Clock.Now().Format(time.RFC3339) // unescaped: "+09:00" arrives as " 09:00", and is read as meant
	tests := []struct {
		name, path, token string
		status            int // 200 means an empty page
	}{
		{"kim's cursor on lee's history", "/accounts/" + lee.Main + "/entries?cursor=" + kimEntries, lee.Token, 400},
		{"a history cursor with a direction filter", "/accounts/" + kim.Main + "/entries?direction=in&cursor=" + kimEntries, kim.Token, 400},
		{"an in cursor without the filter", "/accounts/" + kim.Main + "/entries?cursor=" + kimIn, kim.Token, 400},
		{"an in cursor with the out filter", "/accounts/" + kim.Main + "/entries?direction=out&cursor=" + kimIn, kim.Token, 400},
		{"a history cursor with another time range", "/accounts/" + kim.Main + "/entries?from=" + old + "&cursor=" + kimEntries, kim.Token, 400},
		{"a history cursor on the transfers list", "/transfers?cursor=" + kimEntries, kim.Token, 400},
		{"kim's transfers cursor on another status", "/transfers?status=accepted&cursor=" + kimSent, kim.Token, 400},
		{"kim's transfers cursor for lee", "/transfers?cursor=" + kimSent, lee.Token, 400},
		{"lee's notification cursor for kim", "/me/notifications?cursor=" + leeNotes, kim.Token, 400},
		{"from later than to", "/accounts/" + kim.Main + "/entries?from=" + now + "&to=" + old, kim.Token, 400},
		{"to older than a year", "/accounts/" + kim.Main + "/entries?to=" + old, kim.Token, 200},
		{"from in the future", "/accounts/" + kim.Main + "/entries?from=" + future, kim.Token, 200},
		{"garbage cursor", "/accounts/" + kim.Main + "/entries?cursor=%00%FF", kim.Token, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Get(t, tc.path, tc.token)
			if r.Status != tc.status {
				t.Fatalf("%s: %d %s, want %d", tc.path, r.Status, r.Raw, tc.status)
			}
			if tc.status == 200 {
				for _, list := range []string{"entries", "transfers", "notifications"} {
					if l, ok := r.Body[list].([]any); ok && len(l) != 0 {
						t.Fatalf("want an empty page: %s", r.Raw)
					}
				}
			} else if r.Code() != "invalid_field" {
				t.Fatalf("%s", r.Raw)
			}
		})
	}
	// A cursor whose position the one-year window has passed ends the listing.
	s.Clock.Advance(year)
	if r := s.Get(t, "/accounts/"+kim.Main+"/entries?cursor="+kimEntries, kim.Token); r.Status != 200 || len(r.Body["entries"].([]any)) != 0 {
		t.Fatalf("an aged cursor: %s", r.Raw)
	}
	s.Clock.Advance(-year)
	for _, id := range pendingIDs(t, s, lee) {
		s.Post(t, "/transfers/"+id+"/reject", lee.Token, "")
	}
}

func pendingIDs(t *testing.T, s *stacktest.Stack, u stacktest.User) []string {
	r := s.Get(t, "/transfers?role=received&status=pending&limit=100", u.Token)
	var ids []string
	for _, x := range r.Body["transfers"].([]any) {
		ids = append(ids, x.(map[string]any)["id"].(string))
	}
	return ids
}

// consistentReads records whether each Query read the table consistently.
type consistentReads struct {
	ddb.Client
	mu   sync.Mutex
	seen map[string]bool // index ("" for the table) -> ConsistentRead
}

func (c *consistentReads) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.mu.Lock()
	c.seen[aws.ToString(in.IndexName)] = aws.ToBool(in.ConsistentRead)
	c.mu.Unlock()
	return c.Client.Query(ctx, in, o...)
}

// Item 7: the history is read from the table with ConsistentRead (a movement
// just answered 201 is listed); the direction index cannot be.
func TestHistoryReadsAreConsistent(t *testing.T) {
	reads := &consistentReads{seen: map[string]bool{}}
	s := stacktest.New(t, config.Config{}, func(c ddb.Client) ddb.Client { reads.Client = c; return reads })
	kim := s.Register(t, "Kim")
	s.Charge(t, kim, 1000)
	if r := s.Get(t, "/accounts/"+kim.Main+"/entries", kim.Token); r.Status != 200 || len(r.Body["entries"].([]any)) != 1 {
		t.Fatalf("history right after the charge: %s", r.Raw)
	}
	s.Get(t, "/accounts/"+kim.Main+"/entries?direction=in", kim.Token)
	if !reads.seen[""] || reads.seen[ddb.IndexDirection] {
		t.Fatalf("consistent reads by index: %v", reads.seen)
	}
}

// Item 7: no query parameters make the history listing answer 5xx.
func FuzzHistoryParameters(f *testing.F) {
	for _, seed := range [][5]string{
		{"20", "", "", "", ""}, {"0", "x", "2026-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "in"},
		{"-1", "AAAAAAAAAAAAAAAAAAA", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "out"},
		{"100", "%", "2026-11-22T10:00:00+09:00", "", "sideways"}, {"1e3", "", "", "2026-11-22T10:00:00.999999999+09:00", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	}
	s := stacktest.New(f, config.Config{})
	kim := s.Register(f, "Kim")
	s.Charge(f, kim, 1000)
	s.Charge(f, kim, 2000)
	f.Fuzz(func(t *testing.T, limit, cursor, from, to, direction string) {
		q := url.Values{}
		for k, v := range map[string]string{"limit": limit, "cursor": cursor, "from": from, "to": to, "direction": direction} {
			if v != "" {
				q.Set(k, v)
			}
		}
		r := s.Get(t, "/accounts/"+kim.Main+"/entries?"+q.Encode(), kim.Token)
		if r.Status >= 500 || r.Status >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s: %d %s", q.Encode(), r.Status, r.Raw)
		}
	})
}

// Items 8 and 9: a body means one thing to every reader.
func TestBodiesAreDecodedStrictly(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	charge := "/accounts/" + kim.Main + "/charges"
	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"a duplicate key", charge, `{"amount":1,"amount":2000000}`, 400, "bad_request"},
		{"a duplicate key, escaped", charge, `{"amount":1,"\u0061mount":2000000}`, 400, "bad_request"},
		{"a key in another case", charge, `{"amount":1,"AMOUNT":5000}`, 400, "bad_request"},
		{"only a key in another case", charge, `{"Amount":5000}`, 400, "bad_request"},
		{"a duplicate key in a nested object", "/users", `{"name":"x","personId":"a","personId":"b"}`, 400, "bad_request"},
		{"invalid UTF-8 in a name", "/users", "{\"name\":\"Kim \xff\"}", 400, "bad_request"},
		{"a lone surrogate in a name", "/users", `{"name":"Kim \ud800"}`, 400, "bad_request"},
		{"a bidi override in a name", "/users", `{"name":"Kim \u202eLee"}`, 400, "invalid_field"},
		{"a zero-width space in a name", "/users", `{"name":"Ki\u200bm"}`, 400, "invalid_field"},
		{"a zero-width space in a display name", "/transfers", `{"to":"u_0000000000000000","amount":1,"displayName":"a\u200bb"}`, 400, "invalid_field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, req{Method: "POST", Path: tc.path, Token: kim.Token, Body: tc.body, Key: stacktest.NewKey()})
			if r.Status != tc.status || r.Code() != tc.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
		})
	}
	if got := s.Available(t, kim); got != 0 {
		t.Fatalf("refused bodies moved %d", got)
	}
	// An emoji with joiners and Hangul are names like any other.
	if r := s.Post(t, "/users", "", `{"name":"김민지 👨‍👩‍👧"}`); r.Status != 201 {
		t.Fatalf("a real name: %s", r.Raw)
	}
}

// Item 10: one rule for bodies: a body needs Content-Type: application/json.
func TestABodyNeedsItsContentType(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	for _, ct := range []string{"-", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"} {
		for _, path := range []string{"/users", "/accounts/" + kim.Main + "/charges", "/transfers", "/rooms"} {
			r := s.Do(t, req{Method: "POST", Path: path, Token: kim.Token, Body: `{"amount":1}`, Key: stacktest.NewKey(), Header: map[string]string{"Content-Type": ct}})
			if r.Status != 415 || r.Code() != "unsupported_media_type" {
				t.Fatalf("%s with Content-Type %q: %d %s", path, ct, r.Status, r.Raw)
			}
		}
	}
	ok := s.Do(t, req{Method: "POST", Path: "/accounts/" + kim.Main + "/charges", Token: kim.Token, Body: `{"amount":1}`, Key: stacktest.NewKey(),
		Header: map[string]string{"Content-Type": "Application/JSON; charset=UTF-8"}})
	if ok.Status != 201 {
		t.Fatalf("application/json with parameters: %s", ok.Raw)
	}
	// No body needs no Content-Type.
	if r := s.Do(t, req{Method: "GET", Path: "/accounts", Token: kim.Token, Header: map[string]string{"Content-Type": "-"}}); r.Status != 200 {
		t.Fatalf("GET without a body: %s", r.Raw)
	}
}

// Item 11: what no route matches is a problem+json 404 (or 405).
func TestUnknownRoutesAnswerProblems(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nothing", 404, ""},
		{"POST", "/accounts/" + kim.Main + "/nothing", 404, ""},
		{"DELETE", "/accounts", 405, "GET, POST"},
		{"PUT", "/transfers", 405, "GET, POST"},
		{"GET", "/transfers/x/accept", 405, "POST"},
	} {
		r := s.Do(t, req{Method: tc.method, Path: tc.path, Token: kim.Token})
		if r.Status != tc.status || r.Header.Get("Content-Type") != "application/problem+json" || r.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d %v %s", tc.method, tc.path, r.Status, r.Header, r.Raw)
		}
	}
	if !strings.Contains(s.Get(t, "/nothing", "").Raw, `"code":"not_found"`) {
		t.Error("no code in the 404")
	}
}
