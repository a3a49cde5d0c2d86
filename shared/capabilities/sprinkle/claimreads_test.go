package sprinkle_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/sprinkle"
	"minipay/shared/kernel/ddb"
)

// reads counts GetItems by partition prefix and consistency, and can serve
// eventually consistent GetItems as stale as DynamoDB may: a token item not
// there yet, and the first copy ever read of each tickets item.
type reads struct {
	ddb.Client
	stale bool
	mu    sync.Mutex
	n     map[string]int      // "ROOM# strong", "SPRINKLE# eventual", ...
	first map[string]ddb.Item // tickets item key -> its first eventual answer
	seen  map[string]bool     // which first answers are memoized
}

func newReads(stale bool) *reads {
	return &reads{stale: stale, n: map[string]int{}, first: map[string]ddb.Item{}, seen: map[string]bool{}}
}

func (r *reads) wrap(c ddb.Client) ddb.Client { r.Client = c; return r }

func (r *reads) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	pk, sk := ddb.Decode(in.Key).S(ddb.AttrPK), ddb.Decode(in.Key).S(ddb.AttrSK)
	strong := aws.ToBool(in.ConsistentRead)
	kind := "eventual"
	if strong {
		kind = "strong"
	}
	r.mu.Lock()
	r.n[pk[:strings.Index(pk, "#")+1]+" "+kind]++
	r.mu.Unlock()
	if !r.stale || strong {
		return r.Client.GetItem(ctx, in, opts...)
	}
	switch {
	case strings.HasPrefix(sk, "TOKEN#"):
		return &dynamodb.GetItemOutput{}, nil // not replicated yet
	case sk == "TICKETS":
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.seen[pk] {
			out, err := r.Client.GetItem(ctx, in, opts...)
			if err != nil {
				return nil, err
			}
			r.first[pk], r.seen[pk] = out.Item, true
		}
		return &dynamodb.GetItemOutput{Item: r.first[pk]}, nil
	}
	return r.Client.GetItem(ctx, in, opts...)
}

func (r *reads) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.n
	r.n = map[string]int{}
	return n
}

// The hot partitions of a claim burst, the room's and the sprinkle's, are
// read only eventually consistently by a member's claim, paid or
// exhausted (issue 24 (e): before, each claim read both strongly twice).
func TestClaimReadsHotPartitionsEventually(t *testing.T) {
	rd := newReads(false)
	w := &world{stacktest.NewWorld(t, rd.wrap)}
	s, m1, m2 := w.Register(t, "s"), w.Register(t, "m1"), w.Register(t, "m2")
	w.charge(t, s, 10_000)
	room := w.room(t, s, m1, m2)
	token := w.mustSprinkle(t, s, room, `{"amount":1000,"count":1}`)
	for _, tc := range []struct {
		who  user
		want string
	}{{m1, "201 "}, {m2, "409 sprinkle_exhausted"}} {
		rd.take()
		if r := w.claim(t, tc.who.ID, room, token); code(r) != tc.want {
			t.Fatalf("claim: %s, want %s", r.Raw, tc.want)
		}
		n := rd.take()
		if n["ROOM# strong"]+n["SPRINKLE# strong"] != 0 || n["ROOM# eventual"] != 1 || n["SPRINKLE# eventual"] != 1 {
			t.Errorf("%s: reads %v; want one eventually consistent read of ROOM# and of SPRINKLE#, none strong", tc.want, n)
		}
	}
}

// Many members and non-members claim at once while every eventually
// consistent read is as stale as it may be (the token item not there, the
// tickets item as it was at creation): exactly the shares are paid, once
// each; every other member hears exhausted, every non-member not a member,
// the sprinkler own_sprinkle, and a member who claims again already
// claimed. The audit (at the end of every test) is exact.
func TestClaimsUnderStaleReads(t *testing.T) {
	const members, outsiders, shares, amount = 60, 20, 15, 100_000
	rd := newReads(true)
	w := &world{stacktest.NewWorld(t, rd.wrap)}
	s := w.Register(t, "sprinkler")
	w.charge(t, s, amount)
	room := w.room(t, s)
	ids := bulkMembers(t, w, room, s.ID, members)
	var strangers []string
	for i := 0; i < outsiders; i++ {
		strangers = append(strangers, w.Register(t, fmt.Sprint("o", i)).ID)
	}
	token := w.mustSprinkle(t, s, room, fmt.Sprintf(`{"amount":%d,"count":%d,"split":"random"}`, amount, shares))
	callers := append(append(append([]string{}, ids...), strangers...), s.ID)
	var mu sync.Mutex
	paid := map[string]int64{}
	outcome := map[string]string{}
	counts := stacktest.Run(len(callers), func(i int) result {
		r := w.claim(t, callers[i], room, token)
		mu.Lock()
		defer mu.Unlock()
		outcome[callers[i]] = code(r)
		if r.Status == 201 {
			paid[callers[i]] += int64(r.Body["amount"].(float64))
		}
		return r
	})
	if counts["201"] != shares || counts["409 sprinkle_exhausted"] != members-shares ||
		counts["403 not_a_member"] != outsiders || counts["403 own_sprinkle"] != 1 {
		t.Fatalf("outcomes %v", counts)
	}
	for _, id := range strangers {
		if outcome[id] != "403 not_a_member" {
			t.Errorf("outsider %s: %s", id, outcome[id])
		}
	}
	// Every winner again, at once: each already claimed, nothing paid.
	var winners []string
	for id := range paid {
		winners = append(winners, id)
	}
	again := stacktest.Run(len(winners), func(i int) result { return w.claim(t, winners[i], room, token) })
	if again["409 already_claimed"] != len(winners) {
		t.Fatalf("second claims %v", again)
	}
	var sum int64
	for id, p := range paid {
		sum += p
		if got := w.available(t, id); got != p {
			t.Errorf("%s has %d, was paid %d", id, got, p)
		}
	}
	total, _, users := claimedAmounts(t, w, s, room, token)
	if sum != amount || total != amount || len(users) != shares {
		t.Fatalf("paid %d, lookup total %d, %d claimers", sum, total, len(users))
	}
}

// A member added before the membership copies existed (no USER#/ROOM#
// item) still claims, through the room's member item; after leaving, they
// cannot. A copy left behind without its member item (which no handler
// writes) is not enough: the claim's transaction checks the member item.
func TestClaimByMemberWithoutCopy(t *testing.T) {
	w := newWorld(t)
	s, old, stray := w.Register(t, "s"), w.Register(t, "old"), w.Register(t, "stray")
	w.charge(t, s, 10_000)
	room := w.room(t, s, old, stray)
	del := func(key ddb.Item) {
		t.Helper()
		if _, err := ddbtest.Client().DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(w.Name), Key: key}); err != nil {
			t.Fatal(err)
		}
	}
	del(sprinkle.MembershipKey(old.ID, room)) // as if added before the copies
	del(sprinkle.MemberKey(room, stray.ID))   // only the copy is left
	first := w.mustSprinkle(t, s, room, `{"amount":1000,"count":3}`)
	if r := w.claim(t, old.ID, room, first); r.Status != 201 {
		t.Fatalf("member without a copy: %s", r.Raw)
	}
	if r := w.claim(t, stray.ID, room, first); code(r) != "403 not_a_member" || w.available(t, stray.ID) != 0 {
		t.Fatalf("a copy without its member item: %s", r.Raw)
	}
	if r := w.Do(t, call{Fn: "leave-room", Caller: old.ID, Path: map[string]string{"id": room}}); r.Status != 200 {
		t.Fatalf("leave: %s", r.Raw)
	}
	second := w.mustSprinkle(t, s, room, `{"amount":1000,"count":3}`)
	if r := w.claim(t, old.ID, room, second); code(r) != "403 not_a_member" {
		t.Fatalf("after leaving: %s", r.Raw)
	}
	// A member who joins now has a copy, and leaving removes it.
	late := w.Register(t, "late")
	if r := w.addMember(t, s, room, late.ID); r.Status != 201 {
		t.Fatalf("add: %s", r.Raw)
	}
	item, err := w.Table.Get(ctx, sprinkle.MembershipKey(late.ID, room))
	if err != nil || item == nil {
		t.Fatalf("no copy for a new member: %v", err)
	}
	w.Do(t, call{Fn: "leave-room", Caller: late.ID, Path: map[string]string{"id": room}})
	if item, err := w.Table.Get(ctx, sprinkle.MembershipKey(late.ID, room)); err != nil || item != nil {
		t.Fatalf("the copy outlived the membership: %v", err)
	}
	w.Clock.Advance(sprinkle.LookupWindow)
	w.reclaim(t)
}
