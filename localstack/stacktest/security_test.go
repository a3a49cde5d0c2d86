package stacktest_test

// Tests of the security and operability fixes (issue 9), over HTTP.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/merchant"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

// Item 1: a token can be rotated and revoked, and expires; the authorizer's
// cache is the only window in which a revoked token still works.
func TestTokensRotateRevokeAndExpire(t *testing.T) {
	s := stacktest.New(t, config.Config{TokenTTL: 48 * time.Hour})
	kim := s.Register(t, "Kim")
	// Used at once after registering: found (the token read is consistent).
	if r := s.Get(t, "/accounts", kim.Token); r.Status != 200 {
		t.Fatalf("fresh token: %s", r.Raw)
	}
	rot := s.Post(t, "/me/token", kim.Token, "")
	fresh, _ := rot.Body["token"].(string)
	if rot.Status != 201 || fresh == "" || fresh == kim.Token {
		t.Fatalf("rotate: %s", rot.Raw)
	}
	// Within the cache window the old token still answers; after it, 401.
	if r := s.Get(t, "/accounts", kim.Token); r.Status != 200 {
		t.Fatalf("old token inside the cache window: %s", r.Raw)
	}
	s.Clock.Advance(routes.AuthorizerCacheTTL)
	if r := s.Get(t, "/accounts", kim.Token); r.Status != 401 || r.Code() != "token_revoked" {
		t.Fatalf("old token after rotation: %s", r.Raw)
	}
	if r := s.Get(t, "/accounts", fresh); r.Status != 200 {
		t.Fatalf("new token: %s", r.Raw)
	}
	// Revoking the token in use.
	if r := s.Do(t, req{Method: "DELETE", Path: "/me/token", Token: fresh}); r.Status != 200 {
		t.Fatalf("revoke: %s", r.Raw)
	}
	s.Emulator.FlushAuthorizerCache() // as if the window had passed
	if r := s.Get(t, "/accounts", fresh); r.Code() != "token_revoked" {
		t.Fatalf("revoked token: %s", r.Raw)
	}
	// Expiry.
	lee := s.Register(t, "Lee")
	s.Clock.Advance(48*time.Hour - time.Second)
	s.Emulator.FlushAuthorizerCache()
	if r := s.Get(t, "/accounts", lee.Token); r.Status != 200 {
		t.Fatalf("before expiry: %s", r.Raw)
	}
	s.Clock.Advance(time.Second)
	s.Emulator.FlushAuthorizerCache()
	if r := s.Get(t, "/accounts", lee.Token); r.Status != 401 || r.Code() != "token_expired" {
		t.Fatalf("after expiry: %s", r.Raw)
	}
	if r := s.Get(t, "/accounts", "mp_"+strings.Repeat("0", 64)); r.Status != 401 || r.Code() != "unauthorized" {
		t.Fatalf("unknown token: %s", r.Raw)
	}
}

// Item 3: under the operator policy only the operator token creates users,
// one per verified person; under the open policy personId is refused.
func TestRegistrationPolicy(t *testing.T) {
	op := stacktest.New(t, config.Config{Registration: config.RegistrationOperator})
	if r := op.Post(t, "/users", "", `{"name":"Kim"}`); r.Status != 403 || r.Code() != "forbidden" {
		t.Fatalf("anonymous registration: %s", r.Raw)
	}
	if r := op.Post(t, "/users", "mp_"+strings.Repeat("1", 64), `{"name":"Kim"}`); r.Status != 403 {
		t.Fatalf("a user token registering: %s", r.Raw)
	}
	if r := op.Post(t, "/users", stacktest.OperatorToken, `{"name":"Kim"}`); r.Status != 400 || r.Code() != "invalid_field" {
		t.Fatalf("without personId: %s", r.Raw)
	}
	if r := op.Post(t, "/users", stacktest.OperatorToken, `{"name":"Kim","personId":"kr-770101-1234567"}`); r.Status != 201 {
		t.Fatalf("operator registration: %s", r.Raw)
	}
	if r := op.Post(t, "/users", stacktest.OperatorToken, `{"name":"Kim again","personId":"kr-770101-1234567"}`); r.Status != 409 || r.Code() != "person_already_registered" {
		t.Fatalf("the same person twice: %s", r.Raw)
	}
	open := stacktest.New(t, config.Config{})
	if r := open.Post(t, "/users", "", `{"name":"Kim","personId":"p1"}`); r.Status != 400 {
		t.Fatalf("personId under open registration: %s", r.Raw)
	}
}

// Item 4: a payment reference is credited once, whatever the key.
func TestOperatorReferenceIsCreditedOnce(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	body := fmt.Sprintf(`{"userId":%q,"amount":30000,"reference":"pg-7781"}`, kim.ID)
	first := s.Post(t, "/operator/deposits", stacktest.OperatorToken, body)
	var mu sync.Mutex
	outcomes := map[string]int{}
	burst(10, func(int) {
		r := s.Post(t, "/operator/deposits", stacktest.OperatorToken, body)
		mu.Lock()
		outcomes[r.String()]++
		mu.Unlock()
		if r.Status == 409 && r.Body["movementId"] != first.Body["id"] {
			t.Errorf("refusal names %v, want %v", r.Body["movementId"], first.Body["id"])
		}
	})
	if first.Status != 201 || outcomes["409 reference_already_credited"] != 10 || s.Available(t, kim) != 30_000 {
		t.Fatalf("first %s, then %v; balance %d", first.Raw, outcomes, s.Available(t, kim))
	}
}

// Item 5: the same request re-encoded is the same request for its key.
func TestIdempotencyComparesTheDecodedRequest(t *testing.T) {
	s := newStack(t)
	kim, lee := s.Register(t, "Kim"), s.Register(t, "Lee")
	s.Fund(t, kim, 100_000)
	key := stacktest.NewKey()
	first := s.Do(t, req{Method: "POST", Path: "/transfers", Token: kim.Token, Key: key, Body: fmt.Sprintf(`{"to":%q,"amount":1000,"memo":"lunch"}`, lee.ID)})
	again := s.Do(t, req{Method: "POST", Path: "/transfers", Token: kim.Token, Key: key, Body: fmt.Sprintf("{ \"memo\" : \"lunch\",\n \"amount\": 1000, \"to\":%q }", lee.ID)})
	other := s.Do(t, req{Method: "POST", Path: "/transfers", Token: kim.Token, Key: key, Body: fmt.Sprintf(`{"to":%q,"amount":1001,"memo":"lunch"}`, lee.ID)})
	if first.Status != 201 || again.Raw != first.Raw || again.Header.Get("Idempotent-Replayed") != "true" || other.Code() != "idempotency_key_reused" {
		t.Fatalf("first %s\nre-encoded %d %s\nother %s", first.Raw, again.Status, again.Raw, other.Raw)
	}
	if s.Available(t, lee) != 1000 {
		t.Fatal("money moved twice")
	}
}

// Item 7: a room has a cap, a paged member list, and members may leave.
func TestRoomsAreCappedPagedAndLeavable(t *testing.T) {
	s := newStack(t)
	owner := s.Register(t, "owner")
	room := s.Post(t, "/rooms", owner.Token, `{"name":"club"}`).Body["id"].(string)
	var members []stacktest.User
	for i := 0; i < 5; i++ {
		m := s.Register(t, fmt.Sprint("m", i))
		members = append(members, m)
		if r := s.Post(t, "/rooms/"+room+"/members", owner.Token, fmt.Sprintf(`{"userId":%q}`, m.ID)); r.Status != 201 {
			t.Fatal(r.Raw)
		}
	}
	var seen []string
	for cursor, pages := "", 0; pages < 10; pages++ {
		r := s.Get(t, "/rooms/"+room+"?limit=2&cursor="+cursor, members[0].Token)
		if r.Status != 200 || stacktest.Int(r.Body["memberCount"]) != 6 {
			t.Fatalf("get room: %s", r.Raw)
		}
		for _, m := range r.Body["members"].([]any) {
			seen = append(seen, m.(map[string]any)["userId"].(string))
		}
		if cursor, _ = r.Body["nextCursor"].(string); cursor == "" {
			break
		}
	}
	if len(seen) != 6 {
		t.Fatalf("paged members %v", seen)
	}
	if r := s.Do(t, req{Method: "DELETE", Path: "/rooms/" + room + "/members/me", Token: members[0].Token}); r.Status != 200 {
		t.Fatalf("leave: %s", r.Raw)
	}
	if r := s.Get(t, "/rooms/"+room, members[0].Token); r.Code() != "room_not_found" {
		t.Fatalf("a member who left: %s", r.Raw)
	}
	if r := s.Do(t, req{Method: "DELETE", Path: "/rooms/" + room + "/members/me", Token: members[0].Token}); r.Code() != "room_not_found" {
		t.Fatalf("leaving twice: %s", r.Raw)
	}
	// The cap: bring the count to one below it (test-only write), then two more.
	_, err := ddbtest.Client().UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(s.Name),
		Key: ddb.Key("ROOM#"+room, "META"), UpdateExpression: aws.String("SET memberCount = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": ddb.N(4999)}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.Register(t, "a"), s.Register(t, "b")
	if r := s.Post(t, "/rooms/"+room+"/members", owner.Token, fmt.Sprintf(`{"userId":%q}`, a.ID)); r.Status != 201 {
		t.Fatalf("the 5,000th member: %s", r.Raw)
	}
	if r := s.Post(t, "/rooms/"+room+"/members", owner.Token, fmt.Sprintf(`{"userId":%q}`, b.ID)); r.Status != 422 || r.Code() != "room_full" {
		t.Fatalf("past the cap: %s", r.Raw)
	}
}

// calls records the DynamoDB actions each function really calls, by the
// function the emulator invoked (the Lambda context names it); a
// TransactWriteItems counts each item's action, as IAM authorizes it.
// With deferTokens the authorizer's lookups fail, so it defers every
// request and each handler looks its token up itself (the grant every
// route behind the authorizer has).
type calls struct {
	ddb.Client
	deferTokens bool
	mu          sync.Mutex
	used        map[string]map[string]bool
}

func (c *calls) note(ctx context.Context, actions ...string) (fn string) {
	fn = "?"
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		fn = lc.InvokedFunctionArn[strings.LastIndex(lc.InvokedFunctionArn, ":minipay-")+len(":minipay-"):]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used[fn] == nil {
		c.used[fn] = map[string]bool{}
	}
	for _, a := range actions {
		c.used[fn]["dynamodb:"+a] = true
	}
	return fn
}

func (c *calls) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if c.note(ctx, "GetItem") == routes.AuthorizerFunction && c.deferTokens {
		return nil, errors.New("injected: the authorizer's token lookup fails")
	}
	return c.Client.GetItem(ctx, in, o...)
}

func (c *calls) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.note(ctx, "PutItem")
	return c.Client.PutItem(ctx, in, o...)
}

func (c *calls) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.note(ctx, "UpdateItem")
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c *calls) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.note(ctx, "Query")
	return c.Client.Query(ctx, in, o...)
}

func (c *calls) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			c.note(ctx, "PutItem")
		case it.Update != nil:
			c.note(ctx, "UpdateItem")
		case it.Delete != nil:
			c.note(ctx, "DeleteItem")
		case it.ConditionCheck != nil:
			c.note(ctx, "ConditionCheckItem")
		}
	}
	return c.Client.TransactWriteItems(ctx, in, o...)
}

// Item 2: least privilege both ways. Every route and job is driven through
// the emulator; each function's DynamoDB actions, as really called, must be
// exactly what its rows in the route and schedule tables grant (the CDK
// stack grants exactly those).
func TestGrantedActionsAreTheActionsUsed(t *testing.T) {
	rec := &calls{used: map[string]map[string]bool{}, deferTokens: true}
	s := stacktest.New(t, config.Config{WebhookAllowLoopback: true}, func(c ddb.Client) ddb.Client { rec.Client = c; return rec })
	ctx := context.Background()
	kim, lee, park := s.Register(t, "Kim"), s.Register(t, "Lee"), s.Register(t, "Park")
	must := func(r resp, status int) resp {
		t.Helper()
		if r.Status != status {
			t.Fatalf("want %d: %d %s", status, r.Status, r.Raw)
		}
		return r
	}
	s.Charge(t, kim, 100_000)
	s.Fund(t, lee, 50_000)
	must(s.Get(t, "/accounts", kim.Token), 200)
	savings := must(s.Post(t, "/accounts", kim.Token, `{"name":"trip"}`), 201).Body["id"].(string)
	must(s.Get(t, "/accounts/"+savings, kim.Token), 200)
	// The first spend of a fresh account meets only unfolded postings (an
	// operator deposit: a charge credits in place), so it folds them in its
	// own transaction (Query, Deletes).
	fresh := func(name string) stacktest.User {
		u := s.Register(t, name)
		s.Fund(t, u, 20_000)
		return u
	}
	dp := fresh("dp")
	dpSavings := must(s.Post(t, "/accounts", dp.Token, `{"name":"trip"}`), 201).Body["id"].(string)
	must(s.Post(t, "/accounts/"+dpSavings+"/deposits", dp.Token, `{"amount":1000}`), 201)
	must(s.Post(t, "/accounts/"+savings+"/deposits", kim.Token, `{"amount":1000}`), 201)
	w := fresh("w")
	must(s.Post(t, "/accounts/"+w.Main+"/withdrawals", w.Token, `{"amount":1000}`), 201)
	must(s.Post(t, "/accounts/"+kim.Main+"/withdrawals", kim.Token, `{"amount":99999999}`), 422) // a stored refusal
	must(s.Get(t, "/accounts/"+kim.Main+"/entries?limit=2", kim.Token), 200)
	tr := fresh("tr")
	must(s.Post(t, "/transfers", tr.Token, transfer(lee.ID, 1000)), 201)
	must(s.Post(t, "/transfers", park.Token, transfer(lee.ID, 10_000)), 201) // the charge exactly pays: a check of Park's account
	pendings := []string{}
	for i := 0; i < 4; i++ {
		pendings = append(pendings, must(s.Post(t, "/transfers", kim.Token, `{"to":"`+lee.ID+`","amount":100,"pending":true}`), 201).Body["id"].(string))
	}
	must(s.Get(t, "/transfers?role=received", lee.Token), 200)
	must(s.Post(t, "/transfers/"+pendings[0]+"/accept", lee.Token, ""), 201)
	must(s.Post(t, "/transfers/"+pendings[1]+"/reject", lee.Token, ""), 201)
	must(s.Post(t, "/transfers/"+pendings[2]+"/cancel", kim.Token, ""), 201)
	must(s.Do(t, req{Method: "PUT", Path: "/me/settings", Token: kim.Token, Body: `{"pendingTransfers":false}`}), 200)
	must(s.Get(t, "/me/notifications", lee.Token), 200)
	sp := fresh("sp")
	room := must(s.Post(t, "/rooms", sp.Token, `{"name":"club"}`), 201).Body["id"].(string)
	for _, u := range []stacktest.User{kim, lee, park} {
		must(s.Post(t, "/rooms/"+room+"/members", sp.Token, fmt.Sprintf(`{"userId":%q}`, u.ID)), 201)
	}
	must(s.Get(t, "/rooms/"+room, lee.Token), 200)
	tok := must(s.Post(t, "/rooms/"+room+"/sprinkles", sp.Token, `{"amount":3000,"count":3}`), 201).Body["token"].(string)
	must(s.Post(t, "/rooms/"+room+"/sprinkles/"+tok+"/claims", lee.Token, ""), 201)
	must(s.Get(t, "/rooms/"+room+"/sprinkles/"+tok, sp.Token), 200)
	must(s.Do(t, req{Method: "DELETE", Path: "/rooms/" + room + "/members/me", Token: park.Token}), 200)
	must(s.Post(t, "/me/token", park.Token, ""), 201)
	// The operator's new token for Park revokes the rotated one; Park
	// revokes that one, then (a third) all of theirs; the operator revokes
	// all of a fourth.
	issueTo := func(u stacktest.User) string {
		return must(s.Post(t, "/operator/users/"+u.ID+"/tokens", stacktest.OperatorToken, ""), 201).Body["token"].(string)
	}
	must(s.Do(t, req{Method: "DELETE", Path: "/me/token", Token: issueTo(park)}), 200)
	must(s.Do(t, req{Method: "DELETE", Path: "/me/tokens", Token: issueTo(park)}), 200)
	issueTo(park)
	must(s.Do(t, req{Method: "DELETE", Path: "/operator/users/" + park.ID + "/tokens", Token: stacktest.OperatorToken}), 200)
	must(s.Get(t, "/no/such/route", ""), 404)
	// Merchant payments: a store, orders through every transition, refunds.
	store := must(s.Post(t, "/stores", kim.Token, `{"name":"Kim's"}`), 201).Body["id"].(string)
	must(s.Get(t, "/stores/"+store, kim.Token), 200)
	// A store past the limit: its webhook markers, written first, go again.
	many := s.Register(t, "Many")
	for i := 0; i < merchant.MaxStores; i++ {
		must(s.Post(t, "/stores", many.Token, `{"name":"One of many"}`), 201)
	}
	must(s.Post(t, "/stores", many.Token, `{"name":"One too many"}`), 422)
	// Webhooks: an endpoint (before the orders, so their events fan out to
	// it), every route; the worker's failures and final notice at the end.
	hooked := newReceiver(t)
	hooks := "/stores/" + store + "/webhooks"
	hook := must(s.Post(t, hooks, kim.Token, fmt.Sprintf(`{"url":%q}`, hooked.srv.URL)), 201).Body["id"].(string)
	spare := must(s.Post(t, hooks, kim.Token, fmt.Sprintf(`{"url":%q,"events":["order.placed"]}`, hooked.srv.URL)), 201).Body["id"].(string)
	must(s.Get(t, hooks, kim.Token), 200)
	must(s.Post(t, hooks+"/"+hook+"/rotate", kim.Token, ""), 200)
	must(s.Do(t, req{Method: "PUT", Path: hooks + "/" + spare + "/status", Token: kim.Token, Body: `{"status":"disabled"}`}), 200)
	must(s.Post(t, hooks+"/"+spare+"/test", kim.Token, ""), 202)
	must(s.Do(t, req{Method: "DELETE", Path: hooks + "/" + spare, Token: kim.Token}), 200)
	testEvent := must(s.Post(t, hooks+"/"+hook+"/test", kim.Token, ""), 202).Body["event"].(map[string]any)["id"].(string)
	must(s.Post(t, hooks+"/"+hook+"/deliveries/"+testEvent+"/resend", kim.Token, ""), 202)
	must(s.Get(t, hooks+"/"+hook+"/deliveries", kim.Token), 200)
	must(s.Do(t, req{Method: "PUT", Path: "/stores/" + store + "/status", Token: kim.Token, Body: `{"status":"closed"}`}), 200)
	must(s.Do(t, req{Method: "PUT", Path: "/stores/" + store + "/status", Token: kim.Token, Body: `{"status":"open"}`}), 200)
	order := func() string {
		return must(s.Post(t, "/orders", lee.Token, fmt.Sprintf(`{"store":%q,"amount":1000}`, store)), 201).Body["id"].(string)
	}
	served, rejected, cancelled := order(), order(), order()
	must(s.Post(t, "/orders/"+served+"/accept", kim.Token, ""), 200)
	must(s.Post(t, "/orders/"+served+"/cook", kim.Token, ""), 200)
	for _, st := range []string{"cooked", "picked_up", "delivered"} {
		must(s.Post(t, "/orders/"+served+"/progress", kim.Token, `{"status":"`+st+`"}`), 200)
	}
	must(s.Post(t, "/orders/"+served+"/complete", lee.Token, ""), 200)
	must(s.Post(t, "/orders/"+served+"/refunds", kim.Token, `{"amount":1000}`), 201) // the whole capture: its posting folds exactly (a check of the reserve)
	must(s.Post(t, "/orders/"+rejected+"/reject", kim.Token, ""), 200)
	must(s.Post(t, "/orders/"+cancelled+"/cancel", lee.Token, ""), 200)
	// A second capture leaves a posting the withdrawal must fold in.
	second := order()
	must(s.Post(t, "/orders/"+second+"/accept", kim.Token, ""), 200)
	must(s.Post(t, "/orders/"+second+"/cook", kim.Token, ""), 200)
	must(s.Post(t, "/stores/"+store+"/withdrawals", kim.Token, `{"amount":1500}`), 422) // captures stay in the reserve for 7 days
	must(s.Get(t, "/stores/"+store+"/orders", kim.Token), 200)
	must(s.Get(t, "/orders", lee.Token), 200)
	must(s.Get(t, "/orders/"+served, lee.Token), 200)
	order() // left to expire
	// Savings: a fixed account closed early (its installment item goes), and
	// Park's one-month fixed account, whose installments from an empty main
	// are each exactly one automatic charge (a check of the main account).
	early := must(s.Post(t, "/accounts", kim.Token, `{"product":"fixed","installment":10000}`), 201).Body["id"].(string)
	must(s.Post(t, "/accounts/"+early+"/close", kim.Token, ""), 201)
	park.Token = issueTo(park) // every older one was revoked above (decided now, not from a cache)
	must(s.Post(t, "/accounts", park.Token, `{"product":"fixed","installment":10000,"termMonths":1}`), 201)
	// Tokens issued before names were stored on them: the handler reads the name.
	for _, fn := range []string{"transfer", "create-sprinkle"} {
		ev := namelessEvent(t, s, fn, kim, lee, room)
		if _, err := s.Emulator.Invoke(ctx, fn, ev); err != nil {
			t.Fatal(err)
		}
	}
	// Settlements: one for more participants than its first transaction
	// holds (their existence read first, the rest published at once),
	// reminded and cancelled; one paid (Park's 0 won exactly charged: a
	// check of his account), declined, listed, read, and due for the
	// sweep's reminder; one whose cancellation a crash left to the sweep.
	crowd := []string{}
	for i := 0; i < 26; i++ {
		crowd = append(crowd, fmt.Sprintf("%q", s.Register(t, fmt.Sprint("guest ", i)).ID))
	}
	big := must(s.Post(t, "/settlements", kim.Token, `{"total":260000,"memo":"wedding","participants":[`+strings.Join(crowd, ",")+`]}`), 201).Body["id"].(string)
	must(s.Post(t, "/settlements/"+big+"/remind", kim.Token, ""), 200)
	must(s.Post(t, "/settlements/"+big+"/cancel", kim.Token, ""), 200)
	due := s.Clock.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	bill := must(s.Post(t, "/settlements", kim.Token, fmt.Sprintf(`{"total":20000,"split":"explicit","amounts":[10000,5000,5000],"participants":[%q,%q,%s],"dueAt":%q}`,
		park.ID, lee.ID, crowd[0], due)), 201).Body["id"].(string)
	must(s.Get(t, "/settlements?role=received", park.Token), 200)
	must(s.Get(t, "/settlements/"+bill, kim.Token), 200)
	must(s.Post(t, "/settlements/"+bill+"/shares/"+park.ID+"/pay", park.Token, ""), 201)
	must(s.Post(t, "/settlements/"+bill+"/shares/"+lee.ID+"/decline", lee.Token, ""), 200)
	crashed := must(s.Post(t, "/settlements", kim.Token, fmt.Sprintf(`{"total":2000,"participants":[%q,%s]}`, lee.ID, crowd[1])), 201).Body["id"].(string)
	_, err := ddbtest.Client().UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.Name), // the cancel's first commit, then the crash
		Key:                      ddb.Key("SETTLEMENT#"+crashed, "META"),
		UpdateExpression:         aws.String("SET #s = :c, cancelledAt = :at, dueBucket = :b, dueAt = :d ADD workRev :one"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": ddb.S("cancelled"), ":at": ddb.Time(s.Clock.Now()),
			":b": ddb.S(ddb.DueKind{Name: "settlement", Shards: 16}.Bucket(crashed)), ":d": ddb.S(ddb.DueAt(s.Clock.Now(), crashed)), ":one": ddb.N(1)}})
	if err != nil {
		t.Fatal(err)
	}

	// The jobs, each with work to do.
	s.Clock.Advance(49 * time.Hour) // the remaining pending transfer is due for its reminder; the sprinkle closed; the bill's reminder
	for _, job := range []string{"sprinkle-reclaim", "pending-sweep", "order-expiry", "settlement-sweep", "webhook-sweep"} {
		if _, err := s.Emulator.Fire(ctx, job, s.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, job := range []string{"sprinkle-reclaim", "pending-sweep", "order-expiry", "settlement-sweep", "webhook-sweep"} {
		sc, _ := routes.ScheduleNamed(job)
		for _, bucket := range sc.Due { // a backlog handed on (nothing left here: the run did it)
			if _, err := s.Emulator.Invoke(ctx, "due-worker", dueWorkerEvent(t, job, bucket)); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Clock.Advance(24 * time.Hour) // and now for its expiry
	for _, job := range []string{"pending-sweep", "savings-interest", "savings-installments"} {
		if _, err := s.Emulator.Fire(ctx, job, s.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Clock.Advance(5 * 24 * time.Hour)                                            // the captured orders' 7-day refund windows closed
	if _, err := s.Emulator.Fire(ctx, "order-expiry", s.Clock.Now()); err != nil { // their reserves released
		t.Fatal(err)
	}
	must(s.Post(t, "/stores/"+store+"/withdrawals", kim.Token, `{"amount":1000}`), 201) // exactly the released posting: a check of the account
	requireEveryOperation(t, s)                                                         // and each exchange was validated against the OpenAPI document
	// The fold worker on lee's postings (foldq_test.go).
	if _, err := s.Emulator.Invoke(ctx, "fold-worker", foldWorkerEvent(t, lee.ID, lee.Main)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Emulator.Fire(ctx, "ledger-fold", s.Clock.Now()); err != nil { // postings of park's and the bank's
		t.Fatal(err)
	}
	s.Clock.Advance(121 * 24 * time.Hour) // every account's checkpoint is due
	if _, err := s.Emulator.Fire(ctx, "ledger-checkpoint", s.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Emulator.Fire(ctx, "savings-interest", s.Clock.Now()); err != nil { // Park's account matures
		t.Fatal(err)
	}
	if st := s.Emulator.QueueStats(); st.DeadLettered > 0 || st.Delivered == 0 {
		t.Fatalf("queued savings work: %+v", st)
	}
	// A receiver failing for 3 days: the delivery fails and Kim is told.
	hooked.mode.Store("500")
	kim.Token = issueTo(kim) // 90 days passed: Kim's token expired
	must(s.Post(t, hooks+"/"+hook+"/test", kim.Token, ""), 202)
	for i := 0; i < 16; i++ {
		if _, err := s.Emulator.Fire(ctx, "webhook-sweep", s.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		s.Clock.Advance(6 * time.Hour)
	}
	if len(hooked.all()) == 0 || !slices.Contains(notificationTypes(t, s, kim), "webhook_delivery_failed") {
		t.Fatalf("webhooks: %d received; no failure notice", len(hooked.all()))
	}

	granted := map[string][]string{routes.AuthorizerFunction: routes.AuthorizerTable, routes.Fallback.Function: nil}
	for _, r := range routes.Routes {
		granted[r.Function] = append(granted[r.Function], r.Grants()...)
	}
	for _, sc := range routes.Schedules {
		granted[sc.Function] = append(granted[sc.Function], sc.Table...)
	}
	for _, q := range routes.Queues {
		granted[q.Worker] = append(granted[q.Worker], q.Table...)
	}
	// Reads a warm instance answers from its cache: the store's facts
	// (merchant) and the accounts the ledger knows. Here every function
	// shares one process, so another function's request may have warmed
	// them; a Lambda instance starts cold and needs the grant.
	coldReads := map[string][]string{"place-order": {"dynamodb:GetItem"}, "deposit-savings": {"dynamodb:GetItem"},
		"list-store-orders": {"dynamodb:GetItem"}, "get-store": {"dynamodb:GetItem"}}
	for fn, actions := range granted {
		var used []string
		for a := range rec.used[fn] {
			used = append(used, a)
		}
		for _, a := range coldReads[fn] {
			if !slices.Contains(used, a) {
				used = append(used, a)
			}
		}
		sort.Strings(used)
		want := slices.Clone(actions)
		sort.Strings(want)
		want = slices.Compact(want)
		if fn == "due-worker" { // the jobs' own grants, checked above; here the work was done by their runs
			for _, a := range used {
				if !slices.Contains(want, a) {
					t.Errorf("%s: used %s, not granted %v", fn, a, want)
				}
			}
			if len(used) == 0 {
				t.Errorf("%s was never invoked", fn)
			}
			continue
		}
		if !slices.Equal(used, want) {
			t.Errorf("%s: granted %v, used %v", fn, want, used)
		}
	}
	for fn := range rec.used {
		if _, ok := granted[fn]; !ok {
			t.Errorf("calls from %q, which no row grants", fn)
		}
	}
}

// namelessEvent is fn's request as an old token's authorizer answer makes
// it: a user context without the caller's name.
func namelessEvent(t *testing.T, s *stacktest.Stack, fn string, kim, lee stacktest.User, room string) []byte {
	t.Helper()
	path, body := "/transfers", transfer(lee.ID, 10)
	params := ""
	if fn == "create-sprinkle" {
		path, body, params = "/rooms/"+room+"/sprinkles", `{"amount":10,"count":1}`, fmt.Sprintf(`,"pathParameters":{"id":%q}`, room)
	}
	rk := "POST /transfers"
	if fn == "create-sprinkle" {
		rk = "POST /rooms/{id}/sprinkles"
	}
	return []byte(fmt.Sprintf(`{"version":"2.0","routeKey":%q,"rawPath":%q,"headers":{"content-type":"application/json","idempotency-key":%q},
		"requestContext":{"http":{"method":"POST","path":%q},"requestId":"r1","authorizer":{"lambda":{"role":"user","userId":%q}}},
		"body":%q%s}`, rk, path, stacktest.NewKey(), path, kim.ID, body, params))
}

func notificationTypes(t *testing.T, s *stacktest.Stack, u stacktest.User) []string {
	t.Helper()
	var out []string
	for _, n := range s.Get(t, "/me/notifications?limit=100", u.Token).Body["notifications"].([]any) {
		out = append(out, n.(map[string]any)["type"].(string))
	}
	return out
}
