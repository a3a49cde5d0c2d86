// Package ledger is minipay's kernel: the only code that writes balances and
// holds. It knows accounts, movements, holds, history, idempotency and the
// audit, and no capability. A capability builds
// a Tx from these primitives plus its own items and commits it: ONE
// TransactWriteItems per movement.
//
//	Ledger     New(table, clock); Commit(ctx, tx): cancellation reasons are read per item
//	           (each conditional item says what its failure means); TransactionConflict and
//	           throttling are retried, bounded and jittered, with one ClientRequestToken;
//	           afterwards ErrBusy (503). The first failing item wins, except that
//	           the idempotency record's failure (a replay) wins over all.
//	Tx         tx.Put / Update / Check / Delete: a capability's own items (never an
//	           account or a hold: those are written only through the methods below).
//	Accounts   AccountRef (a user's, or a system account: Outside(...) for the world's
//	           money, may go negative; escrow, never below zero); Account (read);
//	           tx.CreateAccount; GetAccount, ListAccounts.
//	           tx.Move(m): debit (available >= amount) + credit (exists, of a kind) + an
//	           entry on each side. tx.MoveWithTopUp(m, topUp): an automatic charge into
//	           m.From and the movement, the top-up exact at commit (else *TopUpStaleError).
//	           tx.RequireAccount(a, kind); tx.ChargeLimit(user, at, amount, limit): the
//	           charge counter of the Asia/Seoul day.
//	AutoCharge A payment from a main account with the automatic charge of its shortfall
//	           (autocharge.go), the one way every capability does it: PaymentIDs,
//	           tx.DebitWithAutoCharge / tx.HoldWithAutoCharge (the top-up and the day's
//	           limit), NextAutoCharge (the charge a refusal says is due); l.Rebuild commits
//	           and rebuilds after a refusal, bounded; l.CommitWithAutoCharge is the two together.
//	Postings   A credit never updates a busy account's item: it is an immutable posting
//	           (its own key) that is spendable at once (a debit short of funds folds the
//	           account's postings in its own transaction) and folded later (FoldPostings,
//	           the ledger-fold job; FoldAccount). m.CreditInPlace credits an account that
//	           is never busy in place instead (one write, nothing to fold). An account
//	           created with Shards > 1 (a high-volume receiver) spreads its postings and
//	           credit entries over that many partition keys; its readers merge them.
//	           The fold promotes a user's account that turns out to be one (PromoteAfter
//	           postings folded in one run) to MaxShards, never back; SetPromotion.
//	Pockets    tx.CreateEscrow(id, name, m, amounts): an escrow account split into pockets
//	           of fixed amounts; tx.PayPockets(escrow, pockets, m) pays each pocket once
//	           (*PocketTakenError otherwise), no two payouts touching one item;
//	           PaidPockets reads them.
//	Holds      Two-phase transfers (TigerBeetle's two-phase: reserve, post, void, timeout): tx.Hold(h)
//	           or tx.HoldWithTopUp(h, topUp) reserve h.Amount on h.Debit (available goes
//	           down, the balance stays); tx.PostHold(h, amount, m) moves amount <= h.Amount
//	           to h.Credit and releases the rest; tx.VoidHold(h) / tx.ExpireHold(h)
//	           release it. Each resolves at most once; the losers get ErrHoldPosted,
//	           ErrHoldVoided, ErrHoldExpired. GetHold reads one.
//	History    Entries are written by Move/PostHold, one per side, TTL one year;
//	           ListEntries pages them newest first (one Query per page).
//	Idempotency tx.Idempotency(key, response): the record in the movement's own
//	           transaction; SaveOutcome stores a refusal; *Replay / ErrIdemKeyReused /
//	           ErrIdemInFlight report what a key already did.
//	Audit      Audit: sum of balances 0, no account below zero, available = balance -
//	           held, held = its open holds, balance = checkpoint + entries since.
//	           RollCheckpoints moves checkpoints forward before TTL deletes entries.
//
// Errors are domainerr codes (the HTTP edge maps them); the typed ones carry
// their facts: *InsufficientFundsError (available), *LimitExceededError
// (remaining today), *WrongKindError.
package ledger

import (
	"time"

	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/ddb"
)

// Ledger commits transactions on one table.
type Ledger struct {
	table  *ddb.Table
	clock  clock.Clock
	policy *retryPolicy // shared with forks
	known  *known       // accounts read once (postings.go)
}

// retryPolicy bounds the retries of TransactionConflict and throttling.
type retryPolicy struct {
	maxAttempts int
	baseBackoff time.Duration
	// promoteAfter: a fold of this many postings of one account in one
	// run promotes it to MaxShards; knownFresh: how long a process trusts
	// a shard count below MaxShards (postings.go).
	promoteAfter int
	knownFresh   time.Duration
	// foldPerAccount: FoldPerAccount (the fold job's bound per account
	// and shard of the account).
	foldPerAccount int
	// foldHotRate: FoldHotRate (foldwork.go).
	foldHotRate float64
	// foldParallel: how many fold shards the fold job works at once (0:
	// every shard, SetFoldParallel).
	foldParallel int
}

// New is the ledger on table.
func New(table *ddb.Table, clk clock.Clock) *Ledger {
	return &Ledger{table: table, clock: clk, known: &known{},
		policy: &retryPolicy{maxAttempts: 6, baseBackoff: 10 * time.Millisecond, promoteAfter: PromoteAfter, knownFresh: KnownFresh, foldPerAccount: FoldPerAccount, foldHotRate: FoldHotRate}}
}

// Fork is the ledger as another Lambda function sees it: the same table,
// clock and retry policy, and its own memory of accounts read (each
// function is its own process in the cloud; the emulator forks one per
// function so it reads what the cloud would).
func (l *Ledger) Fork() *Ledger {
	f := *l
	f.known = &known{}
	return &f
}

// SetPromotion changes when a fold promotes an account (after folding
// promoteAfter of its postings in one run) and how long a process trusts a
// shard count below MaxShards (tests make both small). Forks share it.
func (l *Ledger) SetPromotion(promoteAfter int, fresh time.Duration) {
	l.policy.promoteAfter, l.policy.knownFresh = promoteAfter, fresh
}

// SetFoldPerAccount changes the fold job's bound per account and shard of
// the account (FoldPerAccount; tests make it small). Forks share it.
func (l *Ledger) SetFoldPerAccount(n int) { l.policy.foldPerAccount = n }

// SetFoldHotRate changes FoldHotRate, below which a fold worker hands an
// account back to the fold job. Forks share it.
func (l *Ledger) SetFoldHotRate(perSecond float64) { l.policy.foldHotRate = perSecond }

// SetFoldParallel caps how many of its FoldShards the fold job works at
// once (n <= 0: all, the cloud's way: each shard is its own partitions).
// Forks share it.
func (l *Ledger) SetFoldParallel(n int) { l.policy.foldParallel = n }

// Table is the ledger's table.
func (l *Ledger) Table() *ddb.Table { return l.table }

// Clock is the ledger's clock.
func (l *Ledger) Clock() clock.Clock { return l.clock }

// SetRetryPolicy changes the bounded retry policy (tests keep fault
// injection fast with it).
func (l *Ledger) SetRetryPolicy(maxAttempts int, base time.Duration) {
	l.policy.maxAttempts, l.policy.baseBackoff = maxAttempts, base
}

// HistoryRetention is how long history entries live (TTL).
const HistoryRetention = 365 * 24 * time.Hour
