package settlement

// Recorded work. A settlement item carries what is left to do beyond one
// transaction: shares to publish (publishedCount < publishable), a
// cancellation to fan out (status cancelled, no cancelDone), a reminder to
// fan out (remindSeq > remindSentSeq), the automatic reminder
// (autoRemindAtMs). work does all of it, step by step, each step ONE
// transaction conditioned on what it was built on:
//
//   - a publishing chunk, a reminder's start, a step's end: on workRev,
//     the settlement's revision (every change of recorded work increments
//     it), so a step built on a stale read fails and is rebuilt;
//   - a share's cancellation or reminder: on the share (open; reminded
//     below this reminder's number), so doing it twice does nothing.
//
// The handler that records work calls work at once; the settlement is on
// the due index meanwhile (due a grace period later, then at the automatic
// reminder), so the settlement-sweep job finishes whatever a crash, a
// timeout or a lost race left. Running work twice, or concurrently, is
// harmless.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// publishChunk is how many shares one publishing transaction writes
// (share, pointer, notification each, and the settlement item).
const publishChunk = (ledger.MaxItems - 1) / 3

// maxWorkSteps bounds one call of work (4 publishing chunks, a fan-out,
// its end and a few lost races).
const maxWorkSteps = 12

// fanOutWorkers is how many share transactions a fan-out runs at once.
const fanOutWorkers = 4

// workDone counts what one call of work did.
type workDone struct{ Published, Cancelled, Reminded int }

// errSkip: a share's fan-out transaction found it done already (or no
// longer open).
var errSkip = errors.New("settlement: share already handled")

// work does a settlement's recorded work; see the top of this file.
func work(ctx context.Context, d httpapi.Services, sid string) (workDone, error) {
	var done workDone
	for step := 0; step < maxWorkSteps; step++ {
		l, err := load(ctx, d, sid)
		if err != nil || l == nil {
			return done, err
		}
		now := d.Clock.Now().UTC()
		st := l.st
		switch {
		case st.Status == StatusOpen && st.Published < st.Publishable:
			var n int
			n, err = publish(ctx, d, l, now)
			done.Published += n
		case st.Status == StatusCancelled && !st.CancelDone:
			var n int
			n, err = fanOutThen(ctx, d, l, now, func(tx *ledger.Tx, sh share) { cancelShare(tx, sh, now) },
				func(after *state, u *update) {
					after.CancelDone = true
					u.set = append(u.set, "cancelDone = :true")
					u.vals[":true"] = ddb.Bool(true)
				})
			done.Cancelled += n
		case st.Status == StatusOpen && st.RemindSeq > st.RemindSentSeq:
			var n int
			seq, reason := st.RemindSeq, st.RemindReason
			n, err = fanOutThen(ctx, d, l, now, func(tx *ledger.Tx, sh share) {
				if sh.RemindSeq < seq {
					remindShare(tx, sh, seq, reason, now)
				}
			}, func(after *state, u *update) {
				after.RemindSentSeq = seq
				u.set = append(u.set, "remindSentSeq = :seq")
				u.vals[":seq"] = ddb.N(seq)
			})
			done.Reminded += n
		case st.Status == StatusOpen && !st.AutoRemindAt.IsZero() && !now.Before(st.AutoRemindAt):
			err = autoRemind(ctx, d, st, now)
		default:
			return done, fixDue(ctx, d, st, now)
		}
		if err != nil && !errors.Is(err, errRaced) {
			return done, fmt.Errorf("settlement %s: %w", sid, err)
		}
	}
	return done, fmt.Errorf("settlement %s: its work kept changing", sid)
}

// publish writes the next chunk of shares (each with its pointer and its
// participant's notification) and counts them on the settlement.
func publish(ctx context.Context, d httpapi.Services, l *loaded, now time.Time) (int, error) {
	st := l.st
	uids, amounts := l.plan.others(st.Requester)
	if int64(len(uids)) != st.Publishable {
		return 0, fmt.Errorf("the plan has %d participants, the settlement %d", len(uids), st.Publishable)
	}
	from := int(st.Published)
	k := min(publishChunk, len(uids)-from)
	after := st
	after.Published += int64(k)
	u := newUpdate()
	u.names["#s"] = "status"
	u.add = append(u.add, "publishedCount :k", "workRev :one")
	u.due(after, now)
	u.vals[":k"], u.vals[":one"], u.vals[":open"], u.vals[":rev"], u.vals[":p"] = ddb.N(int64(k)), ddb.N(1), ddb.S(StatusOpen), ddb.N(st.Rev), ddb.N(st.Published)
	tx := &ledger.Tx{}
	tx.Update(metaKey(st.ID), u.expr(), ledger.Cond{Expr: "#s = :open AND workRev = :rev AND publishedCount = :p", Values: u.vals, Names: u.names},
		func(ddb.Item) error { return errRaced })
	for i := from; i < from+k; i++ {
		publishShare(tx, st, uids[i], amounts[i], now)
	}
	if err := d.Ledger.Commit(ctx, tx); err != nil {
		return 0, err
	}
	return k, nil
}

// fanOutThen is fanOut, then, when every share is done, finish with mark:
// the settlement records that the fan-out is complete. A run stopped
// between the two fans out again; each share's own condition makes that
// harmless.
func fanOutThen(ctx context.Context, d httpapi.Services, l *loaded, now time.Time, build func(*ledger.Tx, share), mark func(*state, *update)) (int, error) {
	n, err := fanOut(ctx, d, l, build)
	if err == nil {
		err = finish(ctx, d, l.st, now, mark)
	}
	return n, err
}

// fanOut runs build's transaction for every open share (build may add
// nothing: skipped), a few at once; it counts the commits.
func fanOut(ctx context.Context, d httpapi.Services, l *loaded, build func(*ledger.Tx, share)) (int, error) {
	var open []share
	for _, sh := range l.shares {
		if sh.Status == StatusOpen {
			open = append(open, sh)
		}
	}
	var (
		mu    sync.Mutex
		n     int
		first error
		wg    sync.WaitGroup
		next  = make(chan share)
	)
	for w := 0; w < min(fanOutWorkers, len(open)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sh := range next {
				tx := &ledger.Tx{}
				build(tx, sh)
				if tx.Len() == 0 {
					continue
				}
				err := d.Ledger.Commit(ctx, tx)
				mu.Lock()
				switch {
				case err == nil:
					n++
				case errors.Is(err, errSkip):
				case first == nil:
					first = fmt.Errorf("share %s: %w", sh.UserID, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, sh := range open {
		next <- sh
	}
	close(next)
	wg.Wait()
	return n, first
}

// cancelShare adds an open share's cancellation: the share, its pointer,
// its participant's notification.
func cancelShare(tx *ledger.Tx, sh share, now time.Time) {
	tx.Update(shareKey(sh.ID, sh.UserID), "SET #s = :cancelled, cancelledAt = :at", ledger.Cond{Expr: "#s = :open",
		Values: ddb.Item{":cancelled": ddb.S(StatusCancelled), ":at": ddb.Time(now), ":open": ddb.S(StatusOpen)},
		Names:  map[string]string{"#s": "status"}}, func(ddb.Item) error { return errSkip })
	moveIn(tx, sh.facts, sh.UserID, sh.Amount, StatusCancelled, now)
	sh.notify(tx, sh.UserID, NotifCancelled, now, map[string]any{"amount": sh.Amount})
}

// remindShare adds reminder seq of an open share: the share's mark and its
// participant's notification.
func remindShare(tx *ledger.Tx, sh share, seq int64, reason string, now time.Time) {
	tx.Update(shareKey(sh.ID, sh.UserID), "SET remindSeq = :seq", ledger.Cond{Expr: "#s = :open AND remindSeq < :seq",
		Values: ddb.Item{":seq": ddb.N(seq), ":open": ddb.S(StatusOpen)}, Names: map[string]string{"#s": "status"}},
		func(ddb.Item) error { return errSkip })
	sh.notify(tx, sh.UserID, NotifReminder, now, map[string]any{"amount": sh.Amount, "reason": reason})
}

// finish ends a fan-out: mutate marks it done; the due entry follows.
func finish(ctx context.Context, d httpapi.Services, st state, now time.Time, mutate func(*state, *update)) error {
	after := st
	u := newUpdate()
	mutate(&after, u)
	u.add = append(u.add, "workRev :one")
	u.due(after, now)
	u.vals[":one"], u.vals[":rev"] = ddb.N(1), ddb.N(st.Rev)
	tx := &ledger.Tx{}
	tx.Update(metaKey(st.ID), u.expr(), ledger.Cond{Expr: "workRev = :rev", Values: u.vals, Names: u.names},
		func(ddb.Item) error { return errRaced })
	return d.Ledger.Commit(ctx, tx)
}

// autoRemind starts the automatic reminder, unless a reminder went within
// the hour (which covers it).
func autoRemind(ctx context.Context, d httpapi.Services, st state, now time.Time) error {
	covered := !st.RemindedAt.IsZero() && now.Sub(st.RemindedAt) < RemindEvery
	return finish(ctx, d, st, now, func(after *state, u *update) {
		after.AutoRemindAt = time.Time{}
		u.remove = append(u.remove, "autoRemindAtMs")
		if covered {
			return
		}
		after.RemindSeq, after.RemindedAt, after.RemindReason = st.RemindSeq+1, now, ReasonDue
		u.add = append(u.add, "remindSeq :one")
		u.set = append(u.set, "remindedAtMs = :now", "remindReason = :why")
		u.vals[":now"], u.vals[":why"] = ddb.Millis(now), ddb.S(ReasonDue)
	})
}

// fixDue points the due entry where st needs it (it was due, but nothing
// is left to do now).
func fixDue(ctx context.Context, d httpapi.Services, st state, now time.Time) error {
	want := ""
	if at, ok := st.nextDue(now); ok {
		want = ddb.DueAt(at, st.ID)
	}
	if want == st.dueAt {
		return nil
	}
	err := finish(ctx, d, st, now, func(*state, *update) {})
	if errors.Is(err, errRaced) {
		return nil // changed meanwhile: whoever changed it set the due entry
	}
	return err
}

// SweepSummary is what one sweep run did.
type SweepSummary struct {
	httpapi.DueTally
	Published int `json:"published"`
	Cancelled int `json:"cancelled"`
	Reminded  int `json:"reminded"`
}

// SweepJob is the settlement-sweep scheduled job: for every settlement due
// at or before now (missed runs catch up) it does the recorded work (see
// work) and sends the automatic reminder when it is due. Idempotent.
func SweepJob(d httpapi.Services) httpapi.DueJob[SweepSummary] {
	return httpapi.DueJob[SweepSummary]{
		Services: d,
		Name:     "settlement sweep",
		// ForEachDue hands the items over one at a time: sum needs no lock.
		Passes: []httpapi.DuePass[SweepSummary]{{Kinds: dueKind.Kinds(),
			Each: func(ctx context.Context, item ddb.Item, _ time.Time, sum *SweepSummary) error {
				dec := ddb.Decode(item)
				sid := dec.MustS("settlementId")
				if err := dec.Err(); err != nil {
					return err
				}
				done, err := work(ctx, d, sid)
				sum.Published += done.Published
				sum.Cancelled += done.Cancelled
				sum.Reminded += done.Reminded
				return err
			}}},
		Counts: func(sum *SweepSummary) []any {
			return []any{"published", sum.Published, "cancelled", sum.Cancelled, "reminded", sum.Reminded}
		},
	}
}
