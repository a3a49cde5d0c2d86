package stacktest_test

// Issue 21, sharded deliveries: an endpoint's deliveries spread over
// webhooks.DeliveryShards partitions, its delivery log still exact, and
// the worker seeing the endpoint's current status and secrets (each
// shard's copy of the endpoint, written with every change).

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/webhooks"
	"minipay/shared/kernel/ddb"
)

// endpointItems are the items of ep's delivery partitions (WHEP#<ep>...),
// by sort key prefix: deliveries' partitions, and the settings copies.
func endpointItems(t *testing.T, sh *shop, ep string) (deliveryPKs map[string]int, copies []ddb.Item) {
	t.Helper()
	deliveryPKs = map[string]int{}
	for n := range webhooks.DeliveryShards {
		pk := ddb.ShardKey("WHEP#"+ep, n)
		q := sh.Table.Query(&dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("PK = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": ddb.S(pk)}, ConsistentRead: aws.Bool(true),
		})
		for q.Next(context.Background()) {
			if it := q.Item(); strings.HasPrefix(ddb.Decode(it).S("SK"), "DLV#") {
				deliveryPKs[pk]++
			} else {
				copies = append(copies, it)
			}
		}
		if err := q.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return deliveryPKs, copies
}

// Forty test events to one endpoint: their deliveries sit on several
// partitions, and the delivery log, paged 7 at a time, lists each once,
// newest event first, none missing.
func TestWebhookDeliveryLogOverShards(t *testing.T) {
	sh := newHookShop(t, 0)
	rc := newReceiver(t)
	ep, secret := sh.endpoint(t, rc.srv.URL)
	var ids []string
	for range 40 {
		sh.Clock.Advance(time.Millisecond)
		r := sh.must(t, sh.Post(t, "/stores/"+sh.store+"/webhooks/"+ep+"/test", sh.owner.Token, ""), 202)
		ids = append(ids, r.Body["event"].(map[string]any)["id"].(string))
	}
	sh.advance(t, time.Minute)
	if evs := verified(t, rc.all(), secret); len(evs) != 40 {
		t.Fatalf("%d events delivered; want 40", len(evs))
	}
	pks, copies := endpointItems(t, sh, ep)
	if len(pks) < 10 {
		t.Errorf("40 deliveries on %d partitions %v; want them spread over the shards", len(pks), pks)
	}
	if len(copies) != webhooks.DeliveryShards {
		t.Errorf("%d copies of the endpoint; want %d", len(copies), webhooks.DeliveryShards)
	}
	var listed []string
	cursor, pages := "", 0
	for {
		r := sh.must(t, sh.Get(t, "/stores/"+sh.store+"/webhooks/"+ep+"/deliveries?limit=7"+cursor, sh.owner.Token), 200)
		pages++
		for _, d := range r.Body["deliveries"].([]any) {
			dl := d.(map[string]any)
			if dl["status"] != "delivered" {
				t.Errorf("delivery %v", dl)
			}
			listed = append(listed, dl["event"].(map[string]any)["id"].(string))
		}
		next, _ := r.Body["nextCursor"].(string)
		if next == "" || pages > 20 {
			break
		}
		cursor = "&cursor=" + next
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	slices.Reverse(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("listed %d deliveries in %d pages:\n%v\nwant (newest first)\n%v", len(listed), pages, listed, want)
	}
}

// work hands the webhook-worker one message, as the queue would (a copy
// that waited in the queue while the endpoint changed).
func work(t *testing.T, sh *shop, ep, event string) webhooks.WorkSummary {
	t.Helper()
	b, _ := json.Marshal(webhooks.Message{Store: sh.store, Endpoint: ep, Event: event})
	sum, err := webhooks.Worker(sh.Services)(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: string(b)}}})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// A message that waited while its endpoint was disabled, rotated twice or
// deleted: the worker sees the endpoint as it is now. Disabled: no POST,
// the delivery fails ("endpoint disabled"), and after re-enabling the
// stale message does nothing (only a resend delivers, once). Rotated
// twice: signed by the two newest secrets, never the dropped one.
// Deleted: no POST. Every change leaves the shards' copies equal to the
// endpoint.
func TestWebhookWorkerSeesTheEndpointAsItIsNow(t *testing.T) {
	sh := newHookShop(t, 0)
	rc := newReceiver(t)
	ep, first := sh.endpoint(t, rc.srv.URL)
	hooks := "/stores/" + sh.store + "/webhooks/" + ep
	test := func() string {
		sh.Clock.Advance(time.Millisecond)
		return sh.must(t, sh.Post(t, hooks+"/test", sh.owner.Token, ""), 202).Body["event"].(map[string]any)["id"].(string)
	}
	copiesSay := func(status string, n int) {
		t.Helper()
		_, copies := endpointItems(t, sh, ep)
		if len(copies) != n {
			t.Fatalf("%d copies; want %d", len(copies), n)
		}
		for _, c := range copies {
			if s := ddb.Decode(c).S("status"); s != status {
				t.Fatalf("a copy says %q; want %q", s, status)
			}
		}
	}
	status := func(s string) {
		t.Helper()
		sh.must(t, sh.Do(t, req{Method: "PUT", Path: hooks + "/status", Token: sh.owner.Token, Body: `{"status":"` + s + `"}`}), 200)
	}

	// Disabled while its message waited.
	ev := test()
	status("disabled")
	copiesSay("disabled", webhooks.DeliveryShards)
	if sum := work(t, sh, ep, ev); sum.Failed != 1 || len(rc.all()) != 0 {
		t.Fatalf("disabled: %+v, %d posts", sum, len(rc.all()))
	}
	status("enabled")
	copiesSay("enabled", webhooks.DeliveryShards)
	if sum := work(t, sh, ep, ev); sum.Skipped != 1 || len(rc.all()) != 0 {
		t.Fatalf("the stale message after re-enabling: %+v, %d posts", sum, len(rc.all()))
	}
	d := sh.deliveries(t, ep)
	if len(d) != 1 || d[0]["status"] != "failed" || !strings.Contains(d[0]["log"].([]any)[0].(map[string]any)["error"].(string), "disabled") {
		t.Fatalf("deliveries %v", d)
	}
	sh.must(t, sh.Post(t, hooks+"/deliveries/"+ev+"/resend", sh.owner.Token, ""), 202)
	sh.advance(t, time.Minute)
	sh.advance(t, time.Minute)
	if got := rc.all(); len(got) != 1 || got[0].event.ID != ev {
		t.Fatalf("after the resend: %d posts", len(got))
	}

	// Rotated twice while its message waited: the oldest secret is gone.
	ev = test()
	second := sh.must(t, sh.Post(t, hooks+"/rotate", sh.owner.Token, ""), 200).Body["secret"].(string)
	third := sh.must(t, sh.Post(t, hooks+"/rotate", sh.owner.Token, ""), 200).Body["secret"].(string)
	if sum := work(t, sh, ep, ev); sum.Delivered != 1 {
		t.Fatalf("rotated: %+v", sum)
	}
	got := rc.all()[1]
	verified(t, []received{got}, third)
	verified(t, []received{got}, second)
	if n := strings.Count(got.signature, "v1="); n != 2 {
		t.Errorf("signature %q: want 2 signatures", got.signature)
	}
	if webhooks.Verify(got.signature, got.body, first, time.Unix(tsOf(got.signature), 0), 5*time.Minute) == nil {
		t.Errorf("signed with the secret dropped by the second rotation")
	}

	// Deleted while its message waited.
	ev = test()
	sh.must(t, sh.Do(t, req{Method: "DELETE", Path: hooks, Token: sh.owner.Token}), 200)
	copiesSay("", 0)
	if sum := work(t, sh, ep, ev); sum.Failed != 1 || len(rc.all()) != 2 {
		t.Fatalf("deleted: %+v, %d posts", sum, len(rc.all()))
	}
	sh.advance(t, time.Hour)
	if len(rc.all()) != 2 {
		t.Fatalf("%d posts after the deletion; want 2", len(rc.all()))
	}
}

// Owner changes racing each other (rotations, disables, enables at once):
// each one succeeds or, when it kept meeting the others, is refused with a
// 503 (contention: retry), never a 500; afterwards each of the 64 copies
// is the endpoint item exactly (status, secrets, version: one per change
// that succeeded): a copy is written in the same transaction as its
// endpoint, conditioned on the version read.
func TestWebhookCopiesFollowRacingChanges(t *testing.T) {
	sh := newHookShop(t, 0)
	rc := newReceiver(t)
	ep, _ := sh.endpoint(t, rc.srv.URL)
	hooks := "/stores/" + sh.store + "/webhooks/" + ep
	var wg sync.WaitGroup
	var ok atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3 {
				var r stacktest.Response
				switch (g + i) % 3 {
				case 0:
					r = sh.Post(t, hooks+"/rotate", sh.owner.Token, "")
				case 1:
					r = sh.Do(t, req{Method: "PUT", Path: hooks + "/status", Token: sh.owner.Token, Body: `{"status":"disabled"}`})
				default:
					r = sh.Do(t, req{Method: "PUT", Path: hooks + "/status", Token: sh.owner.Token, Body: `{"status":"enabled"}`})
				}
				switch {
				case r.Status == 200:
					ok.Add(1)
				case r.Status != 503 || r.Body["code"] != "contention":
					t.Errorf("change %d of %d: %d %s", i, g, r.Status, r.Raw)
				}
			}
		}()
	}
	wg.Wait()
	item, err := sh.Table.Get(context.Background(), ddb.Key("WHSTORE#"+sh.store, "EP#"+ep))
	if err != nil || item == nil {
		t.Fatalf("endpoint item %v %v", item, err)
	}
	want := ddb.Decode(item)
	if v := want.N("version"); v != 1+ok.Load() || ok.Load() < 12 {
		t.Errorf("version %d after %d of 24 changes", v, ok.Load())
	}
	_, copies := endpointItems(t, sh, ep)
	if len(copies) != webhooks.DeliveryShards {
		t.Fatalf("%d copies", len(copies))
	}
	for _, c := range copies {
		got := ddb.Decode(c)
		for _, a := range []string{"status", "secret", "prevSecret", "url", "owner"} {
			if got.S(a) != want.S(a) {
				t.Fatalf("a copy's %s %q; the endpoint's %q", a, got.S(a), want.S(a))
			}
		}
		if got.N("version") != want.N("version") || got.N("prevSecretUntilMs") != want.N("prevSecretUntilMs") {
			t.Fatalf("a copy's version %d, grace %d; the endpoint's %d, %d", got.N("version"), got.N("prevSecretUntilMs"),
				want.N("version"), want.N("prevSecretUntilMs"))
		}
	}
}
