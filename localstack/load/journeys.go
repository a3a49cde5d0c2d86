package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"minipay/shared/capabilities/accounts"
	"minipay/shared/capabilities/merchant"
	"minipay/shared/capabilities/savings"
	"minipay/shared/capabilities/settlement"
	"minipay/shared/capabilities/sprinkle"
	"minipay/shared/capabilities/transfers"
	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
)

// The journey's steps, in the order a journey runs them; each is a row of
// the report. A step is one route (its function), called once or more per
// journey (see the mix in the package doc).
const (
	stRegister = iota
	stCharge
	stTransfer
	stTransferPending
	stRoom
	stRoomMember
	stSprinkle
	stClaim
	stAcceptPending
	stSettlement
	stSettlementPay
	stSettlementView
	stSavingsOpen
	stSavingsDeposit
	stSavingsFixed
	stSavingsClose
	stOrder
	stOrderCancel
	stOrderAccept
	stOrderCook
	stOrderRefund
	stOrderProgress
	stOrderComplete
	stHistory
)

// Steps names the journey steps (the report's rows), by index.
var Steps = []string{
	stRegister:        "register",
	stCharge:          "charge",
	stTransfer:        "transfer",
	stTransferPending: "transfer pending",
	stRoom:            "room",
	stRoomMember:      "room member",
	stSprinkle:        "sprinkle",
	stClaim:           "sprinkle claim",
	stAcceptPending:   "accept pending",
	stSettlement:      "settlement",
	stSettlementPay:   "settlement pay",
	stSettlementView:  "settlement view",
	stSavingsOpen:     "savings open",
	stSavingsDeposit:  "savings deposit",
	stSavingsFixed:    "savings fixed",
	stSavingsClose:    "savings close",
	stOrder:           "order",
	stOrderCancel:     "order cancel",
	stOrderAccept:     "order accept",
	stOrderCook:       "order cook",
	stOrderRefund:     "order refund",
	stOrderProgress:   "order progress",
	stOrderComplete:   "order complete",
	stHistory:         "history",
}

// stepFunction is each step's route function (the report shows its route).
var stepFunction = map[int]string{
	stRegister: "create-user", stCharge: "charge", stTransfer: "transfer", stTransferPending: "transfer",
	stRoom: "create-room", stRoomMember: "add-room-member", stSprinkle: "create-sprinkle", stClaim: "claim-sprinkle",
	stAcceptPending: "accept-transfer", stSettlement: "create-settlement", stSettlementPay: "pay-settlement",
	stSettlementView: "get-settlement", stSavingsOpen: "open-account", stSavingsDeposit: "deposit-savings",
	stSavingsFixed: "open-account", stSavingsClose: "close-savings",
	stOrder: "place-order", stOrderCancel: "cancel-order", stOrderAccept: "accept-order", stOrderCook: "cook-order",
	stOrderRefund: "refund-order", stOrderProgress: "progress-order", stOrderComplete: "complete-order", stHistory: "list-entries",
}

// Journey amounts, in won.
const (
	chargeAmount   = 100_000
	sprinkleAmount = 3_000
	sprinkleShares = 3
	depositAmount  = 20_000
	installment    = 10_000 // the fixed product's daily installment (08:00 Asia/Seoul)
	orderAmount    = 15_000
	refundAmount   = 4_000
	dinnerTotal    = 30_000 // split equally among the user and friends a and c
	seedCharge     = 500_000
)

// Order outcomes, by journey number: the mix is exact, not random, so a
// short run covers every branch.
const (
	orderCancelled = iota // the customer cancels before the store accepts
	orderRefunded         // accepted, cooked (captured), refunded in part
	orderCompleted        // accepted, cooked, cooked/picked_up/delivered, completed by the customer
	orderCancelledAccepted
)

func orderOutcome(n int) int {
	switch n % 4 {
	case 0:
		if (n/4)%2 == 1 {
			return orderCancelledAccepted // the store had accepted; cooking had not started
		}
		return orderCancelled
	case 1:
		return orderRefunded
	default:
		return orderCompleted
	}
}

// pendingJourney: every second journey's second transfer waits for the friend.
func pendingJourney(n int) bool { return n%2 == 1 }

// fixedJourney: every second journey opens a fixed savings product too.
func fixedJourney(n int) bool { return n%2 == 0 }

// closeJourney: every fourth journey closes its free savings account early.
func closeJourney(n int) bool { return n%4 == 3 }

type person struct {
	id, main, token string
}

type store struct {
	id    string
	owner person
}

// world is the population the journeys act in: the friends (seed users
// and every newcomer once registered) and the stores.
type world struct {
	cl       *client
	operator string // the operator token ("": open registration)
	run      string
	think    time.Duration
	stores   []store

	seeds []person // the friends set up before the run (charged)

	mu      sync.Mutex
	friends []person
	rnd     *rand.Rand
	people  int
}

func (w *world) addFriend(p person) {
	w.mu.Lock()
	w.friends = append(w.friends, p)
	w.mu.Unlock()
}

// pick chooses n distinct friends other than self.
func (w *world) pick(self string, n int) []person {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []person
	for _, i := range w.rnd.Perm(len(w.friends)) {
		if f := w.friends[i]; f.id != self {
			out = append(out, f)
			if len(out) == n {
				break
			}
		}
	}
	return out
}

func (w *world) pickStore() store {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stores[w.rnd.IntN(len(w.stores))]
}

func (w *world) amount(lo, hi int64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return lo + w.rnd.Int64N(hi-lo+1)
}

// register creates a user: open registration, or the operator's with a
// personId unique to this run.
func (w *world) register(ctx context.Context, step int, name string) (person, error) {
	w.mu.Lock()
	w.people++
	n := w.people
	w.mu.Unlock()
	body := map[string]any{"name": name}
	token := ""
	if w.operator != "" {
		body["personId"] = fmt.Sprintf("load-%s-%d", w.run, n)
		token = w.operator
	}
	var out users.RegisterResponse
	err := w.cl.do(ctx, call{step: step, function: "create-user", token: token, body: body, out: &out, verify: func() error {
		return expect(out.Token != "" && out.User.ID != "" && out.MainAccount.ID != "", "token, user id and main account in the answer")
	}})
	return person{id: out.User.ID, main: out.MainAccount.ID, token: out.Token}, err
}

// journey is one user's life, step by step; it stops at the first step
// that fails (the user gives up), which the report counts.
func (w *world) journey(ctx context.Context, n int) error {
	think := func() error {
		if w.think <= 0 {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(w.think):
			return nil
		}
	}
	steps := []func(*journeyState) error{
		w.signUp, w.chargeUp, w.sendToFriends, w.sprinkleInRoom, w.friendAccepts, w.splitDinner, w.save, w.orderFood, w.readHistory,
	}
	j := &journeyState{ctx: ctx, n: n}
	for i, step := range steps {
		if i > 0 {
			if err := think(); err != nil {
				return err
			}
		}
		if err := step(j); err != nil {
			return err
		}
	}
	return nil
}

type journeyState struct {
	ctx     context.Context
	n       int
	me      person
	friends []person // a: immediate transfer, room; b: pending transfer; c: room
	pending string   // the pending transfer b is to accept
}

func (w *world) signUp(j *journeyState) error {
	me, err := w.register(j.ctx, stRegister, fmt.Sprintf("load user %d", j.n))
	if err != nil {
		return err
	}
	j.me = me
	j.friends = w.pick(me.id, 3)
	w.addFriend(me) // later journeys may pick the newcomer as a friend
	if len(j.friends) < 3 {
		return fmt.Errorf("load: fewer than 3 friends to pick from")
	}
	return nil
}

func (w *world) chargeUp(j *journeyState) error {
	var out httpapi.MovementResponse
	return w.cl.do(j.ctx, call{step: stCharge, function: "charge", params: []string{j.me.main}, token: j.me.token,
		body: map[string]any{"amount": chargeAmount, "memo": "top up"}, out: &out,
		verify: func() error {
			return expect(out.Amount == chargeAmount, "charged %d, want %d", out.Amount, chargeAmount)
		}})
}

// sendToFriends: an immediate transfer to friend a; to friend b a second
// one, pending on every second journey (b accepts it later).
func (w *world) sendToFriends(j *journeyState) error {
	a, b := j.friends[0], j.friends[1]
	amount := w.amount(5_000, 15_000)
	var out transfers.Response
	if err := w.cl.do(j.ctx, call{step: stTransfer, function: "transfer", token: j.me.token,
		body: map[string]any{"to": a.id, "amount": amount, "memo": "lunch"}, out: &out,
		verify: func() error {
			return expect(out.Status == "completed" && out.Amount == amount && out.AutoCharged == 0, "status %q amount %d autoCharged %d", out.Status, out.Amount, out.AutoCharged)
		}}); err != nil {
		return err
	}
	pending := pendingJourney(j.n)
	step := stTransfer
	want := "completed"
	if pending {
		step, want = stTransferPending, transfers.StatusPending
	}
	amount = w.amount(1_000, 5_000)
	out = transfers.Response{}
	if err := w.cl.do(j.ctx, call{step: step, function: "transfer", token: j.me.token,
		body: map[string]any{"to": b.id, "amount": amount, "pending": pending, "memo": "gift"}, out: &out,
		verify: func() error {
			return expect(out.Status == want && out.ID != "", "status %q, want %q", out.Status, want)
		}}); err != nil {
		return err
	}
	if pending {
		j.pending = out.ID
	}
	return nil
}

// sprinkleInRoom: a room with friends a and c, a sprinkle of 3 shares,
// both members claim at the same moment.
func (w *world) sprinkleInRoom(j *journeyState) error {
	var room sprinkle.RoomResponse
	if err := w.cl.do(j.ctx, call{step: stRoom, function: "create-room", token: j.me.token, body: map[string]any{"name": "lunch club"}, out: &room,
		verify: func() error { return expect(room.ID != "", "a room id") }}); err != nil {
		return err
	}
	members := []person{j.friends[0], j.friends[2]}
	for _, m := range members {
		if err := w.cl.do(j.ctx, call{step: stRoomMember, function: "add-room-member", params: []string{room.ID}, token: j.me.token,
			body: map[string]any{"userId": m.id}}); err != nil {
			return err
		}
	}
	var sp sprinkle.CreateResponse
	if err := w.cl.do(j.ctx, call{step: stSprinkle, function: "create-sprinkle", params: []string{room.ID}, token: j.me.token,
		body: map[string]any{"amount": sprinkleAmount, "count": sprinkleShares, "split": "random"}, out: &sp,
		verify: func() error {
			return expect(len(sp.Token) == 3 && sp.Amount == sprinkleAmount, "token %q amount %d", sp.Token, sp.Amount)
		}}); err != nil {
		return err
	}
	return both(members, func(m person) error {
		var claim sprinkle.ClaimResponse
		return w.cl.do(j.ctx, call{step: stClaim, function: "claim-sprinkle", params: []string{room.ID, sp.Token}, token: m.token, out: &claim,
			verify: func() error {
				return expect(claim.Amount >= 1 && claim.Amount <= sprinkleAmount && claim.ToAccount == m.main, "claimed %d into %s", claim.Amount, claim.ToAccount)
			}})
	})
}

// friendAccepts: friend b accepts the pending transfer, a little later.
func (w *world) friendAccepts(j *journeyState) error {
	if j.pending == "" {
		return nil
	}
	var out transfers.ResolveResponse
	return w.cl.do(j.ctx, call{step: stAcceptPending, function: "accept-transfer", params: []string{j.pending}, token: j.friends[1].token, out: &out,
		verify: func() error {
			return expect(out.Status == transfers.StatusAccepted && out.MovementID != "", "status %q movement %q", out.Status, out.MovementID)
		}})
}

// splitDinner: the user asks friends a and c for their equal parts of a
// dinner (the user's own share is settled at once); both pay at the same
// moment, exactly one payment completes the request, and the user sees it
// completed with everything collected.
func (w *world) splitDinner(j *journeyState) error {
	a, c := j.friends[0], j.friends[2]
	var created settlement.Settlement
	if err := w.cl.do(j.ctx, call{step: stSettlement, function: "create-settlement", token: j.me.token,
		body: map[string]any{"total": dinnerTotal, "participants": []string{j.me.id, a.id, c.id}, "split": "equal", "memo": "dinner"}, out: &created,
		verify: func() error {
			return expect(created.ID != "" && created.Status == settlement.StatusOpen && created.ParticipantCount == 3 && created.OpenCount == 2 &&
				len(created.Participants) == 3, "settlement %q status %q participants %d open %d", created.ID, created.Status, created.ParticipantCount, created.OpenCount)
		}}); err != nil {
		return err
	}
	share := map[string]int64{}
	for _, p := range created.Participants {
		share[p.UserID] = p.Amount
	}
	var mu sync.Mutex
	completed, collected := 0, int64(0)
	if err := both([]person{a, c}, func(p person) error {
		var paid settlement.PayResponse
		return w.cl.do(j.ctx, call{step: stSettlementPay, function: "pay-settlement", params: []string{created.ID, p.id}, token: p.token, out: &paid,
			verify: func() error {
				if paid.Amount != share[p.id] || paid.Status != settlement.SharePaid || paid.ToAccount != j.me.main {
					return fmt.Errorf("paid %d (share %d) status %q to %s", paid.Amount, share[p.id], paid.Status, paid.ToAccount)
				}
				mu.Lock()
				defer mu.Unlock()
				collected += paid.Amount
				if paid.SettlementStatus == settlement.StatusCompleted {
					completed++
				}
				return nil
			}})
	}); err != nil {
		return err
	}
	var seen settlement.Settlement
	return w.cl.do(j.ctx, call{step: stSettlementView, function: "get-settlement", params: []string{created.ID}, token: j.me.token, out: &seen,
		verify: func() error {
			return expect(completed == 1 && seen.Status == settlement.StatusCompleted && seen.Collected == collected && seen.OpenCount == 0,
				"%d payments said completed; the request is %q, collected %d of %d paid", completed, seen.Status, seen.Collected, collected)
		}})
}

// save: a free savings account and a deposit into it; every second
// journey also opens a fixed product (a daily installment from main);
// every fourth closes the free account again (the principal goes back).
func (w *world) save(j *journeyState) error {
	var free savings.OpenResponse
	if err := w.cl.do(j.ctx, call{step: stSavingsOpen, function: "open-account", token: j.me.token,
		body: map[string]any{"name": "travel"}, out: &free,
		verify: func() error {
			return expect(free.ID != "" && free.Kind == savings.KindSavings && free.Savings != nil && free.Savings.Product == savings.ProductFree,
				"account %q kind %q", free.ID, free.Kind)
		}}); err != nil {
		return err
	}
	var dep httpapi.MovementResponse
	if err := w.cl.do(j.ctx, call{step: stSavingsDeposit, function: "deposit-savings", params: []string{free.ID}, token: j.me.token,
		body: map[string]any{"amount": depositAmount}, out: &dep,
		verify: func() error {
			return expect(dep.Amount == depositAmount && dep.To == free.ID, "deposited %d into %s", dep.Amount, dep.To)
		}}); err != nil {
		return err
	}
	if fixedJourney(j.n) {
		var fixed savings.OpenResponse
		if err := w.cl.do(j.ctx, call{step: stSavingsFixed, function: "open-account", token: j.me.token,
			body: map[string]any{"name": "car", "product": savings.ProductFixed, "installment": installment, "termMonths": 12}, out: &fixed,
			verify: func() error {
				return expect(fixed.ID != "" && fixed.Savings != nil && fixed.Savings.Product == savings.ProductFixed && fixed.Savings.Installment == installment,
					"account %q savings %+v", fixed.ID, fixed.Savings)
			}}); err != nil {
			return err
		}
	}
	if closeJourney(j.n) {
		var closed savings.CloseResponse
		return w.cl.do(j.ctx, call{step: stSavingsClose, function: "close-savings", params: []string{free.ID}, token: j.me.token, out: &closed,
			verify: func() error {
				return expect(closed.AccountID == free.ID && closed.Savings != nil && closed.Savings.Status == savings.StatusClosed &&
					closed.Savings.Payout >= depositAmount && closed.MovementID != "", "closed %q: %+v", closed.AccountID, closed.Savings)
			}})
	}
	return nil
}

// orderFood: an order from a store, through one of the outcomes.
func (w *world) orderFood(j *journeyState) error {
	st := w.pickStore()
	var placed merchant.PlaceResponse
	if err := w.cl.do(j.ctx, call{step: stOrder, function: "place-order", token: j.me.token,
		body: map[string]any{"store": st.id, "amount": orderAmount, "memo": "bibimbap"}, out: &placed,
		verify: func() error {
			return expect(placed.ID != "" && placed.Status == merchant.StatusAuthorized && placed.Amount == orderAmount, "order %q status %q", placed.ID, placed.Status)
		}}); err != nil {
		return err
	}
	id := placed.ID
	transition := func(step int, function string, p person, body any, want string) error {
		var o merchant.Order
		return w.cl.do(j.ctx, call{step: step, function: function, params: []string{id}, token: p.token, body: body, out: &o,
			verify: func() error { return expect(o.Status == want, "status %q, want %q", o.Status, want) }})
	}
	outcome := orderOutcome(j.n)
	if outcome == orderCancelled {
		return transition(stOrderCancel, "cancel-order", j.me, nil, merchant.StatusCancelled)
	}
	if err := transition(stOrderAccept, "accept-order", st.owner, nil, merchant.StatusAccepted); err != nil {
		return err
	}
	if outcome == orderCancelledAccepted {
		return transition(stOrderCancel, "cancel-order", j.me, nil, merchant.StatusCancelled)
	}
	if err := transition(stOrderCook, "cook-order", st.owner, nil, merchant.StatusCooking); err != nil {
		return err
	}
	if outcome == orderRefunded {
		var r merchant.RefundResponse
		return w.cl.do(j.ctx, call{step: stOrderRefund, function: "refund-order", params: []string{id}, token: st.owner.token,
			body: map[string]any{"amount": refundAmount, "reason": "missing side dish"}, out: &r,
			verify: func() error {
				return expect(r.Amount == refundAmount && r.Order == id, "refunded %d of %q", r.Amount, r.Order)
			}})
	}
	for _, s := range []string{merchant.StatusCooked, merchant.StatusPickedUp, merchant.StatusDelivered} {
		if err := transition(stOrderProgress, "progress-order", st.owner, map[string]any{"status": s}, s); err != nil {
			return err
		}
	}
	return transition(stOrderComplete, "complete-order", j.me, nil, merchant.StatusCompleted)
}

// readHistory: the user looks at their newest entries (the charge at least).
func (w *world) readHistory(j *journeyState) error {
	var page accounts.EntryList
	return w.cl.do(j.ctx, call{step: stHistory, function: "list-entries", params: []string{j.me.main}, query: "limit=20", token: j.me.token, out: &page,
		verify: func() error { return expect(len(page.Entries) >= 1, "%d entries", len(page.Entries)) }})
}

// both runs f for each at the same moment and returns the first error.
func both(ps []person, f func(person) error) error {
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { errs[i] = f(p) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// setup registers the seed friends (charged, so they can pay their part
// later) and the store owners with one store each. It is not measured.
func (w *world) setup(ctx context.Context, friends, stores int) error {
	for i := 0; i < friends; i++ {
		p, err := w.register(ctx, -1, fmt.Sprintf("load friend %d", i))
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		if err := w.cl.do(ctx, call{step: -1, function: "charge", params: []string{p.main}, token: p.token,
			body: map[string]any{"amount": seedCharge}}); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		w.addFriend(p)
		w.seeds = append(w.seeds, p)
	}
	for i := 0; i < stores; i++ {
		owner, err := w.register(ctx, -1, fmt.Sprintf("load store owner %d", i))
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		var s merchant.Store
		if err := w.cl.do(ctx, call{step: -1, function: "create-store", token: owner.token, body: map[string]any{"name": fmt.Sprintf("load kitchen %d", i)},
			out: &s, verify: func() error { return expect(s.ID != "", "a store id") }}); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		w.stores = append(w.stores, store{id: s.ID, owner: owner})
	}
	return nil
}

// stepRoute is each step's "METHOD path", for the report.
var stepRoute = map[string]string{}
