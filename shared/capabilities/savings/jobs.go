package savings

// The daily jobs. Each is divided the same way: the scheduled function
// (04:00 savings-interest, 08:00 savings-installments) sends one message
// per due-index shard to the savings-work queue; the worker reads its
// shard's due items (ForEachDue, oldest first) within a time budget and,
// if the shard is not done, sends a continuation message at once: the
// shard's cursor (After) when the budget ran out, and the same when a read
// or an item failed (throttled), so the work goes on without waiting for
// the queue's visibility timeout; items left due behind the cursor are
// taken again from the start once the shard's end is reached (Again), and
// a shard-day whose passes keep failing (maxRetries) fails its message,
// which the queue then redelivers and finally dead-letters. Every item's work is
// a transaction conditioned on the state it changes, so a message
// delivered twice, two runs at once or a run after a missed one pay and
// debit each account-day exactly once.
//
// Scale: a million accounts are ~15,600 per shard. A worker does about one
// TransactWriteItems per account (plus a Query per 100 due items), so at
// 20-40 ms a transaction a shard takes 5-10 minutes of 40-second passes,
// and the 64 shards run side by side (the mapping's MaxConcurrency): the
// job is done well within the hour and no invocation runs past a minute.
// Each shard pays interest from its own expense account, so concurrent
// workers never write the same item.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/capabilities/notify"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// QueueName is the work queue of both jobs (routes.Queues).
const QueueName = "savings-work"

// Job names in messages.
const (
	JobInterest    = "interest"
	JobInstallment = "installment"
)

// WorkerBudget bounds one worker pass (the worker's timeout is
// routes.TimeoutOf("savings-worker"), a minute); the pass re-enqueues
// itself when the budget ends first.
var WorkerBudget = 40 * time.Second

// Message is one shard of one day's job.
type Message struct {
	Job   string `json:"job"`   // interest | installment
	Shard int    `json:"shard"` // 0..Shards-1
	Date  string `json:"date"`  // the run's Asia/Seoul date: interest through the day before; installments through this day
	// After is the shard's due cursor: a continuation resumes after the
	// last item the previous pass took (ddb.DueRun.Cursor).
	After string `json:"after,omitempty"`
	// Again: an item before After is still due (it failed, or took its
	// steps and has more): the shard starts over once After reaches its end.
	Again bool `json:"again,omitempty"`
	// Retries counts this shard-day's passes that failed (a throttled read,
	// failed items); past maxRetries the message itself fails.
	Retries int `json:"retries,omitempty"`
}

// maxRetries bounds the continuations a shard-day sends for failures.
const maxRetries = 8

func (m Message) check() error {
	if m.Job != JobInterest && m.Job != JobInstallment {
		return fmt.Errorf("savings: message job %q", m.Job)
	}
	if m.Shard < 0 || m.Shard >= Shards {
		return fmt.Errorf("savings: message shard %d", m.Shard)
	}
	_, err := parseDate(m.Date)
	return err
}

// FanOut is what a scheduled job did.
type FanOut struct {
	Job    string `json:"job"`
	Date   string `json:"date"`
	Sent   int    `json:"sent"`             // messages sent to the queue
	Inline *Work  `json:"inline,omitempty"` // no queue wired: the work done in this invocation
}

// InterestJob is the savings-interest scheduled job (04:00).
func InterestJob(d httpapi.Services) func(context.Context, routes.ScheduledEvent) (FanOut, error) {
	return fanOut(d, JobInterest)
}

// InstallmentJob is the savings-installments scheduled job (08:00).
func InstallmentJob(d httpapi.Services) func(context.Context, routes.ScheduledEvent) (FanOut, error) {
	return fanOut(d, JobInstallment)
}

// runDate is the job's business date: the scheduled time's, never later
// than the clock's (a late or replayed event does no future day's work).
func runDate(ev routes.ScheduledEvent, now time.Time) string {
	t := now
	if s, err := time.Parse(time.RFC3339, ev.ScheduledTime); err == nil && s.Before(now) {
		t = s
	}
	return clock.KSTDate(t)
}

func fanOut(d httpapi.Services, job string) func(context.Context, routes.ScheduledEvent) (FanOut, error) {
	return func(ctx context.Context, ev routes.ScheduledEvent) (FanOut, error) {
		out := FanOut{Job: job, Date: runDate(ev, d.Clock.Now())}
		if d.Queue == nil {
			w := &Work{}
			for shard := 0; shard < Shards; shard++ {
				for m := (&Message{Job: job, Shard: shard, Date: out.Date}); m != nil; {
					next, err := pass(ctx, d, *m, w)
					if err != nil && (next == nil || next.Retries > maxRetries) {
						return out, err
					}
					m = next
				}
			}
			out.Inline = w
			return out, nil
		}
		var errs []error
		for shard := 0; shard < Shards; shard++ {
			body, _ := json.Marshal(Message{Job: job, Shard: shard, Date: out.Date})
			if err := d.Queue.Send(ctx, QueueName, string(body)); err != nil {
				errs = append(errs, fmt.Errorf("shard %d: %w", shard, err))
				continue
			}
			out.Sent++
		}
		d.Log.InfoContext(ctx, "savings fan-out", "job", job, "date", out.Date, "sent", out.Sent, "scheduledTime", ev.ScheduledTime)
		return out, errors.Join(errs...)
	}
}

// Work is what worker passes did.
type Work struct {
	Seen        int   `json:"seen"`
	Paid        int   `json:"interestPaid"`      // interest transactions
	PaidWon     int64 `json:"interestWon"`       // won of interest paid
	Days        int   `json:"daysAccrued"`       // account-days accrued
	Matured     int   `json:"matured"`           // accounts matured
	Debited     int   `json:"installments"`      // installments debited
	Missed      int   `json:"missed"`            // installments recorded missed
	Requeued    int   `json:"requeued"`          // continuations sent (budget spent, or a pass failed)
	Retried     int   `json:"retried,omitempty"` // of which for a failed pass (throttled), sent at once
	Skipped     int   `json:"skipped"`           // items another run had done
	FailedItems int   `json:"failed,omitempty"`  // items left due for the next pass
}

// Worker is the savings-worker function: one message (one shard of one
// job) per record. An error makes the queue deliver the message again
// (its items stay due); after routes.Queues' MaxReceives it goes to the
// dead-letter queue.
func Worker(d httpapi.Services) func(context.Context, events.SQSEvent) (Work, error) {
	return func(ctx context.Context, ev events.SQSEvent) (Work, error) {
		w := Work{}
		var errs []error
		for _, rec := range ev.Records {
			var m Message
			if err := json.Unmarshal([]byte(rec.Body), &m); err != nil {
				errs = append(errs, fmt.Errorf("message %s: %w", rec.MessageId, err))
				continue
			}
			if err := m.check(); err != nil {
				errs = append(errs, fmt.Errorf("message %s: %w", rec.MessageId, err))
				continue
			}
			if today := clock.KSTDate(d.Clock.Now()); m.Date > today {
				m.Date = today
			}
			next, err := pass(ctx, d, m, &w)
			switch {
			case next == nil && err == nil: // the shard is done for the day
				continue
			case next == nil || next.Retries > maxRetries || d.Queue == nil:
				// The message fails: the queue delivers it again after its
				// visibility timeout (its items stay due).
				if err == nil {
					err = errors.New("not done and no queue to continue on")
				}
				errs = append(errs, fmt.Errorf("%s shard %d: %w", m.Job, m.Shard, err))
				continue
			}
			body, _ := json.Marshal(next)
			if serr := d.Queue.Send(ctx, QueueName, string(body)); serr != nil {
				errs = append(errs, fmt.Errorf("%s shard %d: continue: %w", m.Job, m.Shard, errors.Join(err, serr)))
				continue
			}
			w.Requeued++
			if err != nil {
				w.Retried++
				d.Log.WarnContext(ctx, "savings worker: pass failed, continued at once", "job", m.Job, "shard", m.Shard,
					"retries", next.Retries, "error", err.Error())
			}
		}
		d.Log.InfoContext(ctx, "savings worker", "records", len(ev.Records), "seen", w.Seen, "paid", w.Paid, "won", w.PaidWon,
			"matured", w.Matured, "debited", w.Debited, "missed", w.Missed, "requeued", w.Requeued, "retried", w.Retried, "failed", w.FailedItems)
		return w, errors.Join(errs...)
	}
}

// pass runs one budgeted pass over the message's shard from its cursor.
// next is the continuation (nil: the shard has nothing more due for this
// date). Items that failed stay due; a pass with a failed read or items
// reports the error and, in next, counts a retry.
func pass(ctx context.Context, d httpapi.Services, m Message, w *Work) (next *Message, err error) {
	kind, until := dueKind(dueInterest, m.Shard), at(m.Date, InterestHour, 0)
	more := false // an item took its steps and is still due: pass again
	handle := func(ctx context.Context, item ddb.Item) error {
		err := interestItem(ctx, d, item, m.Date, w)
		if err == errMore {
			more = true
			return nil
		}
		return err
	}
	if m.Job == JobInstallment {
		kind, until = dueKind(dueInstallment, m.Shard), at(m.Date, InstallmentHour, 0)
		handle = func(ctx context.Context, item ddb.Item) error { return installmentItem(ctx, d, item, m.Date, w) }
	}
	run, err := d.Table.ForEachDue(ctx, ddb.DueWork{Kind: kind, Until: until, Budget: WorkerBudget, Fetch: true, After: m.After}, handle)
	w.Seen += run.Seen
	w.FailedItems += run.Failed
	c := m
	if run.Cursor != "" {
		c.After = run.Cursor
	}
	c.Again = c.Again || more || run.Failed > 0
	if err == nil {
		err = run.Err()
	}
	if err != nil {
		c.Retries++
		return &c, err
	}
	switch {
	case !run.Done:
		return &c, nil
	case c.Again: // the end of the shard, with items left behind: start over
		return &Message{Job: m.Job, Shard: m.Shard, Date: m.Date, Retries: c.Retries}, nil
	}
	return nil, nil
}

// maxSteps bounds the transactions one item may take in one pass (a
// catch-up of many days goes on in the next pass).
const maxSteps = 64

// errMore: the item's steps ran out before it caught up.
var errMore = errors.New("savings: more to do")

// interestItem brings one account's interest up to the day before date,
// and matures it if date is its maturity date (or later).
func interestItem(ctx context.Context, d httpapi.Services, item ddb.Item, date string, w *Work) error {
	a, err := fromItem(item)
	if err != nil {
		return err
	}
	fresh := false // read from the (eventually consistent) index so far
	for step := 0; step < maxSteps; step++ {
		err := interestStep(ctx, d, &a, date, w)
		switch {
		case err == errDone:
			return nil
		case err == errStale:
			if fresh && step > 8 {
				return fmt.Errorf("savings: account %s keeps changing under its interest", a.ID)
			}
			got, err := reread(ctx, d.Table, a.Owner, a.ID)
			if err != nil {
				return err
			}
			if got == nil {
				return nil
			}
			a, fresh = *got, true
		case err != nil:
			return fmt.Errorf("account %s: %w", a.ID, err)
		}
	}
	return errMore
}

var errDone = errors.New("savings: done")

// reread reads the product item again, strongly consistent. It is a Query
// of the one key rather than a GetItem so the worker needs no more than
// the due index's Query (least privilege).
func reread(ctx context.Context, table *ddb.Table, owner, id string) (*Account, error) {
	q := table.Query(&dynamodb.QueryInput{
		KeyConditionExpression: aws.String("PK = :pk AND SK = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": ddb.S(ledger.UserPK(owner)), ":sk": ddb.S(skProduct + id),
		},
		ConsistentRead: aws.Bool(true),
	})
	q.Next(ctx) // one key: at most one item
	return accountOf(q.Item(), q.Err())
}

// interestStep commits one transaction of a's interest (or its maturity)
// and updates a to what it wrote; errDone when nothing is left for date.
func interestStep(ctx context.Context, d httpapi.Services, a *Account, date string, w *Work) error {
	if a.Status != StatusOpen {
		w.Skipped++
		return errDone
	}
	last := min(addDays(date, -1), addDays(a.MaturityDate, -1))
	now := d.Clock.Now()
	if a.AccruedThrough >= last {
		if date < a.MaturityDate || a.AccruedThrough < addDays(a.MaturityDate, -1) {
			w.Skipped++ // the index was behind: another run did this
			return errDone
		}
		tx := &ledger.Tx{}
		_, amount := payOut(tx, *a, StatusMatured, now)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return err
		}
		a.Status, a.ClosedAt, a.Payout = StatusMatured, now, amount
		w.Matured++
		return errDone
	}
	acc, err := accrue(a.log, a.RateBP, a.Carry, a.AccruedThrough, last, movementsPerTx)
	if err != nil {
		return err
	}
	tx := &ledger.Tx{}
	names := map[string]string{"#st": attrStatus, "#d": ddb.AttrDueSK}
	vals := ddb.Item{":through": ddb.S(acc.through), ":carry": ddb.N(acc.carry), ":base": ddb.N(acc.base), ":paid": ddb.N(acc.paid),
		":due": ddb.S(ddb.DueAt(a.nextInterestDue(acc.through), a.ID)), ":one": ddb.N(1),
		":open": ddb.S(StatusOpen), ":v": ddb.N(a.Version), ":prev": ddb.S(a.AccruedThrough)}
	upd := "SET accruedThrough = :through, carry = :carry, basePrincipal = :base, interestPaid = interestPaid + :paid, #d = :due ADD version :one"
	for i, day := range acc.consume {
		n := fmt.Sprintf("#c%d", i)
		names[n] = day
		if i == 0 {
			upd += " REMOVE closes." + n
		} else {
			upd += ", closes." + n
		}
	}
	tx.Update(productKey(a.Owner, a.ID), upd, ledger.Cond{Expr: "#st = :open AND version = :v AND accruedThrough = :prev", Names: names, Values: vals},
		func(ddb.Item) error { return errStale })
	for _, day := range acc.days {
		if day.Pay == 0 {
			continue
		}
		tx.Move(ledger.Movement{ID: ledger.NewMovementID(now), Type: TypeInterest, Amount: day.Pay, At: now,
			Memo:      fmt.Sprintf("interest for %s on %d won at %d bp", day.Date, day.Principal, a.RateBP),
			Reference: "savings " + a.ID + " interest " + day.Date,
			From:      InterestAccount(a.Shard), FromLabel: "interest",
			To: a.ref(), ToKind: KindSavings, ToLabel: "savings account " + a.ID, CreditInPlace: true})
	}
	if err := d.Ledger.Commit(ctx, tx); err != nil {
		return err
	}
	a.AccruedThrough, a.Carry, a.InterestPaid, a.Version = acc.through, acc.carry, a.InterestPaid+acc.paid, a.Version+1
	a.log.base = acc.base
	for _, day := range acc.consume {
		delete(a.log.closes, day)
	}
	w.Days += len(acc.days)
	if acc.paid > 0 {
		w.Paid++
		w.PaidWon += acc.paid
	}
	return nil
}

// debit is an installment item as read.
type debit struct {
	ID, Owner, NextDebit, MaturityDate string
	Installment                        int64
	Shard                              int
}

func debitFromItem(item ddb.Item) (debit, error) {
	d := ddb.Decode(item)
	b := debit{ID: d.MustS("accountId"), Owner: d.MustS("owner"), NextDebit: d.MustS("nextDebit"),
		MaturityDate: d.MustS("maturityDate"), Installment: d.MustN("installment"), Shard: int(d.MustN("shard"))}
	if err := d.Err(); err != nil {
		return debit{}, err
	}
	for _, s := range []string{b.NextDebit, b.MaturityDate} {
		if _, err := parseDate(s); err != nil {
			return debit{}, err
		}
	}
	return b, nil
}

// installmentItem debits every installment of the account due through
// date (a missed run's days included), each once.
func installmentItem(ctx context.Context, d httpapi.Services, item ddb.Item, date string, w *Work) error {
	b, err := debitFromItem(item)
	if err != nil {
		return err
	}
	for day := b.NextDebit; day <= date && day < b.MaturityDate; day = addDays(day, 1) {
		switch err := installmentDay(ctx, d, b, day, w); err {
		case nil:
		case errNotDue:
			w.Skipped++ // another run debited it (or the account closed)
			return nil
		default:
			return fmt.Errorf("account %s installment %s: %w", b.ID, day, err)
		}
	}
	return nil
}

// installmentDay debits the installment of day: from the main account,
// with an automatic charge of the shortfall in 10,000 won steps within
// today's charge limit, all in one transaction; a charge the limit does
// not allow records the day as missed and tells the user. Either way the
// installment item moves on to the next day in the same transaction, on
// the condition that it still says day.
func installmentDay(ctx context.Context, d httpapi.Services, b debit, day string, w *Work) error {
	now := d.Clock.Now()
	today := clock.KSTDate(now)
	next := addDays(day, 1)
	advance := func(tx *ledger.Tx) {
		key := debitKey(b.Owner, b.ID)
		upd, names := "SET nextDebit = :next, #d = :due", map[string]string{"#d": ddb.AttrDueSK}
		vals := ddb.Item{":next": ddb.S(next), ":day": ddb.S(day), ":due": ddb.S(ddb.DueAt(at(next, InstallmentHour, 0), b.ID))}
		if next >= b.MaturityDate {
			upd, names = "SET nextDebit = :next REMOVE #b, #d", map[string]string{"#b": ddb.AttrDuePK, "#d": ddb.AttrDueSK}
			delete(vals, ":due")
		}
		tx.Update(key, upd, ledger.Cond{Expr: "nextDebit = :day", Names: names, Values: vals}, func(ddb.Item) error { return errNotDue })
	}
	closedOr := func(err error) error {
		if errors.Is(err, ErrClosed) || errors.Is(err, ledger.ErrAccountNotFound) {
			return errNotDue // closed or matured: the installment item is gone with it
		}
		return err
	}
	memo := fmt.Sprintf("installment for %s", day)
	m := ledger.Movement{Type: TypeInstallment, Amount: b.Installment, At: now, Memo: memo,
		Reference: "savings " + b.ID + " installment " + day,
		From:      ledger.MainAccount(b.Owner), FromKind: ledger.KindMain, FromLabel: "main account",
		To: ledger.UserAccount(b.Owner, b.ID), ToKind: KindSavings, ToLabel: "savings account " + b.ID, CreditInPlace: true}
	err := d.Ledger.CommitWithAutoCharge(ctx, b.Installment, func(charge int64) *ledger.Tx {
		tx := &ledger.Tx{}
		advance(tx)
		addPrincipal(tx, b.Owner, b.ID, b.Installment, today, true, ", nextDebit = :next", ddb.Item{":next": ddb.S(next)})
		var c ledger.AutoCharge
		m.ID, c = ledger.PaymentIDs(now, charge)
		tx.DebitWithAutoCharge(m, c, memo)
		return tx
	})
	var limit *ledger.LimitExceededError
	switch {
	case err == nil:
		w.Debited++
		return nil
	case errors.As(err, &limit):
		return missed(ctx, d, b, day, next, now, limit, w, advance)
	}
	return closedOr(err)
}

// missed records day's installment as missed: never debited later.
func missed(ctx context.Context, d httpapi.Services, b debit, day, next string, now time.Time, limit *ledger.LimitExceededError, w *Work, advance func(*ledger.Tx)) error {
	tx := &ledger.Tx{}
	advance(tx)
	tx.Update(productKey(b.Owner, b.ID), "SET nextDebit = :next ADD installmentsMissed :one", ledger.Cond{
		Expr: "#st = :open", Names: map[string]string{"#st": attrStatus},
		Values: ddb.Item{":next": ddb.S(next), ":one": ddb.N(1), ":open": ddb.S(StatusOpen)},
	}, func(ddb.Item) error { return errNotDue })
	notify.Add(tx, notify.Notification{UserID: b.Owner, Type: NotifInstallmentMissed, At: now, Data: map[string]any{
		"accountId": b.ID, "date": day, "amount": b.Installment, "remainingToday": limit.Remaining,
		"reason": "the main account was short and today's charge limit does not allow the automatic charge",
	}})
	if err := d.Ledger.Commit(ctx, tx); err != nil {
		return err
	}
	w.Missed++
	return nil
}
