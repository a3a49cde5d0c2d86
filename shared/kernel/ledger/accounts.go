package ledger

// Accounts, and the only expressions that write balance, held and
// available. Every update keeps available = balance - held in step, because
// a condition expression cannot do arithmetic: "available >= :amount" is the
// overdraft check.
//
//	item            PK                SK              notes
//	user account    USER#<owner>      ACCOUNT#<aid>   list mine = one Query; get = GetItem; a main
//	                                                  account id is derived from its owner's id
//	system account  SYSTEM#<aid>      ACCOUNT#<aid>   outside-world accounts (created on first use,
//	                                                  may go negative) and escrow accounts
//
// Both carry: accountId, owner, kind, name, createdAt, balance, held,
// available, rev (bumped by every write of balance, held or available: a
// read tells from it whether the item changed while it read the postings),
// and the history checkpoint (ckBalance, ckAsOf, due at DUE#checkpoint#nn
// by a hash of the id; see checkpoint.go).

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

// Kind is what an account is for. The kernel knows three; capabilities
// name their own.
type Kind string

const (
	KindMain    Kind = "main"     // a user's everyday account, derived from the user id
	KindOutside Kind = "external" // system: the world outside (banks, payment systems, interest expense)
	KindEscrow  Kind = "escrow"   // system: money on its way somewhere; never below zero
)

const (
	pkUser          = "USER#"
	pkSystem        = "SYSTEM#"
	skAccountPrefix = "ACCOUNT#"
)

// UserPK is the partition of a user's items: their accounts (here), and
// the user item, tokens and the capabilities' pointers beside them. The
// prefix is declared once, here, for every package that keys by user.
func UserPK(owner string) string { return pkUser + owner }

// AccountRef addresses an account without reading it.
type AccountRef struct {
	Owner string // user id; "" for a system account
	ID    string
	// outside: a system account standing for the world outside; updated
	// without conditions, created on first use, may go negative.
	outside bool
}

// UserAccount is one of a user's accounts.
func UserAccount(owner, id string) AccountRef { return AccountRef{Owner: owner, ID: id} }

// MainAccountID derives a user's main account id from their user id
// ("u_x" -> "m_x"), so paying a friend needs no lookup.
func MainAccountID(userID string) string { return "m_" + strings.TrimPrefix(userID, "u_") }

// MainAccount is a user's main account.
func MainAccount(userID string) AccountRef { return UserAccount(userID, MainAccountID(userID)) }

// SystemAccount is a system account that must exist (an escrow).
func SystemAccount(id string) AccountRef { return AccountRef{ID: id} }

// Outside is a system account standing for the world outside.
func Outside(id string) AccountRef { return AccountRef{ID: id, outside: true} }

// ExternalShards is how many items the bank-side outside account is spread
// over. Every charge and withdrawal writes one; a single item would be a hot
// key for the whole service. A user always uses the same shard.
const ExternalShards = 32

// ExternalAccount is the outside-world shard a user's bank money flows through.
func ExternalAccount(userID string) AccountRef {
	return Outside(fmt.Sprintf("sys_external_%02d", ddb.HashShard(userID, ExternalShards)))
}

// System reports whether the account is a system account.
func (a AccountRef) System() bool { return a.Owner == "" }

// Key is the account item's key.
func (a AccountRef) Key() ddb.Item {
	if a.System() {
		return ddb.Key(pkSystem+a.ID, skAccountPrefix+a.ID)
	}
	return ddb.Key(pkUser+a.Owner, skAccountPrefix+a.ID)
}

// Account is an account as read.
type Account struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner,omitempty"`
	Kind      Kind      `json:"kind"`
	Name      string    `json:"name,omitempty"`
	Balance   int64     `json:"balance"`
	Held      int64     `json:"held"`
	Available int64     `json:"available"`
	CreatedAt time.Time `json:"createdAt"`
	// Shards is how many partition keys the account's postings and
	// history are spread over (1: none; at most MaxShards): a high-volume
	// receiver is opened with more, or promoted to MaxShards by the fold
	// (postings.go). It never goes down.
	Shards int `json:"-"`
	// Attrs are the capability's own attributes set at creation.
	Attrs ddb.Item `json:"-"`

	checkpoint checkpoint
	rev        int64 // attrRev
}

// attrRev counts the writes of an account's balance, held and available.
const attrRev = "rev"

// maxReadAttempts bounds a read's tries at seeing the account item and its
// postings at one instant (readAccount, ListAccounts); then ErrBusy.
const maxReadAttempts = 8

// Ref is the account's address.
func (a Account) Ref() AccountRef {
	return AccountRef{Owner: a.Owner, ID: a.ID, outside: a.Kind == KindOutside}
}

var accountAttrs = map[string]bool{"accountId": true, "owner": true, "kind": true, "name": true, "balance": true,
	"held": true, "available": true, "createdAt": true, attrShards: true, attrCkBalance: true, attrCkAsOf: true, attrPockets: false, attrRev: true,
	ddb.AttrPK: true, ddb.AttrSK: true, ddb.AttrDuePK: true, ddb.AttrDueSK: true}

func accountFromItem(item ddb.Item) (Account, error) {
	d := ddb.Decode(item)
	a := Account{ID: d.MustS("accountId"), Owner: d.S("owner"), Kind: Kind(d.MustS("kind")), Name: d.S("name"),
		Balance: d.MustN("balance"), Held: d.N("held"), Available: d.MustN("available"), CreatedAt: d.Time("createdAt"),
		Shards: max(1, int(d.N(attrShards))), checkpoint: checkpoint{balance: d.N(attrCkBalance), asOf: d.S(attrCkAsOf)}, rev: d.N(attrRev)}
	for k, v := range item {
		if !accountAttrs[k] {
			if a.Attrs == nil {
				a.Attrs = ddb.Item{}
			}
			a.Attrs[k] = v
		}
	}
	return a, d.Err()
}

// CreateAccount adds a new account with a zero balance (it must not exist).
// attrs are the capability's own attributes (never the kernel's).
func (tx *Tx) CreateAccount(a Account, attrs ddb.Item) {
	ref := a.Ref()
	if a.ID == "" || a.Kind == "" || a.Kind == KindOutside {
		tx.Fail(fmt.Errorf("ledger: cannot create account %q of kind %q", a.ID, a.Kind))
		return
	}
	item := ref.Key()
	for k, v := range attrs {
		if accountAttrs[k] {
			tx.Fail(fmt.Errorf("ledger: attribute %s of account %s is the kernel's", k, a.ID))
			return
		}
		item[k] = v
	}
	item["accountId"] = ddb.S(a.ID)
	if a.Owner != "" {
		item["owner"] = ddb.S(a.Owner)
	}
	item["kind"] = ddb.S(string(a.Kind))
	item["name"] = ddb.S(a.Name)
	item["balance"] = ddb.N(0)
	item["held"] = ddb.N(0)
	item["available"] = ddb.N(0)
	item["createdAt"] = ddb.Time(a.CreatedAt)
	if a.Shards < 0 || a.Shards > MaxShards {
		tx.Fail(fmt.Errorf("ledger: account %s over %d shards (at most %d)", a.ID, a.Shards, MaxShards))
		return
	}
	if a.Shards > 1 {
		item[attrShards] = ddb.N(int64(a.Shards))
	}
	setCheckpointDue(item, a.ID, a.CreatedAt)
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		op{onFail: func(ddb.Item) error { return fmt.Errorf("ledger: id collision for account %s", a.ID) }})
}

// CreateEscrow adds a new escrow account holding amount, moved in from
// m.From by m (debit, entries): one of the ways money is set aside. pockets,
// if given, split it into amounts paid out once each (pockets.go); they
// must sum to m.Amount.
func (tx *Tx) CreateEscrow(id, name string, m Movement, pockets []int64) {
	m.To = SystemAccount(id)
	item := m.To.Key()
	item["accountId"] = ddb.S(id)
	item["kind"] = ddb.S(string(KindEscrow))
	item["name"] = ddb.S(name)
	item["balance"] = ddb.N(m.Amount)
	item["held"] = ddb.N(0)
	item["available"] = ddb.N(m.Amount)
	item["createdAt"] = ddb.Time(m.At)
	setCheckpointDue(item, id, m.At)
	if m.From == m.To || m.Amount <= 0 {
		tx.Fail(fmt.Errorf("ledger: bad escrow %s of %d", id, m.Amount))
		return
	}
	if pockets != nil {
		var total int64
		for _, p := range pockets {
			if p <= 0 {
				tx.Fail(fmt.Errorf("ledger: escrow %s: a pocket of %d", id, p))
				return
			}
			total += p
		}
		if total != m.Amount || len(pockets) > MaxPockets {
			tx.Fail(fmt.Errorf("ledger: escrow %s: %d pockets sum to %d, not %d", id, len(pockets), total, m.Amount))
			return
		}
		item[attrPockets] = ddb.Ints(pockets)
	}
	tx.debit(m.From, m.FromKind, m.Amount, m.ID, m.At)
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		op{onFail: func(ddb.Item) error { return fmt.Errorf("ledger: id collision for account %s", id) }})
	tx.entries(m)
}

// RequireAccount requires the account to exist (of kind, unless kind is
// ""). It adds no item to the transaction: Commit checks it with one read,
// once per account and process (accounts are never deleted and never change
// kind, so a fact seen once stays true), and a busy account's item is never
// part of someone else's transaction.
func (tx *Tx) RequireAccount(a AccountRef, kind Kind) {
	tx.verify = append(tx.verify, verification{a, kind})
}

// GetAccount reads one of the user's accounts (strongly consistent).
// Someone else's account is not under this user's key: ErrAccountNotFound.
func (l *Ledger) GetAccount(ctx context.Context, owner, id string) (Account, error) {
	return l.getAccount(ctx, UserAccount(owner, id), fmt.Sprintf("you have no account %s", id))
}

// OwnsAccount checks that the user has the account (ErrAccountNotFound
// otherwise) with one GetItem of its key, reading no balance, and says
// over how many shards its credits (postings and history) are spread.
func (l *Ledger) OwnsAccount(ctx context.Context, owner, id string) (shards int, err error) {
	a := UserAccount(owner, id)
	item, err := l.table.Get(ctx, a.Key())
	switch {
	case err != nil:
		return 0, err
	case item == nil:
		return 0, ErrAccountNotFound.With("you have no account %s", id)
	}
	l.known.put(knownKey(a), knownFromItem(item))
	return max(1, int(ddb.Decode(item).N(attrShards))), nil
}

// GetSystemAccount reads a system account (an escrow).
func (l *Ledger) GetSystemAccount(ctx context.Context, id string) (Account, error) {
	return l.getAccount(ctx, SystemAccount(id), fmt.Sprintf("no system account %s", id))
}

// getAccount reads the account and its unfolded postings as they were at
// one instant: the item, then the postings, then the item again; if the
// item's rev moved meanwhile (a fold, or any other write of its balance),
// again from the newer item. Otherwise a fold committing between the two
// reads would count its postings twice or not at all. Three round trips
// (a GetItem, a Query, a GetItem); a balance that existed.
func (l *Ledger) getAccount(ctx context.Context, a AccountRef, missing string) (Account, error) {
	item, err := l.table.Get(ctx, a.Key())
	for attempt := 0; err == nil && item != nil && attempt < maxReadAttempts; attempt++ {
		// The item's own shard count, never a remembered one: if a fold
		// promotes the account after this read, it bumps rev too, so the
		// second read sees the move and the next try reads every shard.
		var postings []ddb.Item
		if postings, err = l.unfoldedShards(ctx, a, 0, max(1, int(ddb.Decode(item).N(attrShards))), 0); err != nil {
			break
		}
		var again ddb.Item
		if again, err = l.table.Get(ctx, a.Key()); err != nil || again == nil {
			break
		}
		if ddb.Decode(again).N(attrRev) != ddb.Decode(item).N(attrRev) {
			item = again // it changed while the postings were read: again
			continue
		}
		acct, err := accountFromItem(item)
		if err != nil {
			return Account{}, err
		}
		l.known.put(knownKey(a), knownFromItem(item))
		unfolded, err := sum(postings)
		acct.Balance += unfolded
		acct.Available += unfolded
		return acct, err
	}
	switch {
	case err != nil:
		return Account{}, err
	case item == nil:
		return Account{}, ErrAccountNotFound.With("%s", missing)
	}
	return Account{}, Busy()
}

// ListAccounts returns all of the user's accounts with their unfolded
// postings, as they were at one instant: the accounts (one Query), the
// postings (one Query), the accounts again; if any account's rev moved (or
// an account was opened) meanwhile, again from the newer accounts.
func (l *Ledger) ListAccounts(ctx context.Context, owner string) ([]Account, error) {
	accounts, err := l.queryAccounts(ctx, owner)
	for attempt := 0; err == nil && attempt < maxReadAttempts; attempt++ {
		var sums map[string]int64
		if sums, err = l.unfoldedSumsAll(ctx, owner, accounts); err != nil {
			break
		}
		var again []Account
		if again, err = l.queryAccounts(ctx, owner); err != nil {
			break
		}
		if !sameRevs(accounts, again) {
			accounts = again
			continue
		}
		for i := range accounts {
			accounts[i].Balance += sums[accounts[i].ID]
			accounts[i].Available += sums[accounts[i].ID]
		}
		return accounts, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: list accounts: %w", err)
	}
	return nil, Busy()
}

// queryAccounts is the user's account items (one strongly consistent Query).
func (l *Ledger) queryAccounts(ctx context.Context, owner string) ([]Account, error) {
	accounts := []Account{}
	q := l.table.Query(&dynamodb.QueryInput{
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": ddb.S(pkUser + owner), ":sk": ddb.S(skAccountPrefix),
		},
		ConsistentRead: aws.Bool(true),
	})
	for q.Next(ctx) {
		a, err := accountFromItem(q.Item())
		if err != nil {
			return accounts, err
		}
		accounts = append(accounts, a)
	}
	return accounts, q.Err()
}

// unfoldedSumsAll adds the owner's unfolded postings per account over
// every posting shard its accounts use (one Query per shard, at once).
func (l *Ledger) unfoldedSumsAll(ctx context.Context, owner string, accounts []Account) (map[string]int64, error) {
	shards := 1
	for _, a := range accounts {
		shards = max(shards, a.Shards)
	}
	per := make([]map[string]int64, shards)
	errs := make([]error, shards)
	var wg sync.WaitGroup
	for n := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			per[n], errs[n] = l.unfoldedSums(ctx, owner, n)
		}()
	}
	wg.Wait()
	sums := map[string]int64{}
	for n := range shards {
		if errs[n] != nil {
			return nil, errs[n]
		}
		for id, v := range per[n] {
			sums[id] += v
		}
	}
	return sums, nil
}

// sameRevs: the same accounts (in key order), none written in between.
func sameRevs(a, b []Account) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].rev != b[i].rev {
			return false
		}
	}
	return true
}

// ---- the only writes of balance, held and available ----

// change is one conditional update of an account item.
type change struct {
	a                        AccountRef
	kind                     Kind  // required kind; "" any
	balance, held, available int64 // deltas
	// need: available >= need beforehand (0: no funds check).
	need int64
	// exact, for a top-up: available beforehand in [lo, hi]; the top-up
	// was computed from it (otherwise *TopUpStaleError).
	exact  bool
	lo, hi int64
	// heldAtLeast: held >= heldAtLeast beforehand (a hold being resolved).
	heldAtLeast int64
	// at and mid: when, and the movement (a posting is keyed by it).
	at  time.Time
	mid string
	// fold is the sum of the account's unfolded postings folded in by the
	// same update (see postings.go): it joins the balance, and the funds
	// conditions hold for stored available + fold.
	fold int64
	// promote: the same update sets shards to MaxShards (a fold that finds
	// a high-volume receiver, postings.go), and bumps rev even if nothing
	// moves.
	promote bool
}

func (tx *Tx) apply(c change) {
	if c.balance-c.held != c.available {
		tx.Fail(fmt.Errorf("ledger: change of %s breaks available = balance - held", c.a.ID))
		return
	}
	if c.a.outside {
		tx.posting(c.a, c.balance, c.mid, c.at)
		return
	}
	item, o := c.item()
	if c.need > 0 || c.exact {
		tx.changes = append(tx.changes, indexedChange{len(tx.items), c})
	}
	tx.add(item, o)
}

// item is the change as a transaction item: an Update of the account, or a
// ConditionCheck when nothing moves.
func (c change) item() (types.TransactWriteItem, op) {
	c.balance, c.available = c.balance+c.fold, c.available+c.fold
	var adds []string
	vals := ddb.Item{}
	for _, f := range []struct {
		name  string
		delta int64
	}{{"balance", c.balance}, {"held", c.held}, {"available", c.available}} {
		if f.delta != 0 {
			adds = append(adds, f.name+" :d_"+f.name)
			vals[":d_"+f.name] = ddb.N(f.delta)
		}
	}
	cond := "attribute_exists(PK)"
	if c.kind != "" {
		cond += " AND kind = :kind"
		vals[":kind"] = ddb.S(string(c.kind))
	}
	switch {
	case c.exact:
		cond += " AND available BETWEEN :lo AND :hi"
		vals[":lo"], vals[":hi"] = ddb.N(c.lo-c.fold), ddb.N(c.hi-c.fold)
	case c.need-c.fold > 0:
		cond += " AND available >= :need"
		vals[":need"] = ddb.N(c.need - c.fold)
	}
	if c.heldAtLeast > 0 {
		cond += " AND held >= :heldmin"
		vals[":heldmin"] = ddb.N(c.heldAtLeast)
	}
	if len(adds) > 0 || c.promote {
		adds = append(adds, attrRev+" :one")
		vals[":one"] = ddb.N(1)
	}
	set := ""
	if c.promote {
		set = " SET " + attrShards + " = :shards"
		vals[":shards"] = ddb.N(MaxShards)
	}
	if len(adds) == 0 {
		// Nothing moves (a top-up that exactly pays for the payment): the
		// conditions still hold the transaction to what it was built on.
		return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			Key: c.a.Key(), ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
		}}, op{onFail: c.refused}
	}
	return types.TransactWriteItem{Update: &types.Update{
		Key: c.a.Key(), UpdateExpression: aws.String("ADD " + strings.Join(adds, ", ") + set),
		ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
	}}, op{onFail: c.refused}
}

// refused reads a failed change: which of its facts was false.
func (c change) refused(old ddb.Item) error {
	if err := missingOrKind(c.a, c.kind)(old); err != nil {
		return err
	}
	d := ddb.Decode(old)
	available, held := d.N("available")+c.fold, d.N("held")
	switch {
	case c.exact && (available < c.lo || available > c.hi):
		return &TopUpStaleError{Account: c.a.ID, Available: available}
	case c.need > 0 && available < c.need:
		return &InsufficientFundsError{Account: c.a.ID, Available: available, Needed: c.need}
	case c.heldAtLeast > 0 && held < c.heldAtLeast:
		return fmt.Errorf("ledger: account %s holds %d, cannot resolve a hold of %d", c.a.ID, held, c.heldAtLeast)
	}
	return fmt.Errorf("ledger: account %s changed under the transaction", c.a.ID)
}

func missingOrKind(a AccountRef, kind Kind) OnFail {
	return func(old ddb.Item) error {
		if len(old) == 0 {
			if a.System() {
				return ErrAccountNotFound.With("account %s does not exist", a.ID)
			}
			return ErrAccountNotFound.With("account %s does not exist or is not its owner's", a.ID)
		}
		if got := Kind(keyString(old, "kind")); kind != "" && got != kind {
			return &WrongKindError{Account: a.ID, Kind: got, Want: kind}
		}
		return nil
	}
}

// debit takes amount out of a (available >= amount unless outside).
func (tx *Tx) debit(a AccountRef, kind Kind, amount int64, mid string, at time.Time) {
	tx.apply(change{a: a, kind: kind, balance: -amount, available: -amount, need: amount, at: at, mid: mid})
}

// credit puts amount into a. A user's account (it must exist, of kind) or
// an outside account gets an immutable posting instead of an update of its
// item, so credits to a busy account never contend (postings.go); an escrow,
// and a user's account the caller says is never busy (inPlace), is updated
// in place.
func (tx *Tx) credit(a AccountRef, kind Kind, amount int64, mid string, at time.Time, inPlace bool) {
	if !a.System() && !inPlace {
		tx.verify = append(tx.verify, verification{a, kind})
		tx.posting(a, amount, mid, at)
		return
	}
	tx.apply(change{a: a, kind: kind, balance: amount, available: amount, at: at, mid: mid})
}

// debitAfterTopUp is a top-up of topUp into a and a debit of amount, as ONE
// update (DynamoDB refuses two updates of one item in a transaction). The
// top-up was computed as TopUpFor(amount, available, step); the condition
// re-checks that available: it must still need exactly this top-up.
func (tx *Tx) debitAfterTopUp(a AccountRef, kind Kind, amount, topUp, step int64) {
	lo, hi := topUpRange(amount, topUp, step)
	tx.apply(change{a: a, kind: kind, balance: topUp - amount, available: topUp - amount, exact: true, lo: lo, hi: hi})
}

// holdOn reserves amount on a: held up, available down, balance unchanged.
func (tx *Tx) holdOn(a AccountRef, kind Kind, amount int64) {
	tx.apply(change{a: a, kind: kind, held: amount, available: -amount, need: amount})
}

// holdAfterTopUp is a top-up into a and a hold of amount on it, as ONE
// update, exact like debitAfterTopUp.
func (tx *Tx) holdAfterTopUp(a AccountRef, kind Kind, amount, topUp, step int64) {
	lo, hi := topUpRange(amount, topUp, step)
	tx.apply(change{a: a, kind: kind, balance: topUp, held: amount, available: topUp - amount, exact: true, lo: lo, hi: hi})
}

// release gives a hold of amount back to available.
func (tx *Tx) release(a AccountRef, amount int64) {
	tx.apply(change{a: a, held: -amount, available: amount, heldAtLeast: amount})
}

// postHeld takes posted out of a hold of held (posted <= held): the balance
// goes down by posted, the whole hold is lifted, the rest is available again.
func (tx *Tx) postHeld(a AccountRef, held, posted int64) {
	tx.apply(change{a: a, balance: -posted, held: -held, available: held - posted, heldAtLeast: held})
}

// outsideUpdate moves an outside-world account without a condition: it
// stands for money outside minipay and may go negative. The item (and its
// checkpoint) is created on first use.
func outsideUpdate(a AccountRef, delta int64, now time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		Key: a.Key(),
		UpdateExpression: aws.String("ADD balance :d, available :d, rev :one SET kind = if_not_exists(kind, :kind), accountId = if_not_exists(accountId, :id), " +
			"held = if_not_exists(held, :zero), ckBalance = if_not_exists(ckBalance, :zero), createdAt = if_not_exists(createdAt, :at), " +
			"dueBucket = if_not_exists(dueBucket, :bucket), dueAt = if_not_exists(dueAt, :due)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":d": ddb.N(delta), ":one": ddb.N(1), ":kind": ddb.S(string(KindOutside)), ":id": ddb.S(a.ID), ":zero": ddb.N(0),
			":at": ddb.Time(now), ":bucket": ddb.S(dueCheckpoint.Bucket(a.ID)), ":due": ddb.S(ddb.DueAt(now.Add(CheckpointEvery), a.ID)),
		},
	}}
}
