package contention

import (
	"fmt"
	"maps"
	"sort"
	"strings"
)

// Counts are write requests that met the model: in total (one per request
// or SDK attempt) and per item key (one per request including the item).
// Attempts = Successes + Failed + Rejected.
type Counts struct {
	Attempts  int64
	Successes int64 // admitted, and DynamoDB Local answered without error
	Failed    int64 // admitted, then refused by DynamoDB Local (a failed condition...)
	Rejected  int64 // answered by the model; consumed and occupied nothing
	// Conflicts and Throttles break Rejected down: requests with at least
	// one conflicting (throttled) item; per key, rejections on this item's
	// own conflict (throttle). A BatchWriteItem with some requests left
	// unprocessed counts as a throttle without being rejected.
	Conflicts int64
	Throttles int64
}

func (c Counts) String() string {
	return fmt.Sprintf("%d attempts: %d ok, %d failed, %d rejected (%d conflicts, %d throttles)",
		c.Attempts, c.Successes, c.Failed, c.Rejected, c.Conflicts, c.Throttles)
}

// KeyCounts are one item's counts.
type KeyCounts struct {
	Key ItemKey
	Counts
}

// Report is what the model saw since it was wrapped or Reset.
type Report struct {
	Total       Counts
	ConsumedWCU float64     // by admitted writes
	Keys        int         // distinct item keys written
	Hottest     []KeyCounts // by Conflicts+Throttles, then Attempts, then key
	// Failures breaks Total.Failed down by DynamoDB Local's answer: an error
	// code, or "TransactionCanceledException " and the reasons.
	Failures map[string]int64
}

// ConflictsPerSuccess is Total.Conflicts / Total.Successes (0 without successes).
func (r Report) ConflictsPerSuccess() float64 {
	if r.Total.Successes == 0 {
		return 0
	}
	return float64(r.Total.Conflicts) / float64(r.Total.Successes)
}

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "contention model: %s; %.0f WCU consumed; %d item keys", r.Total, r.ConsumedWCU, r.Keys)
	if len(r.Failures) > 0 {
		codes := make([]string, 0, len(r.Failures))
		for c := range r.Failures {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		b.WriteString("\nfailed in DynamoDB Local:")
		for _, c := range codes {
			fmt.Fprintf(&b, " %d x %s;", r.Failures[c], c)
		}
	}
	if len(r.Hottest) > 0 {
		b.WriteString("\nhottest keys (conflicts + throttles):")
		for _, k := range r.Hottest {
			fmt.Fprintf(&b, "\n  %s: %s", k.Key, k.Counts)
		}
	}
	return b.String()
}

// Report returns the totals and the n hottest keys (all keys if n < 0).
// Keys that never conflicted nor throttled are listed only after the others.
func (m *Model) Report(n int) Report {
	m.mu.Lock()
	r := Report{Total: m.total, ConsumedWCU: m.wcu, Keys: len(m.keys), Failures: maps.Clone(m.failures)}
	all := make([]KeyCounts, 0, len(m.keys))
	for k, c := range m.keys {
		all = append(all, KeyCounts{k, *c})
	}
	m.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if ha, hb := a.Conflicts+a.Throttles, b.Conflicts+b.Throttles; ha != hb {
			return ha > hb
		}
		if a.Attempts != b.Attempts {
			return a.Attempts > b.Attempts
		}
		return a.Key.String() < b.Key.String()
	})
	if n >= 0 && n < len(all) {
		all = all[:n]
	}
	r.Hottest = all
	return r
}

// Key returns one item's counts.
func (m *Model) Key(k ItemKey) Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.keys[k]; ok {
		return *c
	}
	return Counts{}
}

// Reset forgets everything: counters, occupancy and partition capacity, as
// if just wrapped. Call it between scenarios, with no request in flight.
func (m *Model) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reset()
}

// counts is k's counters; m.mu is held.
func (m *Model) counts(k ItemKey) *Counts {
	c, ok := m.keys[k]
	if !ok {
		c = &Counts{}
		m.keys[k] = c
	}
	return c
}
