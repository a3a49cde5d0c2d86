package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/clock"
	"minipay/shared/problem"
)

// GetAccount reads one of the user's accounts (strongly consistent). Someone
// else's account is simply not under this user's key: 404.
func (s *Store) GetAccount(ctx context.Context, userID, accountID string) (Account, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: UserAccount(userID, accountID).key(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Account{}, fmt.Errorf("store: get account: %w", err)
	}
	if len(out.Item) == 0 {
		return Account{}, problem.AccountNotFound.With("you have no account %s", accountID)
	}
	return accountFromItem(out.Item), nil
}

// ListAccounts returns all of the user's accounts: one Query.
func (s *Store) ListAccounts(ctx context.Context, userID string) ([]Account, error) {
	accounts := []Account{}
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(prefixUser + userID), ":sk": str(prefixAccount),
		},
		ConsistentRead: aws.Bool(true),
	}
	err := s.queryAll(ctx, in, func(item map[string]types.AttributeValue) bool {
		accounts = append(accounts, accountFromItem(item))
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("store: list accounts: %w", err)
	}
	return accounts, nil
}

// Entry is one line of an account's history.
type Entry struct {
	ID                  string    `json:"id"` // the movement id, shared by both sides
	Type                string    `json:"type"`
	Amount              int64     `json:"amount"` // signed: + in, - out
	Direction           string    `json:"direction"`
	Counterparty        string    `json:"counterparty,omitempty"`
	CounterpartyAccount string    `json:"counterpartyAccount,omitempty"`
	Originator          string    `json:"originator,omitempty"`
	DisplayName         string    `json:"displayName,omitempty"`
	Memo                string    `json:"memo,omitempty"`
	At                  time.Time `json:"at"`
}

func entryFromItem(item map[string]types.AttributeValue) Entry {
	at, _ := time.Parse(time.RFC3339Nano, getS(item, "at"))
	e := Entry{
		ID: getS(item, "movementId"), Type: getS(item, "type"), Amount: getN(item, "amount"),
		Counterparty: getS(item, "counterparty"), CounterpartyAccount: getS(item, "counterpartyAccount"),
		Originator: getS(item, "originator"), DisplayName: getS(item, "displayName"), Memo: getS(item, "memo"), At: at,
	}
	e.Direction = "in"
	if e.Amount < 0 {
		e.Direction = "out"
	}
	return e
}

// EntryPage asks for one page of history.
type EntryPage struct {
	AccountID string
	Limit     int32
	Cursor    string    // opaque, from the previous page
	From, To  time.Time // optional time range
	Direction string    // optional: DirectionIn or DirectionOut
}

// MaxPageSize caps a history page.
const MaxPageSize = 100

// ListEntries returns one page of an account's history, newest first, and
// the cursor of the next page ("" at the end). One Query: entries are keyed
// by time-ordered ids, so the one-year window and the time range are key
// conditions and cost nothing beyond the page. Expired entries are never
// returned, whether or not TTL has deleted them yet.
func (s *Store) ListEntries(ctx context.Context, p EntryPage) ([]Entry, string, error) {
	now := s.clock.Now()
	from := now.Add(-HistoryRetention)
	if p.From.After(from) {
		from = p.From
	}
	upper := prefixEntry + "~" // above every id character
	if !p.To.IsZero() {
		upper = prefixEntry + timePrefix(p.To.Add(time.Millisecond))
	}
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :from AND :to"),
		FilterExpression:       aws.String("expiresAt > :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(prefixHistory + p.AccountID), ":from": str(prefixEntry + timePrefix(from)), ":to": str(upper),
			":now": num(now.Unix()),
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(p.Limit),
	}
	if p.Direction != "" {
		// Same key conditions on the direction index (eventually consistent,
		// like any GSI: an entry may appear there a moment after its commit).
		in.IndexName = aws.String(IndexDirection)
		in.KeyConditionExpression = aws.String("dirKey = :pk AND SK BETWEEN :from AND :to")
		in.ExpressionAttributeValues[":pk"] = str(prefixHistory + p.AccountID + "#" + p.Direction)
	}
	if p.Cursor != "" {
		id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = key(prefixHistory+p.AccountID, prefixEntry+id)
		if p.Direction != "" {
			in.ExclusiveStartKey[AttrDirKey] = str(prefixHistory + p.AccountID + "#" + p.Direction)
		}
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("store: list entries: %w", err)
	}
	entries := make([]Entry, 0, len(out.Items))
	for _, item := range out.Items {
		entries = append(entries, entryFromItem(item))
	}
	next := ""
	if len(out.LastEvaluatedKey) > 0 {
		next = base64.RawURLEncoding.EncodeToString([]byte(strings.TrimPrefix(getS(out.LastEvaluatedKey, AttrSK), prefixEntry)))
	}
	return entries, next, nil
}

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	bad := problem.InvalidField.With("cursor is not one this API returned").WithExtra("field", "cursor")
	if err != nil || len(b) != 26 {
		return "", bad
	}
	for _, ch := range string(b) {
		if !strings.ContainsRune(crockford, ch) {
			return "", bad
		}
	}
	return string(b), nil
}

// ChargedToday is how much the user has charged on the Asia/Seoul day of at.
func (s *Store) ChargedToday(ctx context.Context, userID string, at time.Time) (int64, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(prefixUser+userID, prefixLimit+clock.KSTDate(at)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, fmt.Errorf("store: charged today: %w", err)
	}
	return getN(out.Item, "charged"), nil
}
