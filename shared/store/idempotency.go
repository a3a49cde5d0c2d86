package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/problem"
)

// IdempotencyRetention is how long a stored response is replayed.
const IdempotencyRetention = 48 * time.Hour

// IdemKey identifies one idempotent request: the caller's key, scoped to the
// caller, and a hash of what was asked (method, route, body).
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

// Replay is the "error" a commit returns when its idempotency key was
// already used for the same request: nothing moved this time, and the first
// response is to be returned again.
type Replay struct{ Response StoredResponse }

func (r *Replay) Error() string { return "idempotent replay" }

func (k IdemKey) item(resp StoredResponse, now time.Time) map[string]types.AttributeValue {
	item := key(prefixIdem+k.Scope+"#"+k.Key, skIdem)
	item["requestHash"] = str(k.RequestHash)
	item["status"] = num(int64(resp.Status))
	item["body"] = &types.AttributeValueMemberB{Value: resp.Body}
	item["createdAt"] = str(now.UTC().Format(time.RFC3339Nano))
	item[AttrTTL] = num(now.Add(IdempotencyRetention).Unix())
	return item
}

// putIdem writes the record unless a live one exists. TTL deletes lazily,
// so an expired record counts as absent.
func (k IdemKey) put(resp StoredResponse, now time.Time) (types.Put, op) {
	return types.Put{
			Item:                      k.item(resp, now),
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR expiresAt < :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
		}, op{idempotency: true, onFail: func(old map[string]types.AttributeValue) error {
			if getS(old, "requestHash") != k.RequestHash {
				return problem.IdemKeyReused.With("Idempotency-Key %q was first used with a different request; use a new key", k.Key)
			}
			var body []byte
			if b, ok := old["body"].(*types.AttributeValueMemberB); ok {
				body = b.Value
			}
			return &Replay{Response: StoredResponse{Status: int(getN(old, "status")), Body: body}}
		}}
}

// Idempotency adds the request's record, with the response it will have,
// to the movement's transaction: the money moves and the key is spent
// together or not at all, and a concurrent duplicate cannot also commit.
func (tx *Tx) Idempotency(k IdemKey, resp StoredResponse, now time.Time) {
	p, o := k.put(resp, now)
	tx.add(types.TransactWriteItem{Put: &p}, o)
}

// SaveOutcome stores a completed response that moved no money (a refused
// request), so a retry gets the same answer. If the key was spent meanwhile
// it returns that record's *Replay (or IdemKeyReused).
func (s *Store) SaveOutcome(ctx context.Context, k IdemKey, resp StoredResponse) error {
	p, o := k.put(resp, s.clock.Now())
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: p.Item, ConditionExpression: p.ConditionExpression,
		ExpressionAttributeValues: p.ExpressionAttributeValues, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	if asErr(err, &failed) {
		return o.onFail(failed.Item)
	}
	if err != nil {
		return fmt.Errorf("store: save outcome: %w", err)
	}
	return nil
}
