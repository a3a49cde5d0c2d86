package settlement

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
	"minipay/shared/kernel/money"
)

// CreateRequest is POST /settlements.
type CreateRequest struct {
	// Total is the bill, in won.
	Total httpapi.Won `json:"total" openapi:"required"`
	// Participants are user ids, each once, at most 100; the requester may
	// be one of them (their share is settled at once).
	Participants []string `json:"participants"`
	// Split is equal (the default), random or explicit.
	Split string `json:"split,omitempty"`
	// Amounts, for split explicit: each participant's share, in the order
	// of participants, summing to total.
	Amounts []httpapi.AmountField `json:"amounts,omitempty"`
	// MinimumShare, for split random: every share is at least this (default 1 won).
	MinimumShare httpapi.AmountField `json:"minimumShare,omitempty"`
	Memo         httpapi.Memo        `json:"memo,omitempty"`
	// DueAt (RFC 3339, optional, within 90 days): the automatic reminder
	// goes 24 h before it.
	DueAt string `json:"dueAt,omitempty"`
}

// firstTxItems is what the creating transaction holds besides the
// participants' items: the settlement, the plan, the requester's pointer,
// the requester's own share (if any) and the idempotency record.
const firstTxItems = 5

// perParticipant is each participant's items when created: the user
// check, the share, the pointer and the notification.
const perParticipant = 4

// Create is POST /settlements: the shares are computed once, here, and
// stored. Up to about 23 participants, ONE transaction writes everything
// (each participant's existence is checked in it); for more, the first
// transaction writes the settlement and as many participants as fit, the
// others' existence having been read first (users are never deleted), and
// the rest are published right after in chunks (recorded on the
// settlement, so the sweep finishes them after a crash).
func Create(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "create-settlement", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		var publishLater string
		resp, err := httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
			c, err := decide(ctx, d, r)
			if err != nil {
				return nil, err
			}
			if c.st.Published < c.st.Publishable {
				publishLater = c.st.ID
			}
			return &httpapi.Movement{Tx: c.tx(), Status: http.StatusCreated, Body: c.view()}, nil
		})(ctx, r)
		if err == nil && publishLater != "" && resp.Status == http.StatusCreated && !resp.Replayed {
			if _, werr := work(ctx, d, publishLater); werr != nil {
				d.Log.WarnContext(ctx, "settlement: publishing left to the sweep", "settlement", publishLater, "error", werr.Error())
			}
		}
		return resp, err
	})
}

// creation is a decided settlement: its state, its plan and which
// participants the first transaction writes.
type creation struct {
	st    state
	plan  plan
	first int // participants (other than the requester) in the first transaction
	now   time.Time
}

func decide(ctx context.Context, d httpapi.Deps, r *httpapi.Request) (*creation, error) {
	var in CreateRequest
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	total := in.Total.Int64()
	n := len(in.Participants)
	switch {
	case n == 0:
		return nil, domainerr.Field("participants", "participants (user ids) are required")
	case n > MaxParticipants:
		return nil, refuse(ErrTooMany, map[string]any{"max": MaxParticipants, "participants": n},
			"%d participants; a settlement has at most %d", n, MaxParticipants)
	}
	seen := map[string]bool{}
	others := 0
	for i, uid := range in.Participants {
		if !users.ValidUserID(uid) {
			return nil, domainerr.Field(fmt.Sprintf("participants[%d]", i), "participants[%d] must be a user id, such as u_0123456789abcdef", i)
		}
		if seen[uid] {
			return nil, refuse(ErrDuplicate, map[string]any{"userId": uid}, "%s is listed twice; each participant has one share", uid)
		}
		seen[uid] = true
		if uid != r.Caller {
			others++
		}
	}
	if others == 0 {
		return nil, domainerr.Field("participants", "participants must include someone other than you")
	}
	split := in.Split
	if split == "" {
		split = SplitEqual
	}
	if split != SplitExplicit && in.Amounts != nil {
		return nil, domainerr.Field("amounts", "amounts are for split %q", SplitExplicit)
	}
	if split != SplitRandom && in.MinimumShare != "" {
		return nil, domainerr.Field("minimumShare", "minimumShare is for split %q", SplitRandom)
	}
	var (
		amounts []int64
		err     error
	)
	tooSmall := func(minimum int64) error {
		return refuse(ErrTotalTooSmall, map[string]any{"total": total, "participants": n, "minimumShare": minimum},
			"%d won cannot give %d participants at least %d won each", total, n, minimum)
	}
	switch split {
	case SplitEqual:
		if amounts, err = money.EqualShares(total, n, money.CryptoRNG); err != nil {
			return nil, tooSmall(1)
		}
	case SplitRandom:
		minimum := int64(1)
		if in.MinimumShare != "" {
			if minimum, err = httpapi.Amount("minimumShare", in.MinimumShare); err != nil {
				return nil, err
			}
		}
		if amounts, err = money.RandomShares(total, n, minimum, money.CryptoRNG); err != nil {
			return nil, tooSmall(minimum)
		}
	case SplitExplicit:
		if len(in.Amounts) != n {
			return nil, domainerr.Field("amounts", "amounts must give one amount per participant (%d), in their order", n)
		}
		var sum int64
		for i, a := range in.Amounts {
			v, err := httpapi.Amount(fmt.Sprintf("amounts[%d]", i), a)
			if err != nil {
				return nil, err
			}
			amounts = append(amounts, v)
			sum += v // at most 100 x 10^12: no overflow
		}
		if sum != total {
			return nil, refuse(ErrAmountsMismatch, map[string]any{"total": total, "sum": sum},
				"the amounts sum to %d won, not the total %d", sum, total)
		}
	default:
		return nil, domainerr.Field("split", "split must be %q, %q or %q", SplitEqual, SplitRandom, SplitExplicit)
	}
	memo := string(in.Memo)
	now := d.Clock.Now().UTC()
	var dueAt time.Time
	if in.DueAt != "" {
		t, err := time.Parse(time.RFC3339, in.DueAt)
		if err != nil {
			return nil, domainerr.Field("dueAt", "dueAt must be an RFC 3339 time, such as 2026-12-01T18:00:00+09:00")
		}
		if dueAt = t.UTC().Truncate(time.Millisecond); !dueAt.After(now) || dueAt.After(now.Add(MaxDueAhead)) {
			return nil, domainerr.Field("dueAt", "dueAt must be in the future, at most %d days ahead", int(MaxDueAhead/(24*time.Hour)))
		}
	}
	name, err := users.CallerName(ctx, d, r)
	if err != nil {
		return nil, err
	}

	c := &creation{now: now, plan: plan{Users: in.Participants, Amounts: amounts}}
	st := &c.st
	st.facts = facts{ID: NewID(now), Requester: r.Caller, RequesterName: name, Split: split, Memo: memo, Total: total,
		ParticipantCount: int64(n), CreatedAt: now, DueAt: dueAt}
	st.Status, st.Rev = StatusOpen, 1
	for i, uid := range in.Participants {
		if uid == r.Caller {
			st.SelfAmount = amounts[i]
		}
	}
	st.Publishable = int64(others)
	st.Open = int64(others)
	if st.SelfAmount > 0 {
		st.Paid = 1 // the requester's own share, settled now: counted with the paid ones
	}
	if !dueAt.IsZero() {
		at := dueAt.Add(-AutoRemindLead)
		if earliest := now.Add(RemindEvery); at.Before(earliest) {
			at = earliest
		}
		if at.Before(dueAt) {
			st.AutoRemindAt = at
		}
	}
	fixed := firstTxItems
	if st.SelfAmount == 0 {
		fixed--
	}
	c.first = min(others, (ledger.MaxItems-fixed)/perParticipant)
	st.Published = int64(c.first)
	// Participants the first transaction cannot check are read now: a
	// request to someone unknown is refused before anything is written.
	if err := requireUsers(ctx, d, c.later()); err != nil {
		return nil, err
	}
	return c, nil
}

// others is the plan's entries other than the requester's, in order.
func (p plan) others(requester string) (uids []string, amounts []int64) {
	for i, uid := range p.Users {
		if uid != requester {
			uids, amounts = append(uids, uid), append(amounts, p.Amounts[i])
		}
	}
	return uids, amounts
}

// later is the participants published after the first transaction.
func (c *creation) later() []string {
	uids, _ := c.plan.others(c.st.Requester)
	return uids[c.first:]
}

// requireUsers reads that every user exists (at most 8 reads at a time).
func requireUsers(ctx context.Context, d httpapi.Deps, uids []string) error {
	if len(uids) == 0 {
		return nil
	}
	errs := make([]error, len(uids))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, uid := range uids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			item, err := d.Table.Get(ctx, users.ProfileKey(uid))
			switch {
			case err != nil:
				errs[i] = err
			case item == nil:
				errs[i] = unknownParticipant(uid)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs { // the first in request order
		if err != nil {
			return err
		}
	}
	return nil
}

func unknownParticipant(uid string) error {
	return refuse(ErrUnknownParticipant, map[string]any{"userId": uid}, "no user %s", uid)
}

// tx is the creating transaction: the settlement (due while publishing
// remains, else at its automatic reminder), the plan, the requester's
// pointer, the requester's own share, and the first participants (each:
// a check that the user exists, the share, the pointer, the notification).
func (c *creation) tx() *ledger.Tx {
	st := c.st
	tx := &ledger.Tx{}
	collision := func(ddb.Item) error { return fmt.Errorf("settlement: id collision for %s", st.ID) }
	meta := st.put(metaKey(st.ID))
	meta["status"] = ddb.S(st.Status)
	for name, v := range map[string]int64{"publishable": st.Publishable, "publishedCount": st.Published, "openCount": st.Open,
		"paidCount": st.Paid, "declinedCount": 0, "collected": 0, "selfAmount": st.SelfAmount, "remindSeq": 0, "remindSentSeq": 0, "workRev": st.Rev} {
		meta[name] = ddb.N(v)
	}
	if !st.AutoRemindAt.IsZero() {
		meta["autoRemindAtMs"] = ddb.Millis(st.AutoRemindAt)
	}
	if at, ok := st.nextDue(c.now); ok {
		dueKind.Set(meta, at, st.ID)
	}
	tx.Put(meta, ledger.Cond{Expr: "attribute_not_exists(PK)"}, collision)
	pl := planKey(st.ID)
	pl["users"] = strs(c.plan.Users)
	pl["amounts"] = ddb.Ints(c.plan.Amounts)
	tx.Put(pl, ledger.Cond{}, nil)
	tx.Put(outPointer(st.facts, StatusOpen, c.now), ledger.Cond{}, nil)
	if st.SelfAmount > 0 {
		tx.Put(share{facts: st.facts, UserID: st.Requester, Amount: st.SelfAmount, Status: SharePaid, Self: true, PaidAt: c.now}.item(),
			ledger.Cond{}, nil)
	}
	uids, amounts := c.plan.others(st.Requester)
	for i := 0; i < c.first; i++ {
		uid := uids[i]
		tx.Check(users.ProfileKey(uid), ledger.Cond{Expr: "attribute_exists(PK)"}, func(ddb.Item) error { return unknownParticipant(uid) })
		publishShare(tx, st, uid, amounts[i], c.now)
	}
	return tx
}

// publishShare adds a participant's open share, their pointer and their
// notification.
func publishShare(tx *ledger.Tx, st state, uid string, amount int64, now time.Time) {
	s := share{facts: st.facts, UserID: uid, Amount: amount, Status: StatusOpen, RemindSeq: st.RemindSeq}
	tx.Put(s.item(), ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(ddb.Item) error { return errRaced })
	tx.Put(inPointer(st.facts, uid, amount, StatusOpen, now), ledger.Cond{}, nil)
	st.notify(tx, uid, NotifRequested, now, map[string]any{"amount": amount})
}

// view is the created settlement as its requester sees it.
func (c *creation) view() Settlement {
	l := &loaded{st: c.st, plan: c.plan, shares: map[string]share{}}
	if c.st.SelfAmount > 0 {
		l.shares[c.st.Requester] = share{UserID: c.st.Requester, Amount: c.st.SelfAmount, Status: SharePaid, Self: true, PaidAt: c.now}
	}
	v, _ := l.view(c.st.Requester)
	return v
}

// errRaced: another writer changed what a work transaction was built on;
// read again.
var errRaced = errors.New("settlement: changed meanwhile")
