package app_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"minipay/shared/capabilities/merchant"
	"minipay/shared/capabilities/settlement"
	"minipay/shared/capabilities/sprinkle"
	"minipay/shared/capabilities/transfers"
	"minipay/shared/capabilities/webhooks"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ledger"
)

// Every row of the schedule table lists as Due exactly the due-index kinds
// its job reads, in the order the job reads them (the local test clock fires
// a rate job only when one of them has something due); a daily job reads
// none, since it fires at every slot. The owning package says what its job
// reads; this table says which job a row starts.
func TestScheduleDueKinds(t *testing.T) {
	reads := map[string][]string{ // schedule name -> the kinds its job reads
		"sprinkle-reclaim": sprinkle.ReclaimDueKinds(),
		"pending-sweep":    transfers.SweepDueKinds(),
		"ledger-fold":      ledger.FoldDueKinds(), // the fold's shards, not the daily checkpoint's bucket
		"order-expiry":     merchant.ExpiryDueKinds(),
		"settlement-sweep": settlement.SweepDueKinds(),
		"webhook-sweep":    webhooks.DueKinds(),
	}
	for name := range reads {
		if _, ok := routes.ScheduleNamed(name); !ok {
			t.Errorf("routes.Schedules has no %s, whose job reads %v", name, reads[name])
		}
	}
	for _, s := range routes.Schedules {
		t.Run(s.Name, func(t *testing.T) {
			want, ok := reads[s.Name]
			if !ok && s.Every != 0 {
				t.Fatalf("rate schedule %s: no row here says which kinds its job reads", s.Name)
			}
			if len(want) == 0 && len(s.Due) > 0 {
				t.Fatalf("routes.Schedules %s: Due %v, the job reads none", s.Name, s.Due)
			}
			if ok && (len(want) == 0 || !slices.Equal(s.Due, want)) {
				t.Fatalf("routes.Schedules %s: Due %v, the job reads %v", s.Name, s.Due, want)
			}
		})
	}
}

// README.md's scheduled-jobs rule names each kind's shard count ("order
// 32"); it is counted here from what the jobs read, so it stays true.
func TestREADMEShardCounts(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(readme)), " ")
	shards := map[string]int{}
	for _, s := range routes.Schedules {
		for _, kind := range s.Due {
			name, _, _ := strings.Cut(kind, "#")
			shards[name]++
		}
	}
	if len(shards) == 0 {
		t.Fatal("no schedule reads a due kind")
	}
	for name, n := range shards {
		if want := fmt.Sprintf(`\b%s %d\b`, regexp.QuoteMeta(name), n); !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("README.md's scheduled-jobs rule does not say %q: %s has %d shards", fmt.Sprintf("%s %d", name, n), name, n)
		}
	}
}
