package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/problem"
)

// MaxSavingsAccounts caps how many savings accounts one user may open.
const MaxSavingsAccounts = 20

// User is a registered person.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// TokenHash is how a token is stored and looked up: hex sha256.
func TokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Register writes the user, their main account and their token hash in one
// transaction.
func (s *Store) Register(ctx context.Context, u User, token string) (Account, error) {
	main := Account{ID: MainAccountID(u.ID), Owner: u.ID, Kind: KindMain, Name: "main", CreatedAt: u.CreatedAt}
	profile := key(prefixUser+u.ID, skProfile)
	profile["userId"] = str(u.ID)
	profile["name"] = str(u.Name)
	profile["createdAt"] = str(u.CreatedAt.UTC().Format(time.RFC3339Nano))
	profile["savingsCount"] = num(0)
	tok := key(prefixToken+TokenHash(token), skToken)
	tok["userId"] = str(u.ID)
	tok["name"] = str(u.Name) // for the authorizer context: handlers know the caller's name without a read
	tx := &Tx{}
	exists := func(map[string]types.AttributeValue) error {
		return fmt.Errorf("store: id collision for user %s", u.ID)
	}
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: profile, ConditionExpression: aws.String("attribute_not_exists(PK)")}}, op{onFail: exists})
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: accountItem(main), ConditionExpression: aws.String("attribute_not_exists(PK)")}}, op{onFail: exists})
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: tok, ConditionExpression: aws.String("attribute_not_exists(PK)")}}, op{onFail: exists})
	return main, s.Commit(ctx, tx)
}

// OpenSavings creates a savings account for the user, counting it on the
// profile so the cap holds under concurrency.
func (s *Store) OpenSavings(ctx context.Context, userID, name string, at time.Time) (Account, error) {
	a := Account{ID: NewSavingsAccountID(), Owner: userID, Kind: KindSavings, Name: name, CreatedAt: at}
	tx := &Tx{}
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                 key(prefixUser+userID, skProfile),
		UpdateExpression:    aws.String("ADD savingsCount :one"),
		ConditionExpression: aws.String("attribute_exists(PK) AND savingsCount < :max"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1), ":max": num(MaxSavingsAccounts),
		},
	}}, op{onFail: func(old map[string]types.AttributeValue) error {
		if len(old) == 0 {
			return problem.UserNotFound
		}
		return problem.TooManyAccounts.With("a user may have at most %d savings accounts", MaxSavingsAccounts)
	}})
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: accountItem(a), ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		op{onFail: func(map[string]types.AttributeValue) error {
			return fmt.Errorf("store: id collision for account %s", a.ID)
		}})
	return a, s.Commit(ctx, tx)
}

func accountItem(a Account) map[string]types.AttributeValue {
	item := UserAccount(a.Owner, a.ID).key()
	item["accountId"] = str(a.ID)
	item["owner"] = str(a.Owner)
	item["kind"] = str(a.Kind)
	item["name"] = str(a.Name)
	item["balance"] = num(0)
	item["held"] = num(0)
	item["available"] = num(0)
	item["createdAt"] = str(a.CreatedAt.UTC().Format(time.RFC3339Nano))
	return item
}

// TokenOwner is who a token belongs to, as stored on the token item.
type TokenOwner struct {
	UserID string
	// Name is the user's name at registration ("" for tokens issued before
	// names were stored on token items).
	Name string
}

// TokenUser returns who a token belongs to (a zero TokenOwner if nobody):
// one GetItem. The authorizer passes both into the request context, so a
// handler that labels history with the caller's name needs no read.
func (s *Store) TokenUser(ctx context.Context, token string) (TokenOwner, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(prefixToken+TokenHash(token), skToken),
	})
	if err != nil {
		return TokenOwner{}, fmt.Errorf("store: token lookup: %w", err)
	}
	return TokenOwner{UserID: getS(out.Item, "userId"), Name: getS(out.Item, "name")}, nil
}

// UserByToken returns the user id a token belongs to ("" if none): one GetItem.
func (s *Store) UserByToken(ctx context.Context, token string) (string, error) {
	o, err := s.TokenUser(ctx, token)
	return o.UserID, err
}

// UserExists reports whether a user profile exists.
func (s *Store) GetUser(ctx context.Context, userID string) (User, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(prefixUser+userID, skProfile), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return User{}, fmt.Errorf("store: get user: %w", err)
	}
	if len(out.Item) == 0 {
		return User{}, problem.UserNotFound.With("user %s does not exist", userID)
	}
	created, _ := time.Parse(time.RFC3339Nano, getS(out.Item, "createdAt"))
	return User{ID: userID, Name: getS(out.Item, "name"), CreatedAt: created}, nil
}
