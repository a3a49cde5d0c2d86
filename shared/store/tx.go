package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/problem"
)

// Tx collects the items of one TransactWriteItems. Each conditional item
// brings its own interpretation of a failed condition, so cancellation
// reasons are classified in one place (Commit) without guessing.
type Tx struct {
	items []types.TransactWriteItem
	ops   []op
	err   error // a mistake found while building; Commit returns it
}

// op is how to read a cancellation reason for one item.
type op struct {
	// onFail turns a failed condition into a domain error; old is the item
	// as it was (nil if it did not exist).
	onFail func(old map[string]types.AttributeValue) error
	// idempotency marks the idempotency record: its failure (a replay) wins
	// over every other failure, and a conflict on it means "in flight".
	idempotency bool
}

// Len is the number of items.
func (tx *Tx) Len() int { return len(tx.items) }

func (tx *Tx) add(item types.TransactWriteItem, o op) {
	// Ask for the old item on failure: it tells "missing" from "too low"
	// without another round trip.
	switch {
	case item.Update != nil && item.Update.ConditionExpression != nil:
		item.Update.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	case item.Put != nil && item.Put.ConditionExpression != nil:
		item.Put.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	case item.ConditionCheck != nil:
		item.ConditionCheck.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	tx.items = append(tx.items, item)
	tx.ops = append(tx.ops, o)
}

// Commit runs the transaction. TransactionConflict, TransactionInProgress and
// throttling are retried a bounded number of times with jittered backoff and
// the same ClientRequestToken, so a retry of a commit that did happen is not
// applied twice. A failed condition becomes the domain error of its item.
func (s *Store) Commit(ctx context.Context, tx *Tx) error {
	if tx.err != nil {
		return tx.err
	}
	if len(tx.items) == 0 {
		return nil
	}
	in := s.Input(tx)
	var lastConflictOnIdem bool
	for attempt := 1; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, in)
		if err == nil {
			return nil
		}
		retry, conflictOnIdem, domainErr := s.classify(tx, err)
		if domainErr != nil {
			return domainErr
		}
		if !retry {
			return fmt.Errorf("store: transact write: %w", err)
		}
		lastConflictOnIdem = conflictOnIdem
		if attempt >= s.maxAttempts {
			break
		}
		if err := s.backoff(ctx, attempt); err != nil {
			return err
		}
	}
	if lastConflictOnIdem {
		return problem.IdemInFlight
	}
	return problem.Contention.WithExtra("retryAfterSeconds", 1)
}

// Input is the TransactWriteItemsInput Commit sends, with a new request
// token (benchmarks send it bare, as the floor our overhead is measured on).
func (s *Store) Input(tx *Tx) *dynamodb.TransactWriteItemsInput {
	in := &dynamodb.TransactWriteItemsInput{
		TransactItems:      tx.items,
		ClientRequestToken: aws.String(NewRequestToken()),
	}
	for _, it := range in.TransactItems {
		setTable(it, s.table)
	}
	return in
}

// classify reads a TransactWriteItems error: retry it, or a domain error, or
// neither (an unexpected failure the caller reports as 500).
func (s *Store) classify(tx *Tx, err error) (retry, conflictOnIdem bool, domainErr error) {
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		var best error
		bestIsIdem := false
		for i, r := range canceled.CancellationReasons {
			code := aws.ToString(r.Code)
			switch code {
			case "", "None":
				continue
			case "ConditionalCheckFailed":
				if i >= len(tx.ops) || tx.ops[i].onFail == nil {
					return false, false, fmt.Errorf("store: unexpected condition failure on item %d", i)
				}
				if best == nil || (tx.ops[i].idempotency && !bestIsIdem) {
					best = tx.ops[i].onFail(r.Item)
					bestIsIdem = tx.ops[i].idempotency
				}
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
				retry = true
				if i < len(tx.ops) && tx.ops[i].idempotency && code == "TransactionConflict" {
					conflictOnIdem = true
				}
			default:
				return false, false, nil // ValidationError, ItemCollectionSizeLimitExceeded...: a bug, not retryable
			}
		}
		if best != nil {
			return false, false, best
		}
		return retry, conflictOnIdem, nil
	}
	var inProgress *types.TransactionInProgressException
	var throttled *types.ProvisionedThroughputExceededException
	var limit *types.RequestLimitExceeded
	var throttling *types.ThrottlingException
	if errors.As(err, &inProgress) || errors.As(err, &throttled) || errors.As(err, &limit) || errors.As(err, &throttling) {
		return true, false, nil
	}
	return false, false, nil
}

// backoff sleeps base*2^(attempt-1), capped, with full jitter.
func (s *Store) backoff(ctx context.Context, attempt int) error {
	d := s.baseBackoff << (attempt - 1)
	if max := 500 * time.Millisecond; d > max {
		d = max
	}
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SetRetryPolicy changes the bounded retry policy (tests use it to keep
// fault-injection tests fast).
func (s *Store) SetRetryPolicy(maxAttempts int, base time.Duration) {
	s.maxAttempts, s.baseBackoff = maxAttempts, base
}

func setTable(it types.TransactWriteItem, table string) {
	switch {
	case it.Put != nil:
		it.Put.TableName = aws.String(table)
	case it.Update != nil:
		it.Update.TableName = aws.String(table)
	case it.Delete != nil:
		it.Delete.TableName = aws.String(table)
	case it.ConditionCheck != nil:
		it.ConditionCheck.TableName = aws.String(table)
	}
}
