package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

// Idempotency records:
//
//	item        PK                    SK     notes
//	idempotency IDEM#<scope>#<key>    IDEM   request hash, status, body, createdAt; ttl 48 h
//
// The record is written in the movement's own transaction: the money moves
// and the key is spent together or not at all, and a concurrent duplicate
// cannot also commit.

const (
	pkIdem = "IDEM#"
	skIdem = "IDEM"
)

// IdempotencyRetention is how long a stored response is replayed.
const IdempotencyRetention = 48 * time.Hour

// IdemKey identifies one idempotent request: the caller's key, scoped to the
// caller, and a hash of what was asked.
type IdemKey struct {
	Scope       string // user id, or "operator"
	Key         string // the Idempotency-Key header
	RequestHash string
}

// StoredResponse is a completed response, replayed byte for byte.
type StoredResponse struct {
	Status int
	Body   []byte
}

// Replay is what a commit returns when its key was already spent on the
// same request: nothing moved this time; answer Response again.
type Replay struct{ Response StoredResponse }

func (r *Replay) Error() string { return "idempotent replay" }

func (k IdemKey) put(resp StoredResponse, now time.Time) (types.Put, op) {
	item := ddb.Key(pkIdem+k.Scope+"#"+k.Key, skIdem)
	item["requestHash"] = ddb.S(k.RequestHash)
	item["status"] = ddb.N(int64(resp.Status))
	item["body"] = ddb.B(resp.Body)
	item["createdAt"] = ddb.Time(now)
	item[ddb.AttrTTL] = ddb.Epoch(now.Add(IdempotencyRetention))
	// TTL deletes lazily: an expired record counts as absent.
	return types.Put{
			Item:                      item,
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR expiresAt < :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": ddb.Epoch(now)},
		}, op{idempotency: true, onFail: func(old ddb.Item) error {
			d := ddb.Decode(old)
			if d.S("requestHash") != k.RequestHash {
				return ErrIdemKeyReused.With("Idempotency-Key %q was first used with a different request; use a new key", k.Key)
			}
			r := &Replay{Response: StoredResponse{Status: int(d.N("status")), Body: d.Bytes("body")}}
			if err := d.Err(); err != nil {
				return err
			}
			return r
		}}
}

// Idempotency adds the request's record, with the response it will have,
// to the movement's transaction.
func (tx *Tx) Idempotency(k IdemKey, resp StoredResponse, now time.Time) {
	p, o := k.put(resp, now)
	tx.add(types.TransactWriteItem{Put: &p}, o)
}

// SaveOutcome stores a completed response that moved no money (a refusal),
// so a retry gets the same answer. If the key was spent meanwhile it returns
// that record's *Replay (or ErrIdemKeyReused).
func (l *Ledger) SaveOutcome(ctx context.Context, k IdemKey, resp StoredResponse) error {
	p, o := k.put(resp, l.clock.Now())
	_, err := l.table.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(l.table.Name), Item: p.Item, ConditionExpression: p.ConditionExpression,
		ExpressionAttributeValues: p.ExpressionAttributeValues, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return o.onFail(failed.Item)
	}
	if err != nil {
		return fmt.Errorf("ledger: save outcome: %w", err)
	}
	return nil
}

// Answered reads the key's record: a *Replay if the same request was
// answered already, ErrIdemKeyReused if the key was spent on another, nil
// if it is free. A handler that must write before its movement's
// transaction (a ticket) asks first, so a retry does not write twice.
func (l *Ledger) Answered(ctx context.Context, k IdemKey) error {
	now := l.clock.Now()
	item, err := l.table.Get(ctx, ddb.Key(pkIdem+k.Scope+"#"+k.Key, skIdem))
	if err != nil || item == nil || ddb.Decode(item).N(ddb.AttrTTL) < now.Unix() {
		return err
	}
	_, o := k.put(StoredResponse{}, now)
	return o.onFail(item)
}
