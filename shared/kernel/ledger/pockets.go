package ledger

// Pockets: an escrow split, at creation, into pockets of fixed amounts that
// sum to the escrow's amount, each paid out once (to anyone). A payout
// writes the pocket's own item (it must not exist) and postings on the
// escrow and the receiver: no payout touches an item another payout
// touches, so many receivers can be paid from one escrow at once. Paying
// each pocket at most once, with its own amount, can never take the escrow
// below zero; the audit checks every paid pocket against the amounts the
// escrow was created with.
//
//	item    PK                   SK         notes
//	pocket  POCKET#<escrow id>   <%04d i>   amount, movementId, to, at

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

const (
	pkPocket    = "POCKET#"
	attrPockets = "pockets"
	// MaxPockets caps an escrow's pockets (they are listed on its item).
	MaxPockets = 1000
)

func pocketKey(escrowID string, i int) ddb.Item {
	return ddb.Key(pkPocket+escrowID, fmt.Sprintf("%04d", i))
}

// PocketTakenError: the pocket was paid out already (by the movement named).
type PocketTakenError struct {
	Escrow     string
	Pocket     int
	MovementID string
}

func (e *PocketTakenError) Error() string {
	return fmt.Sprintf("ledger: pocket %d of %s was paid by %s", e.Pocket, e.Escrow, e.MovementID)
}

// PayPockets pays the given pockets of an escrow (index -> its amount, as
// created) to m.To in one movement of their sum: each pocket's item, a
// posting on the escrow, the credit and two entries. m.From and m.Amount
// are set from the escrow and the pockets.
func (tx *Tx) PayPockets(escrowID string, pockets map[int]int64, m Movement) {
	m.From = SystemAccount(escrowID)
	m.Amount = 0
	indexes := make([]int, 0, len(pockets))
	for i, amount := range pockets {
		if i < 0 || i >= MaxPockets || amount <= 0 {
			tx.Fail(fmt.Errorf("ledger: pocket %d of %d", i, amount))
			return
		}
		m.Amount += amount
		indexes = append(indexes, i)
	}
	if err := m.check(); err != nil {
		tx.Fail(err)
		return
	}
	sort.Ints(indexes)
	for _, i := range indexes {
		item := pocketKey(escrowID, i)
		item["escrowId"] = ddb.S(escrowID)
		item["pocket"] = ddb.N(int64(i))
		item["amount"] = ddb.N(pockets[i])
		item["movementId"] = ddb.S(m.ID)
		item["to"] = ddb.S(m.To.ID)
		item["at"] = ddb.Time(m.At)
		tx.add(types.TransactWriteItem{Put: &types.Put{Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
			op{onFail: func(old ddb.Item) error {
				return &PocketTakenError{Escrow: escrowID, Pocket: i, MovementID: ddb.Decode(old).S("movementId")}
			}})
	}
	tx.posting(m.From, -m.Amount, m.ID, m.At)
	tx.credit(m.To, m.ToKind, m.Amount, m.ID, m.At, m.CreditInPlace)
	tx.entries(m)
}

// PaidPockets lists an escrow's pockets paid so far (index -> amount): one
// paged Query.
func (l *Ledger) PaidPockets(ctx context.Context, escrowID string) (map[int]int64, error) {
	paid := map[int]int64{}
	q := l.table.Query(&dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pkPocket + escrowID)},
		ConsistentRead:            aws.Bool(true),
	})
	for q.Next(ctx) {
		d := ddb.Decode(q.Item())
		paid[int(d.MustN("pocket"))] = d.MustN("amount")
		if err := d.Err(); err != nil {
			return paid, err
		}
	}
	return paid, q.Err()
}

// auditPockets checks every paid pocket against its escrow's amounts.
func auditPockets(accounts map[string]*Account, pockets []ddb.Item) []string {
	var problems []string
	for _, p := range pockets {
		d := ddb.Decode(p)
		escrow, i, amount := d.MustS("escrowId"), int(d.MustN("pocket")), d.MustN("amount")
		if err := d.Err(); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		a, ok := accounts[escrow]
		if !ok {
			problems = append(problems, fmt.Sprintf("pocket %d of unknown escrow %s", i, escrow))
			continue
		}
		defined := ddb.Decode(a.Attrs).Ints(attrPockets)
		if i >= len(defined) || defined[i] != amount {
			problems = append(problems, fmt.Sprintf("escrow %s: pocket %d paid %d, created with %v", escrow, i, amount, strconv.Quote(fmt.Sprint(defined))))
		}
	}
	return problems
}
