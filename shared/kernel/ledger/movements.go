package ledger

// Movements and history entries.
//
//	item           PK               SK              notes
//	history entry  HISTORY#<aid>    ENTRY#<mid>     amount (+/-), type, counterparty, labels, memo,
//	               [#<n>]                           reference, at; ttl +1y; dirKey for user accounts
//	                                                (HISTORY#<aid>[#<n>]#in|out)
//
// A sharded account's credit entries are on shard n of the movement
// (postings.go); ListEntries merges the shards.
//
// A movement's id is time-ordered, so an account's entries sort by time and
// "newest first" is one Query read backwards.

import (
	"cmp"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

const (
	pkHistory     = "HISTORY#"
	skEntryPrefix = "ENTRY#"
)

// Movement is one double-entry transfer of Amount from one account to
// another: a debit and a credit that sum to zero, and a history entry on
// each side.
type Movement struct {
	ID     string // NewMovementID; also the entries' sort key
	Type   string // charge, withdrawal, transfer, ...: what history shows
	From   AccountRef
	To     AccountRef
	Amount int64
	// FromKind / ToKind, when set, are required kinds checked inside the
	// transaction (e.g. charges only into a main account).
	FromKind, ToKind Kind
	// What each side's history shows about the other side.
	FromLabel, ToLabel string
	// Originator is the real name of whoever initiated the movement;
	// DisplayName the name they chose to show (a nickname).
	Originator  string
	DisplayName string
	Memo        string
	// Reference names what the movement belongs to (e.g. "request
	// r_...") on both entries.
	Reference string
	At        time.Time
	// CreditInPlace credits the receiving account's item in this
	// transaction (conditioned on it existing, of ToKind) instead of
	// writing a posting: for an account that is never busy (written
	// only by its owner and its own daily job), it is one
	// write, no existence read and nothing to fold later. A busy account
	// credited in place would contend.
	CreditInPlace bool
}

// NewMovementID is a new time-ordered movement id.
func NewMovementID(at time.Time) string { return ddb.NewTimeID(at) }

// TwoMovementIDs are two ids of one instant, the first smaller: a top-up
// takes the first, so history (newest first) shows the payment above the
// charge that paid for it.
func TwoMovementIDs(at time.Time) (first, second string) {
	a, b := NewMovementID(at), NewMovementID(at)
	if b < a {
		a, b = b, a
	}
	return a, b
}

func (m Movement) check() error {
	switch {
	case m.ID == "" || m.At.IsZero():
		return fmt.Errorf("ledger: movement without id or time")
	case m.Amount <= 0:
		return fmt.Errorf("ledger: movement %s of %d", m.ID, m.Amount)
	case m.From == m.To || m.From.ID == m.To.ID:
		return ErrSameAccount.With("money cannot move from account %s to itself", m.From.ID)
	}
	return nil
}

// Move adds the movement: a conditional debit (available >= amount unless
// m.From is an outside account), a credit that requires the account to
// exist (of m.ToKind), and two entries.
func (tx *Tx) Move(m Movement) {
	if err := m.check(); err != nil {
		tx.Fail(err)
		return
	}
	tx.debit(m.From, m.FromKind, m.Amount, m.ID, m.At)
	tx.credit(m.To, m.ToKind, m.Amount, m.ID, m.At, m.CreditInPlace)
	tx.entries(m)
}

// TopUpFor is the automatic top-up an account with available needs to
// cover amount, in whole steps: 0 if it already does, else the shortfall
// rounded up to a multiple of step.
func TopUpFor(amount, available, step int64) int64 {
	if available >= amount {
		return 0
	}
	short := amount - available
	return (short + step - 1) / step * step
}

// topUpRange is every available balance for which TopUpFor(amount, ., step)
// is topUp: the condition that makes a top-up exact at commit.
func topUpRange(amount, topUp, step int64) (lo, hi int64) {
	return amount - topUp, amount - topUp + step - 1
}

// TopUp is an automatic top-up: a movement into the paying account (from
// an outside account) of TopUpFor(amount, available, Step) won.
type TopUp struct {
	Movement
	Step int64
}

func (tx *Tx) checkTopUp(a AccountRef, amount int64, t TopUp) bool {
	switch {
	case t.To != a:
		tx.Fail(fmt.Errorf("ledger: top-up goes to %s, but the money leaves %s", t.To.ID, a.ID))
	case t.Step <= 0 || t.Amount <= 0 || t.Amount%t.Step != 0:
		tx.Fail(fmt.Errorf("ledger: top-up of %d is not whole steps of %d", t.Amount, t.Step))
	case amount <= 0:
		tx.Fail(fmt.Errorf("ledger: top-up for %d", amount))
	default:
		if err := t.Movement.check(); err != nil {
			tx.Fail(err)
			return false
		}
		return true
	}
	return false
}

// MoveWithTopUp adds an automatic top-up into m.From and m, as two
// movements with their own entries (history shows the charge and the
// payment) but ONE update of the shared account: ADD topUp - amount on the
// condition that available is still one for which exactly this top-up is
// due (TopUpFor). So the result equals a serial execution: a balance that went
// up or down since the top-up was computed fails the transaction with
// *TopUpStaleError carrying the fresh available, and the caller computes
// again. Items: the top-up's source, the shared account, m.To, four entries.
func (tx *Tx) MoveWithTopUp(m Movement, t TopUp) {
	if err := m.check(); err != nil {
		tx.Fail(err)
		return
	}
	if !tx.checkTopUp(m.From, m.Amount, t) {
		return
	}
	if t.From == m.To {
		tx.Fail(ErrSameAccount.With("a top-up cannot come from the account being paid"))
		return
	}
	tx.debit(t.From, t.FromKind, t.Amount, t.ID, t.At)
	tx.debitAfterTopUp(m.From, cmp.Or(m.FromKind, t.ToKind), m.Amount, t.Amount, t.Step)
	tx.credit(m.To, m.ToKind, m.Amount, m.ID, m.At, m.CreditInPlace)
	tx.entries(t.Movement)
	tx.entries(m)
}

// entries adds the movement's two history entries.
func (tx *Tx) entries(m Movement) {
	tx.entry(m, m.From, -m.Amount, m.To, m.ToLabel)
	tx.entry(m, m.To, m.Amount, m.From, m.FromLabel)
}

func (tx *Tx) entry(m Movement, acct AccountRef, amount int64, other AccountRef, otherLabel string) {
	item := ddb.Key(pkHistory+acct.ID, skEntryPrefix+m.ID)
	item["accountId"] = ddb.S(acct.ID)
	item["movementId"] = ddb.S(m.ID)
	item["type"] = ddb.S(m.Type)
	item["amount"] = ddb.N(amount)
	item["counterpartyAccount"] = ddb.S(other.ID)
	item["at"] = ddb.Time(m.At)
	item[ddb.AttrTTL] = ddb.Epoch(m.At.Add(HistoryRetention))
	if !acct.System() {
		item[ddb.AttrDirKey] = ddb.S(dirKey(acct.ID, amount))
	}
	ddb.SetStrings(item, map[string]string{"counterparty": otherLabel, "originator": m.Originator,
		"displayName": m.DisplayName, "memo": m.Memo, "reference": m.Reference})
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: item}}, op{})
	if amount > 0 {
		tx.sharded = append(tx.sharded, shardable{index: len(tx.items) - 1, a: acct, mid: m.ID, at: m.At, entry: true, dir: amount})
	}
}

// History directions.
const (
	DirectionIn  = "in"
	DirectionOut = "out"
)

// dirKey is an entry's partition in the direction index.
func dirKey(accountID string, amount int64) string { return dirKeyShard(accountID, 0, amount) }

// dirKeyShard is the direction index partition of an entry on shard n.
func dirKeyShard(accountID string, n int, amount int64) string {
	if amount < 0 {
		return dirPartition(accountID, n, DirectionOut)
	}
	return dirPartition(accountID, n, DirectionIn)
}

func dirPartition(accountID string, n int, dir string) string {
	return ddb.ShardKey(pkHistory+accountID, n) + "#" + dir
}
