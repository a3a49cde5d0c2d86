package sprinkle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

func ticketsKey(sprinkleID string) ddb.Item { return ddb.Key(pkSprinkle+sprinkleID, "TICKETS") }

// ticketOf reads the tickets item: how many are issued, and the user's.
func ticketOf(item ddb.Item, userID string) (issued, mine int64) {
	d := ddb.Decode(item)
	issued = d.N("issued")
	if m, ok := item["tickets"].(*types.AttributeValueMemberM); ok {
		if n, ok := m.Value[userID].(*types.AttributeValueMemberN); ok {
			mine, _ = strconv.ParseInt(n.Value, 10, 64)
		}
	}
	return issued, mine
}

// ticketAttempts bounds the ticket writes of one claim.
const ticketAttempts = 6

// takeTicket is one conditional write of the tickets item: issued + 1 while
// issued < count, the window is open and the user has none; the new issued
// is the user's ticket. A user who has one (another device's request got
// there first) keeps it. A write refused for capacity or a conflict (the
// kernel's ledger.Retryable) is followed, after the kernel's backoff, by an
// eventually consistent read (the item only grows, so what a stale copy
// shows is true): once the shares are gone it answers, with no more writes. The
// SDK does not retry this write itself, so those reads happen.
func takeTicket(ctx context.Context, d httpapi.Services, sp sprinkle, userID string, now time.Time) (int64, error) {
	for attempt := 1; ; attempt++ {
		out, err := d.Table.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(d.Table.Name),
			Key:                      ticketsKey(sp.ID),
			UpdateExpression:         aws.String("SET issued = issued + :one, tickets.#u = issued + :one"),
			ConditionExpression:      aws.String("attribute_exists(PK) AND issued < shareCount AND closesAtMs > :now AND attribute_not_exists(tickets.#u)"),
			ExpressionAttributeNames: map[string]string{"#u": userID},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": ddb.N(1), ":now": ddb.Millis(now),
			},
			ReturnValues:                        types.ReturnValueUpdatedNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
		var failed *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			return ddb.Decode(out.Attributes).MustN("issued"), nil
		case errors.As(err, &failed):
			if len(failed.Item) == 0 {
				return 0, ErrSprinkleNotFound.With("room %s has no sprinkle %s", sp.RoomID, sp.Token)
			}
			if mine, ok, err := sp.settled(failed.Item, userID); ok {
				return mine, err
			}
			return 0, ErrWindowClosed.With("sprinkle %s closed at %s", sp.Token, sp.ClosesAt.Format(time.RFC3339))
		case !ledger.Retryable(err):
			return 0, fmt.Errorf("sprinkle: ticket: %w", err)
		case attempt >= ticketAttempts:
			return 0, ledger.Busy()
		}
		if err := d.Ledger.Backoff(ctx, attempt); err != nil {
			return 0, err
		}
		item, err := getEventual(ctx, d.Table, ticketsKey(sp.ID)) // a stale copy settles only what is true
		if err != nil {
			return 0, err
		}
		if mine, ok, err := sp.settled(item, userID); ok {
			return mine, err
		}
	}
}

// settled is what a tickets item answers without a write: the user's
// ticket, or that the shares are gone (ok false: neither).
func (sp sprinkle) settled(item ddb.Item, userID string) (mine int64, ok bool, err error) {
	issued, mine := ticketOf(item, userID)
	switch {
	case mine > 0:
		return mine, true, nil
	case issued >= int64(len(sp.Shares)):
		return 0, true, ErrExhausted.With("all %d shares of sprinkle %s are taken", len(sp.Shares), sp.Token)
	}
	return 0, false, nil
}
