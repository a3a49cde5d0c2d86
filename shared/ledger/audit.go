package ledger

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/shared/ddb"
)

// AuditReport is the result of checking the ledger's invariants.
type AuditReport struct {
	Accounts      int
	Entries       int
	OpenHolds     int
	Postings      int // unfolded, counted in their accounts' balances
	SumOfBalances int64
	Problems      []string
}

// OK reports whether every invariant held.
func (r AuditReport) OK() bool { return len(r.Problems) == 0 }

func (r AuditReport) String() string {
	s := fmt.Sprintf("audit: %d accounts, %d entries, %d open holds, %d unfolded postings, sum of balances %d", r.Accounts, r.Entries, r.OpenHolds, r.Postings, r.SumOfBalances)
	if r.OK() {
		return s + ": OK"
	}
	return s + ": " + fmt.Sprint(len(r.Problems)) + " problem(s):\n  " + strings.Join(r.Problems, "\n  ")
}

// Audit scans the whole table (an operator's tool, never a request path)
// and checks: the sum of all balances is 0; no account but an outside one
// has a negative balance, held or available, and available = balance - held;
// each account's held equals the sum of its open holds; each account's
// balance equals its checkpoint plus its entries since the checkpoint.
// Balances include unfolded postings; an escrow's paid pockets are each the
// amount it was created with.
func Audit(ctx context.Context, db ddb.Scanner, table string) (AuditReport, error) {
	var r AuditReport
	accounts := map[string]*Account{}
	type entry struct {
		sk     string
		amount int64
	}
	entries := map[string][]entry{}
	holds := map[string]int64{}    // debit account -> open holds
	postings := map[string]int64{} // account -> unfolded postings
	outsiders := map[string]bool{} // outside accounts seen in postings (their item appears when first folded)
	var pockets []ddb.Item
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		out, err := db.Scan(ctx, in)
		if err != nil {
			return r, fmt.Errorf("ledger: audit scan: %w", err)
		}
		for _, item := range out.Items {
			pk, sk := keyString(item, ddb.AttrPK), keyString(item, ddb.AttrSK)
			switch {
			case strings.HasPrefix(sk, skAccountPrefix):
				a, err := accountFromItem(item)
				if err != nil {
					r.Problems = append(r.Problems, err.Error())
					continue
				}
				accounts[a.ID] = &a
			case strings.HasPrefix(pk, pkHold):
				h, err := holdFromItem(item)
				if err != nil {
					r.Problems = append(r.Problems, err.Error())
					continue
				}
				if h.Status == HoldOpen {
					holds[h.Debit.ID] += h.Amount
					r.OpenHolds++
				}
			case isPosting(pk):
				d := ddb.Decode(item)
				id, amount, outside := d.MustS("accountId"), d.MustN("amount"), d.Bool("outside")
				if err := d.Err(); err != nil {
					r.Problems = append(r.Problems, err.Error())
					continue
				}
				postings[id] += amount
				if outside {
					outsiders[id] = true
				}
				r.Postings++
			case strings.HasPrefix(pk, pkPocket):
				pockets = append(pockets, item)
			case strings.HasPrefix(pk, pkHistory) && strings.HasPrefix(sk, skEntryPrefix):
				d := ddb.Decode(item)
				id, amount := d.MustS("accountId"), d.MustN("amount")
				if err := d.Err(); err != nil {
					r.Problems = append(r.Problems, err.Error())
					continue
				}
				r.Entries++
				entries[id] = append(entries[id], entry{strings.TrimPrefix(sk, skEntryPrefix), amount})
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	ids := make([]string, 0, len(accounts))
	for id := range accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for id := range outsiders {
		if _, ok := accounts[id]; !ok {
			accounts[id] = &Account{ID: id, Kind: KindOutside}
		}
	}
	ids = ids[:0]
	for id := range accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for id, p := range postings {
		if a, ok := accounts[id]; ok {
			a.Balance += p
			a.Available += p
		} else {
			r.Problems = append(r.Problems, fmt.Sprintf("unfolded postings of %d for unknown account %s", p, id))
		}
	}
	r.Problems = append(r.Problems, auditPockets(accounts, pockets)...)
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
		if a.Held != holds[id] {
			r.Problems = append(r.Problems, fmt.Sprintf("account %s: held %d but its open holds sum to %d", id, a.Held, holds[id]))
		}
		since := a.checkpoint.balance
		for _, e := range entries[id] {
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
	for id, sum := range holds {
		if _, ok := accounts[id]; !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("open holds of %d on unknown account %s", sum, id))
		}
	}
	for id := range entries {
		if _, ok := accounts[id]; !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("entries for unknown account %s", id))
		}
	}
	sort.Strings(r.Problems)
	return r, nil
}
