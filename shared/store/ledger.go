package store

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/clock"
	"minipay/shared/problem"
)

// Account kinds.
const (
	KindMain     = "main"
	KindSavings  = "savings"
	KindExternal = "external" // system: the outside world (banks, payment systems)
)

// ExternalShards is how many items the outside-world system account is
// spread over. Every charge and withdrawal writes it; one item would be a
// hot key (TransactionConflict, 1,000 WCU/s per partition) for the whole
// service. A user always uses the same shard.
const ExternalShards = 32

// HistoryRetention is how long history entries live (TTL).
const HistoryRetention = 365 * 24 * time.Hour

// AccountRef addresses an account without reading it.
type AccountRef struct {
	Owner string // user id; "" for system accounts
	ID    string
}

// UserAccount is a user's account.
func UserAccount(userID, accountID string) AccountRef {
	return AccountRef{Owner: userID, ID: accountID}
}

// MainAccount is a user's main account, derived from the user id.
func MainAccount(userID string) AccountRef { return UserAccount(userID, MainAccountID(userID)) }

// ExternalAccount is the outside-world shard that a user's bank money flows through.
func ExternalAccount(userID string) AccountRef {
	h := fnv.New32a()
	h.Write([]byte(userID))
	return AccountRef{ID: fmt.Sprintf("sys_external_%02d", h.Sum32()%ExternalShards)}
}

// System reports whether the account is a system account (may go negative).
func (a AccountRef) System() bool { return a.Owner == "" }

func (a AccountRef) key() map[string]types.AttributeValue {
	if a.System() {
		return key(prefixSystem+a.ID, prefixAccount+a.ID)
	}
	return key(prefixUser+a.Owner, prefixAccount+a.ID)
}

// Account is an account as read.
type Account struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner,omitempty"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name,omitempty"`
	Balance   int64     `json:"balance"`
	Held      int64     `json:"held"`
	Available int64     `json:"available"`
	CreatedAt time.Time `json:"createdAt"`
}

func accountFromItem(item map[string]types.AttributeValue) Account {
	created, _ := time.Parse(time.RFC3339Nano, getS(item, "createdAt"))
	return Account{
		ID: getS(item, "accountId"), Owner: getS(item, "owner"), Kind: getS(item, "kind"), Name: getS(item, "name"),
		Balance: getN(item, "balance"), Held: getN(item, "held"), Available: getN(item, "available"), CreatedAt: created,
	}
}

// Movement is one double-entry transfer of Amount from one account to
// another: a debit and a credit that sum to zero, and a history entry on
// each side.
type Movement struct {
	ID     string // NewMovementID; also the history entries' sort key
	Type   string // charge, withdrawal, savings_deposit, operator_deposit, ...
	From   AccountRef
	To     AccountRef
	Amount int64
	// FromKind / ToKind, when set, are required kinds checked inside the
	// transaction (e.g. charges only into a main account).
	FromKind, ToKind string
	// What each side's history shows about the other side.
	FromLabel, ToLabel string
	// Originator is the real name of whoever initiated the movement.
	Originator string
	// DisplayName is the name the originator chose to show (e.g. a
	// nickname on a transfer); both entries carry it next to Originator.
	DisplayName string
	Memo        string
	At          time.Time
}

// Move adds the movement: a conditional debit (available >= amount for user
// accounts), a credit that requires the account to exist, and two entries.
func (tx *Tx) Move(m Movement) {
	if m.From == m.To {
		tx.err = problem.InvalidField.With("money cannot move from account %s to itself", m.From.ID)
		return
	}
	tx.debit(m.From, m.FromKind, m.Amount)
	tx.credit(m.To, m.ToKind, m.Amount)
	tx.entry(m, m.From, -m.Amount, m.To, m.ToLabel)
	tx.entry(m, m.To, m.Amount, m.From, m.FromLabel)
}

// MoveWithTopUp adds two movements that share an account: topUp brings
// money into m.From (e.g. an automatic charge from the bank) and m then
// spends it. Both stay separate movements with their own entries, so the
// history shows the charge and the payment.
//
// It exists because DynamoDB refuses a transaction that touches one item
// twice (ValidationException), so Move(topUp) followed by Move(m) cannot go
// in one TransactWriteItems. The shared account gets ONE update instead:
// ADD topUp.Amount - m.Amount, on the condition available >= m.Amount -
// topUp.Amount. That is exactly "after the top-up, available covers the
// payment", so the transaction still re-checks the balance the caller's
// choice of top-up relied on; a failure reports the old available like a
// plain debit. Items: topUp's source debit, the shared account's update,
// m's destination credit, and four entries.
func (tx *Tx) MoveWithTopUp(m, topUp Movement) {
	switch {
	case topUp.To != m.From:
		tx.err = fmt.Errorf("store: top-up goes to %s, but the movement is from %s", topUp.To.ID, m.From.ID)
		return
	case m.From == m.To || topUp.From == topUp.To || topUp.From == m.To:
		tx.err = problem.InvalidField.With("money cannot move from an account to itself")
		return
	case m.ID == topUp.ID:
		tx.err = fmt.Errorf("store: a top-up needs its own movement id")
		return
	case topUp.ToKind != "" && m.FromKind != "" && topUp.ToKind != m.FromKind:
		tx.err = fmt.Errorf("store: top-up requires a %s account, the movement a %s account", topUp.ToKind, m.FromKind)
		return
	}
	kind := m.FromKind
	if kind == "" {
		kind = topUp.ToKind
	}
	tx.debit(topUp.From, topUp.FromKind, topUp.Amount)
	tx.adjust(m.From, kind, topUp.Amount-m.Amount)
	tx.credit(m.To, m.ToKind, m.Amount)
	tx.entry(topUp, topUp.From, -topUp.Amount, topUp.To, topUp.ToLabel)
	tx.entry(topUp, topUp.To, topUp.Amount, topUp.From, topUp.FromLabel)
	tx.entry(m, m.From, -m.Amount, m.To, m.ToLabel)
	tx.entry(m, m.To, m.Amount, m.From, m.FromLabel)
}

func (tx *Tx) debit(a AccountRef, kind string, amount int64) {
	if a.System() {
		tx.add(systemUpdate(a, -amount), op{})
		return
	}
	tx.adjust(a, kind, -amount)
}

// adjust changes a user account by delta on the condition that it exists
// (of kind, if set) and that available >= -delta beforehand, so available
// never drops below zero. A plain debit is adjust(a, kind, -amount).
func (tx *Tx) adjust(a AccountRef, kind string, delta int64) {
	needed := -delta
	cond := "attribute_exists(PK) AND available >= :needed"
	values := map[string]types.AttributeValue{":needed": num(needed), ":delta": num(delta)}
	if kind != "" {
		cond += " AND kind = :kind"
		values[":kind"] = str(kind)
	}
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                       a.key(),
		UpdateExpression:          aws.String("ADD balance :delta, available :delta"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: values,
	}}, op{onFail: spendRefused(a, kind, needed)})
}

// spendRefused reads a failed "exists, of kind, available >= needed"
// condition on a user account: which of the three facts was false. Every
// update that takes money out of available (debit, hold) uses it.
func spendRefused(a AccountRef, kind string, needed int64) func(map[string]types.AttributeValue) error {
	return func(old map[string]types.AttributeValue) error {
		switch {
		case len(old) == 0:
			return problem.AccountNotFound.With("account %s does not exist or is not yours", a.ID)
		case kind != "" && getS(old, "kind") != kind:
			return problem.WrongAccountKind.With("account %s is a %s account; this needs a %s account", a.ID, getS(old, "kind"), kind)
		default:
			return problem.InsufficientFunds.With("account %s has %d won available; %d needed", a.ID, getN(old, "available"), needed).
				WithExtra("available", getN(old, "available"))
		}
	}
}

func (tx *Tx) credit(a AccountRef, kind string, amount int64) {
	if a.System() {
		tx.add(systemUpdate(a, amount), op{})
		return
	}
	cond := "attribute_exists(PK)"
	values := map[string]types.AttributeValue{":amount": num(amount)}
	if kind != "" {
		cond += " AND kind = :kind"
		values[":kind"] = str(kind)
	}
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                       a.key(),
		UpdateExpression:          aws.String("ADD balance :amount, available :amount"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: values,
	}}, op{onFail: func(old map[string]types.AttributeValue) error {
		if len(old) == 0 {
			return problem.AccountNotFound.With("account %s does not exist", a.ID)
		}
		return problem.WrongAccountKind.With("account %s is a %s account; this needs a %s account", a.ID, getS(old, "kind"), kind)
	}})
}

// systemUpdate moves a system account without a condition: system accounts
// stand for the outside world and may go negative. The item is created on
// first use.
func systemUpdate(a AccountRef, delta int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		Key:              a.key(),
		UpdateExpression: aws.String("ADD balance :d, available :d SET kind = if_not_exists(kind, :kind), accountId = if_not_exists(accountId, :id), held = if_not_exists(held, :zero)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":d": num(delta), ":kind": str(KindExternal), ":id": str(a.ID), ":zero": num(0),
		},
	}}
}

func (tx *Tx) entry(m Movement, acct AccountRef, amount int64, other AccountRef, otherLabel string) {
	item := key(prefixHistory+acct.ID, prefixEntry+m.ID)
	item["accountId"] = str(acct.ID)
	item["movementId"] = str(m.ID)
	item["type"] = str(m.Type)
	item["amount"] = num(amount)
	item["counterpartyAccount"] = str(other.ID)
	item["at"] = str(m.At.UTC().Format(time.RFC3339Nano))
	item[AttrTTL] = num(m.At.Add(HistoryRetention).Unix())
	if !acct.System() {
		item[AttrDirKey] = str(dirKey(acct.ID, amount))
	}
	if otherLabel != "" {
		item["counterparty"] = str(otherLabel)
	}
	if m.Originator != "" {
		item["originator"] = str(m.Originator)
	}
	if m.DisplayName != "" {
		item["displayName"] = str(m.DisplayName)
	}
	if m.Memo != "" {
		item["memo"] = str(m.Memo)
	}
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: item}}, op{})
}

// ChargeLimit adds amount to the user's charge counter for the Asia/Seoul day
// of at, refusing to pass limit. The counter is keyed by the date, so the
// limit resets at 00:00 KST with no job.
func (tx *Tx) ChargeLimit(userID string, at time.Time, amount, limit int64) {
	date := clock.KSTDate(at)
	cond := "attribute_not_exists(charged) OR charged <= :room"
	if amount > limit {
		// Never allowed, not even as the day's first charge (no counter
		// yet): a condition that always fails, so the refusal still reads
		// the counter and says what is left today.
		cond = "charged <= :room"
	}
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                 key(prefixUser+userID, prefixLimit+date),
		UpdateExpression:    aws.String("ADD charged :amount SET expiresAt = :ttl"),
		ConditionExpression: aws.String(cond),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":amount": num(amount), ":room": num(limit - amount),
			":ttl": num(clock.NextKSTMidnight(at).Add(72 * time.Hour).Unix()),
		},
	}}, op{onFail: func(old map[string]types.AttributeValue) error {
		left := limit - getN(old, "charged")
		if left < 0 {
			left = 0
		}
		return problem.LimitExceeded.With("%d won can still be charged today (Asia/Seoul); %d asked", left, amount).
			WithExtra("remainingToday", left).WithExtra("limit", limit)
	}})
}

// dirKey is an entry's partition in the direction index.
func dirKey(accountID string, amount int64) string {
	if amount < 0 {
		return prefixHistory + accountID + "#" + DirectionOut
	}
	return prefixHistory + accountID + "#" + DirectionIn
}

// History directions.
const (
	DirectionIn  = "in"
	DirectionOut = "out"
)
