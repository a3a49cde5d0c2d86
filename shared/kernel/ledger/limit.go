package ledger

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/ddb"
)

// The daily charge counter:
//
//	item          PK           SK                  notes
//	charge limit  USER#<uid>   LIMIT#<kst date>    charged so far; ttl a few days
//
// Keyed by the Asia/Seoul date, so the limit resets at 00:00 KST with no job.

const skLimitPrefix = "LIMIT#"

// ChargeLimit adds amount to the user's charge counter for the Asia/Seoul
// day of at, refusing to pass limit (*LimitExceededError, with what is
// left today).
func (tx *Tx) ChargeLimit(userID string, at time.Time, amount, limit int64) {
	cond := "attribute_not_exists(charged) OR charged <= :left"
	if amount > limit {
		// Never allowed, not even as the day's first charge (no counter
		// yet): a condition that always fails, so the refusal still reads
		// the counter and says what is left today.
		cond = "charged <= :left"
	}
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                 limitKey(userID, at),
		UpdateExpression:    aws.String("ADD charged :amount SET expiresAt = :ttl"),
		ConditionExpression: aws.String(cond),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":amount": ddb.N(amount), ":left": ddb.N(limit - amount),
			":ttl": ddb.Epoch(clock.NextKSTMidnight(at).Add(72 * time.Hour)),
		},
	}}, op{onFail: func(old ddb.Item) error {
		return &LimitExceededError{Remaining: max(limit-ddb.Decode(old).N("charged"), 0), Limit: limit, Asked: amount}
	}})
}

func limitKey(userID string, at time.Time) ddb.Item {
	return ddb.Key(pkUser+userID, skLimitPrefix+clock.KSTDate(at))
}
