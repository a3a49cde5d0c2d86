package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// AuditReport is the result of checking the ledger's invariants.
type AuditReport struct {
	Accounts      int
	Entries       int
	SumOfBalances int64
	Problems      []string
}

// OK reports whether every invariant held.
func (r AuditReport) OK() bool { return len(r.Problems) == 0 }

func (r AuditReport) String() string {
	s := fmt.Sprintf("audit: %d accounts, %d entries, sum of balances %d", r.Accounts, r.Entries, r.SumOfBalances)
	if r.OK() {
		return s + ": OK"
	}
	return s + ": " + fmt.Sprint(len(r.Problems)) + " problem(s):\n  " + strings.Join(r.Problems, "\n  ")
}

// Audit scans the whole table (an operator's tool, never a request path)
// and checks: the sum of all balances is 0; no user account has negative
// available, held or balance, and available = balance - held; each account's
// balance equals the sum of its history entries; each user account's held
// equals the sum of the amounts of its open (status pending) transfers.
//
// The last check counts every entry still stored. Once TTL has deleted
// year-old entries it no longer holds for accounts older than a year.
func (s *Store) Audit(ctx context.Context) (AuditReport, error) {
	var r AuditReport
	balances := map[string]int64{}
	entrySums := map[string]int64{}
	held := map[string]int64{}        // user account id -> held, as stored
	pendingHeld := map[string]int64{} // sender's main account id -> sum of open pending transfers
	in := &dynamodb.ScanInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true)}
	for {
		out, err := s.db.Scan(ctx, in)
		if err != nil {
			return r, fmt.Errorf("store: audit scan: %w", err)
		}
		for _, item := range out.Items {
			sk := getS(item, AttrSK)
			switch {
			case strings.HasPrefix(sk, prefixAccount):
				a := accountFromItem(item)
				r.Accounts++
				r.SumOfBalances += a.Balance
				balances[a.ID] = a.Balance
				if a.Kind == KindExternal {
					continue
				}
				if a.Available < 0 || a.Held < 0 || a.Balance < 0 {
					r.Problems = append(r.Problems, fmt.Sprintf("account %s below zero: balance %d held %d available %d", a.ID, a.Balance, a.Held, a.Available))
				}
				held[a.ID] = a.Held
				if a.Available != a.Balance-a.Held {
					r.Problems = append(r.Problems, fmt.Sprintf("account %s: available %d != balance %d - held %d", a.ID, a.Available, a.Balance, a.Held))
				}
			case sk == skTransfer && strings.HasPrefix(getS(item, AttrPK), prefixTransfer):
				if getS(item, "status") == StatusPending {
					pendingHeld[MainAccountID(getS(item, "from"))] += getN(item, "amount")
				}
			case strings.HasPrefix(sk, prefixEntry):
				r.Entries++
				entrySums[getS(item, "accountId")] += getN(item, "amount")
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if r.SumOfBalances != 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("sum of balances is %d, not 0", r.SumOfBalances))
	}
	for id, b := range balances {
		if entrySums[id] != b {
			r.Problems = append(r.Problems, fmt.Sprintf("account %s: balance %d but its entries sum to %d", id, b, entrySums[id]))
		}
	}
	for id, h := range held {
		if h != pendingHeld[id] {
			r.Problems = append(r.Problems, fmt.Sprintf("account %s: held %d but its open pending transfers sum to %d", id, h, pendingHeld[id]))
		}
	}
	for id, sum := range pendingHeld {
		if _, ok := held[id]; !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("open pending transfers of %d from unknown account %s", sum, id))
		}
	}
	for id := range entrySums {
		if _, ok := balances[id]; !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("entries for unknown account %s", id))
		}
	}
	return r, nil
}
