package ledger

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

// AuditReport is the result of checking the ledger's invariants.
type AuditReport struct {
	Accounts      int
	Entries       int
	OpenHolds     int
	Postings      int // unfolded, counted in their accounts' balances
	SumOfBalances int64
	// Passes is how many passes the audit took: more than one when the
	// first pass saw the ledger moving (a Scan is no snapshot).
	Passes int
	// Reread is how many accounts the last pass re-read on their own
	// (account item and postings as of one moment) because the Scan had
	// seen them moving.
	Reread   int
	Problems []string
}

// OK reports whether every invariant held.
func (r AuditReport) OK() bool { return len(r.Problems) == 0 }

func (r AuditReport) String() string {
	s := fmt.Sprintf("audit: %d accounts, %d entries, %d open holds, %d unfolded postings, sum of balances %d", r.Accounts, r.Entries, r.OpenHolds, r.Postings, r.SumOfBalances)
	if r.Passes > 1 || r.Reread > 0 {
		s += fmt.Sprintf(" (moving while read: %d passes, %d accounts re-read)", r.Passes, r.Reread)
	}
	if r.OK() {
		return s + ": OK"
	}
	return s + ": " + fmt.Sprint(len(r.Problems)) + " problem(s):\n  " + strings.Join(r.Problems, "\n  ")
}

// AuditPasses bounds the passes of one audit.
const AuditPasses = 3

// Audit scans the whole table (an operator's tool, never a request path)
// and checks: the sum of all balances is 0; no account but an outside one
// has a negative balance, held or available, and available = balance - held;
// each account's held equals the sum of its open holds; each account's
// balance equals its checkpoint plus its entries since the checkpoint.
// Balances include unfolded postings; an escrow's paid pockets are each the
// amount it was created with.
//
// A Scan is not a snapshot: a fold (postings deleted, the account item
// credited, in one transaction) that commits between the Scan's read of the
// account item and its read of the postings is counted twice or not at
// all, and so is a movement between two accounts read at different times.
// So a pass that finds a problem is not yet an alarm: every account is read
// again on its own, as of one moment (the item, its postings, the item
// again, until the item is unchanged: a fold always changes the item), and
// the invariants are checked again; if the ledger still looks wrong,
// another whole pass follows, up to AuditPasses. A problem is reported only
// when every pass found one, and then the last pass's. Under folds alone
// the re-read is exact, so a problem then means money is wrong; under
// movements an alarm needs AuditPasses passes in a row to catch money in
// flight, which a quiet ledger never shows.
func Audit(ctx context.Context, db ddb.Scanner, table string) (AuditReport, error) {
	var r AuditReport
	for pass := 1; pass <= AuditPasses; pass++ {
		st, err := scanLedger(ctx, db, table)
		if err != nil {
			return r, err
		}
		r = st.check()
		r.Passes = pass
		if r.OK() {
			return r, nil
		}
		n, err := st.reread(ctx, ddb.NewTable(db, table))
		if err != nil {
			return r, err
		}
		r = st.check()
		r.Passes, r.Reread = pass, n
		if r.OK() {
			return r, nil
		}
	}
	return r, nil
}

type auditEntry struct {
	sk     string
	amount int64
}

// ledgerState is what one pass read.
type ledgerState struct {
	accounts  map[string]*Account
	entries   map[string][]auditEntry
	holds     map[string]int64 // debit account -> open holds
	postings  map[string]int64 // account -> unfolded postings
	counted   map[string]int   // account -> how many
	outsiders map[string]bool  // outside accounts seen in postings (their item appears when first folded)
	pockets   []ddb.Item
	entryN    int
	holdN     int
	problems  []string // items that did not decode
}

func scanLedger(ctx context.Context, db ddb.Scanner, table string) (*ledgerState, error) {
	st := &ledgerState{accounts: map[string]*Account{}, entries: map[string][]auditEntry{}, holds: map[string]int64{},
		postings: map[string]int64{}, counted: map[string]int{}, outsiders: map[string]bool{}}
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		out, err := db.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("ledger: audit scan: %w", err)
		}
		for _, item := range out.Items {
			st.add(item)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	for id := range st.outsiders {
		if _, ok := st.accounts[id]; !ok {
			st.accounts[id] = &Account{ID: id, Kind: KindOutside}
		}
	}
	return st, nil
}

// add counts one scanned item into the pass: an account, an open hold, an
// unfolded posting, an escrow's pocket or a history entry (other items
// are no ledger's). An item that does not decode is a problem.
func (st *ledgerState) add(item ddb.Item) {
	pk, sk := keyString(item, ddb.AttrPK), keyString(item, ddb.AttrSK)
	switch {
	case strings.HasPrefix(sk, skAccountPrefix):
		a, err := accountFromItem(item)
		if err != nil {
			st.problems = append(st.problems, err.Error())
			return
		}
		st.accounts[a.ID] = &a
	case strings.HasPrefix(pk, pkHold):
		h, err := holdFromItem(item)
		if err != nil {
			st.problems = append(st.problems, err.Error())
			return
		}
		if h.Status == HoldOpen {
			st.holds[h.Debit.ID] += h.Amount
			st.holdN++
		}
	case isPosting(pk):
		d := ddb.Decode(item)
		id, amount, outside := d.MustS("accountId"), d.MustN("amount"), d.Bool("outside")
		if err := d.Err(); err != nil {
			st.problems = append(st.problems, err.Error())
			return
		}
		st.postings[id] += amount
		st.counted[id]++
		if outside {
			st.outsiders[id] = true
		}
	case strings.HasPrefix(pk, pkPocket):
		st.pockets = append(st.pockets, item)
	case strings.HasPrefix(pk, pkHistory) && strings.HasPrefix(sk, skEntryPrefix):
		d := ddb.Decode(item)
		id, amount := d.MustS("accountId"), d.MustN("amount")
		if err := d.Err(); err != nil {
			st.problems = append(st.problems, err.Error())
			return
		}
		st.entryN++
		st.entries[id] = append(st.entries[id], auditEntry{strings.TrimPrefix(sk, skEntryPrefix), amount})
	}
}

// rereadTries bounds the re-reads of one account that keeps moving.
const rereadTries = 20

// reread reads every account again on its own, as of one moment: the
// account item, its unfolded postings, the item again, until the two reads
// of the item agree. A fold deletes postings and updates the item in one
// transaction, so with the item unchanged around the postings' Query no
// fold committed in between, and item + postings count each posting once.
// It returns how many accounts it re-read.
func (st *ledgerState) reread(ctx context.Context, t *ddb.Table) (int, error) {
	n := 0
	for id, a := range st.accounts {
		ref := a.Ref()
		var postings int64
		var count int
		var item ddb.Item
		for try := 0; ; try++ {
			before, err := t.Get(ctx, ref.Key())
			if err != nil {
				return n, fmt.Errorf("ledger: audit re-read: %w", err)
			}
			postings, count, err = sumPostings(ctx, t, ref)
			if err != nil {
				return n, fmt.Errorf("ledger: audit re-read: %w", err)
			}
			after, err := t.Get(ctx, ref.Key())
			if err != nil {
				return n, fmt.Errorf("ledger: audit re-read: %w", err)
			}
			if reflect.DeepEqual(before, after) {
				item = after
				break
			}
			if try >= rereadTries {
				return n, fmt.Errorf("ledger: audit: account %s changed under %d re-reads in a row", id, rereadTries)
			}
		}
		n++
		switch {
		case item != nil:
			fresh, err := accountFromItem(item)
			if err != nil {
				return n, err
			}
			*a = fresh
		case a.Kind == KindOutside:
			*a = Account{ID: id, Kind: KindOutside} // not folded yet: its postings are all it has
		default:
			return n, fmt.Errorf("ledger: audit: account %s vanished", id)
		}
		st.postings[id], st.counted[id] = postings, count
	}
	return n, nil
}

// sumPostings adds up a's unfolded postings, and counts them: one
// strongly consistent Query.
func sumPostings(ctx context.Context, t *ddb.Table, a AccountRef) (sum int64, n int, err error) {
	return sumAmounts(ctx, t, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pkPosting + postingGroup(a)), ":sk": ddb.S(a.ID + "#")},
		ConsistentRead:            aws.Bool(true),
	})
}

// check checks the invariants on what a pass read.
func (st *ledgerState) check() AuditReport {
	r := AuditReport{Entries: st.entryN, OpenHolds: st.holdN, Problems: append([]string(nil), st.problems...)}
	accounts := make(map[string]*Account, len(st.accounts))
	for id, a := range st.accounts {
		c := *a
		accounts[id] = &c
	}
	for id, p := range st.postings {
		r.Postings += st.counted[id]
		if a, ok := accounts[id]; ok {
			a.Balance += p
			a.Available += p
		} else if p != 0 || st.counted[id] > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("unfolded postings of %d for unknown account %s", p, id))
		}
	}
	ids := make([]string, 0, len(accounts))
	for id := range accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	r.Problems = append(r.Problems, auditPockets(accounts, st.pockets)...)
	for _, id := range ids {
		a := accounts[id]
		r.Accounts++
		r.SumOfBalances += a.Balance
		if a.Kind != KindOutside {
			if a.Available < 0 || a.Held < 0 || a.Balance < 0 {
				r.Problems = append(r.Problems, fmt.Sprintf("account %s below zero: balance %d held %d available %d", id, a.Balance, a.Held, a.Available))
			}
			if a.Available != a.Balance-a.Held {
				r.Problems = append(r.Problems, fmt.Sprintf("account %s: available %d != balance %d - held %d", id, a.Available, a.Balance, a.Held))
			}
		}
		if a.Held != st.holds[id] {
			r.Problems = append(r.Problems, fmt.Sprintf("account %s: held %d but its open holds sum to %d", id, a.Held, st.holds[id]))
		}
		since := a.checkpoint.balance
		for _, e := range st.entries[id] {
			if e.sk >= a.checkpoint.asOf {
				since += e.amount
			}
		}
		if since != a.Balance {
			r.Problems = append(r.Problems, fmt.Sprintf("account %s: balance %d but checkpoint %d + entries since %q sum to %d",
				id, a.Balance, a.checkpoint.balance, a.checkpoint.asOf, since))
		}
	}
	if r.SumOfBalances != 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("sum of balances is %d, not 0", r.SumOfBalances))
	}
	for id, sum := range st.holds {
		if _, ok := accounts[id]; !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("open holds of %d on unknown account %s", sum, id))
		}
	}
	for id := range st.entries {
		if _, ok := accounts[id]; !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("entries for unknown account %s", id))
		}
	}
	sort.Strings(r.Problems)
	return r
}
