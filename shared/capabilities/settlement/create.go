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
func Create(d httpapi.Services) httpapi.LambdaHandler {
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

// decide reads the request and decides the settlement, in the order the
// request is refused: participants, split and shares, due time, the
// caller's name, then the participants the first transaction cannot check.
func decide(ctx context.Context, d httpapi.Services, r *httpapi.Request) (*creation, error) {
	var in CreateRequest
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	others, err := checkParticipants(in.Participants, r.Caller)
	if err != nil {
		return nil, err
	}
	split, amounts, err := shares(in)
	if err != nil {
		return nil, err
	}
	now := d.Clock.Now().UTC()
	dueAt, err := parseDueAt(in.DueAt, now)
	if err != nil {
		return nil, err
	}
	name, err := users.CallerName(ctx, d, r)
	if err != nil {
		return nil, err
	}
	c := newCreation(in, r.Caller, name, split, amounts, others, dueAt, now)
	// Participants the first transaction cannot check are read now: a
	// request to someone unknown is refused before anything is written.
	if err := requireUsers(ctx, d, c.later()); err != nil {
		return nil, err
	}
	return c, nil
}

// checkParticipants refuses an empty, too long or malformed list, a user
// listed twice, and a list with no one but the caller; it returns how many
// participants are not the caller.
func checkParticipants(participants []string, caller string) (others int, err error) {
	n := len(participants)
	switch {
	case n == 0:
		return 0, domainerr.Field("participants", "participants (user ids) are required")
	case n > MaxParticipants:
		return 0, refuse(ErrTooMany, map[string]any{"max": MaxParticipants, "participants": n},
			"%d participants; a settlement has at most %d", n, MaxParticipants)
	}
	seen := map[string]bool{}
	for i, uid := range participants {
		if !users.ValidUserID(uid) {
			return 0, domainerr.Field(fmt.Sprintf("participants[%d]", i), "participants[%d] must be a user id, such as u_0123456789abcdef", i)
		}
		if seen[uid] {
			return 0, refuse(ErrDuplicate, map[string]any{"userId": uid}, "%s is listed twice; each participant has one share", uid)
		}
		seen[uid] = true
		if uid != caller {
			others++
		}
	}
	if others == 0 {
		return 0, domainerr.Field("participants", "participants must include someone other than you")
	}
	return others, nil
}

// shares picks the split (equal by default), refuses options that belong
// to another split, and computes every participant's share, in the order
// of participants.
func shares(in CreateRequest) (split string, amounts []int64, err error) {
	split = in.Split
	if split == "" {
		split = SplitEqual
	}
	if split != SplitExplicit && in.Amounts != nil {
		return "", nil, domainerr.Field("amounts", "amounts are for split %q", SplitExplicit)
	}
	if split != SplitRandom && in.MinimumShare != "" {
		return "", nil, domainerr.Field("minimumShare", "minimumShare is for split %q", SplitRandom)
	}
	total, n := in.Total.Int64(), len(in.Participants)
	tooSmall := func(minimum int64) error {
		return refuse(ErrTotalTooSmall, map[string]any{"total": total, "participants": n, "minimumShare": minimum},
			"%d won cannot give %d participants at least %d won each", total, n, minimum)
	}
	switch split {
	case SplitEqual:
		if amounts, err = money.EqualShares(total, n, money.CryptoRNG); err != nil {
			return "", nil, tooSmall(1)
		}
	case SplitRandom:
		minimum := int64(1)
		if in.MinimumShare != "" {
			if minimum, err = httpapi.Amount("minimumShare", in.MinimumShare); err != nil {
				return "", nil, err
			}
		}
		if amounts, err = money.RandomShares(total, n, minimum, money.CryptoRNG); err != nil {
			return "", nil, tooSmall(minimum)
		}
	case SplitExplicit:
		if amounts, err = explicitShares(in.Amounts, total, n); err != nil {
			return "", nil, err
		}
	default:
		return "", nil, domainerr.Field("split", "split must be %q, %q or %q", SplitEqual, SplitRandom, SplitExplicit)
	}
	return split, amounts, nil
}

// explicitShares checks the given amounts: one a participant, each valid,
// summing to the total.
func explicitShares(given []httpapi.AmountField, total int64, n int) ([]int64, error) {
	if len(given) != n {
		return nil, domainerr.Field("amounts", "amounts must give one amount per participant (%d), in their order", n)
	}
	var (
		amounts []int64
		sum     int64
	)
	for i, a := range given {
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
	return amounts, nil
}

// parseDueAt reads the optional due time: RFC 3339, in the future, at most
// MaxDueAhead ahead; zero when none is given.
func parseDueAt(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, domainerr.Field("dueAt", "dueAt must be an RFC 3339 time, such as 2026-12-01T18:00:00+09:00")
	}
	dueAt := t.UTC().Truncate(time.Millisecond)
	if !dueAt.After(now) || dueAt.After(now.Add(MaxDueAhead)) {
		return time.Time{}, domainerr.Field("dueAt", "dueAt must be in the future, at most %d days ahead", int(MaxDueAhead/(24*time.Hour)))
	}
	return dueAt, nil
}

// newCreation builds the decided settlement's state from checked input:
// the requester's own share settled at once, the automatic reminder's
// time, and how many participants the first transaction writes.
func newCreation(in CreateRequest, caller, name, split string, amounts []int64, others int, dueAt, now time.Time) *creation {
	n := len(in.Participants)
	c := &creation{now: now, plan: plan{Users: in.Participants, Amounts: amounts}}
	st := &c.st
	st.facts = facts{ID: NewID(now), Requester: caller, RequesterName: name, Split: split, Memo: string(in.Memo), Total: in.Total.Int64(),
		ParticipantCount: int64(n), CreatedAt: now, DueAt: dueAt}
	st.Status, st.Rev = StatusOpen, 1
	for i, uid := range in.Participants {
		if uid == caller {
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
	return c
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
func requireUsers(ctx context.Context, d httpapi.Services, uids []string) error {
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
