package notify_test

import (
	"context"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/shared/capabilities/notify"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

func add(t testing.TB, e *ddbtest.Env, n notify.Notification) {
	t.Helper()
	tx := &ledger.Tx{}
	notify.Add(tx, n)
	if err := e.Ledger.Commit(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
}

// inboxPartitions counts the user's inbox items per partition key.
func inboxPartitions(t testing.TB, e *ddbtest.Env, uid string) map[string]int {
	t.Helper()
	out := map[string]int{}
	var start ddb.Item
	for {
		page, err := ddbtest.Client().Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(e.Name), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			d := ddb.Decode(it)
			if strings.HasPrefix(d.S(ddb.AttrSK), notify.SKPrefix) && d.S("userId") == uid {
				out[d.S(ddb.AttrPK)]++
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out
		}
		start = page.LastEvaluatedKey
	}
}

// listAll pages through the user's inbox with pages of limit.
func listAll(t testing.TB, e *ddbtest.Env, uid string, limit int32) []notify.Notification {
	t.Helper()
	var all []notify.Notification
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("the listing does not end")
		}
		ns, next, err := notify.List(context.Background(), e.Table, uid, ddb.PageRequest{Limit: limit, Cursor: cursor}, e.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) > int(limit) {
			t.Fatalf("a page of %d items, limit %d", len(ns), limit)
		}
		all = append(all, ns...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// A user's inbox is spread over notify.InboxShards partitions (never the
// user's own USER#<uid> for a new one), and paging through it with small
// pages returns every notification exactly once, newest first across the
// shards, the items written before the sharding (on USER#<uid>) included.
// Before the sharding every item was on USER#<uid>: one partition took all
// of a store owner's notifications.
func TestInboxShardsAndPagesEveryNotificationOnceNewestFirst(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	const uid, n = "u_0123456789abcdef", 150
	base := e.Clock.Now().Add(-time.Hour)
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		// every third one shares its instant with the one before: the ids'
		// random part orders them
		at := base.Add(time.Duration(i-i/3) * time.Second)
		id := ddb.NewTimeID(at)
		add(t, e, notify.Notification{ID: id, UserID: uid, Type: "test", At: at, Data: map[string]any{"i": i}})
		want[id] = true
	}
	// Items of the unsharded inbox, as written before the sharding.
	for i := 0; i < 5; i++ {
		at := base.Add(time.Duration(i*45) * time.Second)
		id := ddb.NewTimeID(at)
		item := ddb.Key("USER#"+uid, notify.SKPrefix+id)
		item["notificationId"], item["userId"], item["type"], item["at"] = ddb.S(id), ddb.S(uid), ddb.S("old"), ddb.Time(at)
		item[ddb.AttrTTL] = ddb.Epoch(at.Add(notify.Retention))
		if _, err := ddbtest.Client().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.Name), Item: item}); err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	// Another user's inbox is not listed.
	add(t, e, notify.Notification{UserID: "u_fedcba9876543210", Type: "test", At: base})

	parts := inboxPartitions(t, e, uid)
	if parts["USER#"+uid] != 5 {
		t.Fatalf("USER#%s holds %d inbox items, want only the 5 old ones: %v", uid, parts["USER#"+uid], parts)
	}
	if len(parts) < notify.InboxShards-2 || len(parts) > notify.InboxShards {
		t.Fatalf("%d notifications over %d partitions, want about %d: %v", n, len(parts), notify.InboxShards, parts)
	}
	for pk, c := range parts {
		if c > n/4 {
			t.Fatalf("partition %s holds %d of %d", pk, c, n)
		}
	}

	for _, limit := range []int32{5, 100} {
		got := listAll(t, e, uid, limit)
		seen := map[string]bool{}
		for i, x := range got {
			if !want[x.ID] {
				t.Fatalf("limit %d: listed %s, not one of the user's", limit, x.ID)
			}
			if seen[x.ID] {
				t.Fatalf("limit %d: %s listed twice", limit, x.ID)
			}
			seen[x.ID] = true
			if i > 0 && got[i-1].ID <= x.ID {
				t.Fatalf("limit %d: item %d (%s) after %s: not newest first", limit, i, x.ID, got[i-1].ID)
			}
		}
		if len(seen) != len(want) {
			t.Fatalf("limit %d: listed %d of %d", limit, len(seen), len(want))
		}
	}

	// Expired items are never listed, whichever shard holds them.
	e.Clock.Advance(notify.Retention - time.Hour + 100*time.Second)
	got := listAll(t, e, uid, 9)
	if len(got) == 0 || len(got) >= len(want) {
		t.Fatalf("after some expired: %d listed of %d", len(got), len(want))
	}
	for _, x := range got {
		if !x.At.Add(notify.Retention).After(e.Clock.Now()) {
			t.Fatalf("expired %s listed", x.ID)
		}
	}
}

// Many notifications to one user at once (a store owner's orders placed
// concurrently) never conflict: each is its own item, on one of the
// shards, and each is listed exactly once.
func TestConcurrentNotificationsToOneUserAllCommitAndList(t *testing.T) {
	e := ddbtest.New(t)
	const uid, workers, each = "u_0123456789abcdeg", 32, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	ids := make(chan string, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				at := e.Clock.Now()
				id := ddb.NewTimeID(at)
				tx := &ledger.Tx{}
				notify.Add(tx, notify.Notification{ID: id, UserID: uid, Type: "order_placed", At: at})
				if err := e.Ledger.Commit(context.Background(), tx); err != nil {
					errs <- err
					continue
				}
				ids <- id
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Fatal(err)
	}
	var want []string
	for id := range ids {
		want = append(want, id)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(want)))
	got := listAll(t, e, uid, 10)
	if len(got) != len(want) {
		t.Fatalf("listed %d of %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i] {
			t.Fatalf("item %d: %s, want %s", i, got[i].ID, want[i])
		}
	}
	if parts := inboxPartitions(t, e, uid); parts["USER#"+uid] != 0 || len(parts) < 8 {
		t.Fatalf("%d notifications on %d partitions: %v", len(want), len(parts), parts)
	}
}
