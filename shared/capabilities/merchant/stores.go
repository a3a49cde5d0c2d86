package merchant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"minipay/shared/capabilities/webhooks"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// Store is a store as stored.
type Store struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	AccountID string `json:"accountId"`
	// ReserveAccountID holds captured payments for their refund window.
	ReserveAccountID string    `json:"reserveAccountId"`
	CreatedAt        time.Time `json:"createdAt"`
	Owner            string    `json:"-"`
	// Shards: how many partitions its order pointers and status copies
	// are spread over (1: a store from before shards).
	Shards int `json:"-"`
}

// StoreResponse is a store as GET /stores/{id} answers it: to its owner
// with the merchant account (withdrawable) and the reserve account (the
// captured payments still in their refund window).
type StoreResponse struct {
	Store
	Account *ledger.Account `json:"account,omitempty"`
	Reserve *ledger.Account `json:"reserve,omitempty"`
}

func storeFromItem(item ddb.Item) (Store, error) {
	d := ddb.Decode(item)
	s := Store{ID: d.MustS("storeId"), Name: d.MustS("name"), Status: d.MustS("status"), AccountID: d.MustS("accountId"),
		CreatedAt: d.MustTime("createdAt"), Owner: d.MustS("owner"), Shards: max(1, int(d.N("shards")))}
	s.ReserveAccountID = ReserveAccountID(s.ID)
	return s, d.Err()
}

// getStore reads a store (strongly consistent).
func getStore(ctx context.Context, t *ddb.Table, id string) (Store, error) {
	if !ValidStoreID(id) {
		return Store{}, ErrStoreNotFound.With("no store %q", id)
	}
	item, err := t.Get(ctx, storeKey(id))
	if err != nil {
		return Store{}, err
	}
	if item == nil {
		return Store{}, ErrStoreNotFound.With("no store %s", id)
	}
	return storeFromItem(item)
}

// facts is a store's immutable facts (owner, account, name, shards), cached
// per warm function instance so placing an order costs one request. The
// order's transaction re-checks them (and that the store is open) on the
// status copy of the order's shard (the store item for a store from
// before shards).
type facts struct {
	mu sync.Mutex
	m  map[string]Store
}

var storeFacts = &facts{m: map[string]Store{}}

const maxCachedStores = 10_000

func (f *facts) get(ctx context.Context, t *ddb.Table, id string) (Store, error) {
	k := t.Name + "/" + id
	f.mu.Lock()
	s, ok := f.m[k]
	f.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := getStore(ctx, t, id)
	if err != nil {
		return s, err
	}
	f.mu.Lock()
	if len(f.m) >= maxCachedStores {
		f.m = map[string]Store{}
	}
	f.m[k] = s
	f.mu.Unlock()
	return s, nil
}

// requireOpen adds a check that the store is open, with the facts read: on
// the status copy of the order's shard (no order touches the store item),
// or on the store item for a store from before shards.
func requireOpen(tx *ledger.Tx, s Store, orderID string) {
	key := storeKey(s.ID)
	if s.Shards > 1 {
		key = statusKey(s.ID, storeShard(orderID, s.Shards))
	}
	tx.Check(key, ledger.Cond{
		Expr:   "#s = :open AND #o = :owner AND accountId = :acct",
		Names:  map[string]string{"#s": "status", "#o": "owner"},
		Values: ddb.Item{":open": ddb.S(StoreOpen), ":owner": ddb.S(s.Owner), ":acct": ddb.S(s.AccountID)},
	}, func(old ddb.Item) error {
		if len(old) == 0 {
			return ErrStoreNotFound.With("no store %s", s.ID)
		}
		if ddb.Decode(old).S("status") == StoreClosed {
			return ErrStoreClosed.With("store %s is closed and takes no orders", s.ID)
		}
		return ErrStoreNotFound.With("store %s is not the one read", s.ID)
	})
}

// statusCopies puts every shard's status copy of s with status.
func statusCopies(tx *ledger.Tx, s Store, status string, now time.Time) {
	if s.Shards <= 1 {
		return
	}
	for n := 0; n < s.Shards; n++ {
		item := statusKey(s.ID, n)
		item["storeId"] = ddb.S(s.ID)
		item["status"] = ddb.S(status)
		item["owner"] = ddb.S(s.Owner)
		item["accountId"] = ddb.S(s.AccountID)
		item["updatedAt"] = ddb.Time(now)
		tx.Put(item, ledger.Cond{}, nil)
	}
}

// CreateStoreRequest is POST /stores.
type CreateStoreRequest struct {
	Name httpapi.NameField `json:"name" openapi:"required"`
}

// CreateStore is POST /stores {name}: the store item, its merchant
// account (kind merchant) and its reserve account (kind merchant_reserve),
// both owned by the caller, counted against MaxStores, in one transaction.
func CreateStore(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "create-store", httpapi.Body(func(ctx context.Context, r *httpapi.Request, in CreateStoreRequest) (*httpapi.Response, error) {
		name := string(in.Name)
		now := d.Clock.Now().UTC()
		id := ddb.NewID(prefixStore)
		s := Store{ID: id, Name: name, Status: StoreOpen, AccountID: AccountID(id), ReserveAccountID: ReserveAccountID(id), CreatedAt: now,
			Owner: r.Caller, Shards: StoreShards}
		// The markers first (webhooks.MarkNoEndpoints); a store left
		// without them writes its orders' webhook events: the sweep's
		// work, nothing lost.
		marked := true
		if err := webhooks.MarkNoEndpoints(ctx, d.Ledger, id, now); err != nil {
			marked = false
			d.Log.WarnContext(ctx, "merchant: a new store's no-endpoint markers", "store", id, "error", err)
		}
		tx := &ledger.Tx{}
		tx.Update(ddb.Key(ledger.UserPK(r.Caller), skStoreCount), "ADD storeCount :one", ledger.Cond{
			Expr:   "attribute_not_exists(storeCount) OR storeCount < :max",
			Values: ddb.Item{":one": ddb.N(1), ":max": ddb.N(MaxStores)},
		}, func(ddb.Item) error { return ErrTooManyStores.With("a user may have at most %d stores", MaxStores) })
		item := storeKey(id)
		item["storeId"] = ddb.S(id)
		item["name"] = ddb.S(name)
		item["owner"] = ddb.S(r.Caller)
		item["accountId"] = ddb.S(s.AccountID)
		item["status"] = ddb.S(StoreOpen)
		item["createdAt"] = ddb.Time(now)
		item["shards"] = ddb.N(int64(s.Shards))
		tx.Put(item, ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(ddb.Item) error { return errCollision(id) })
		statusCopies(tx, s, StoreOpen, now)
		// A store's accounts are high-volume receivers (the reserve takes
		// every capture; the merchant account every release, at the same
		// rate a refund window later): their credits are postings spread
		// over the ledger's shards.
		tx.CreateAccount(ledger.Account{ID: s.AccountID, Owner: r.Caller, Kind: KindMerchant, Name: name, CreatedAt: now, Shards: ledger.MaxShards},
			ddb.Item{"storeId": ddb.S(id)})
		tx.CreateAccount(ledger.Account{ID: s.ReserveAccountID, Owner: r.Caller, Kind: KindReserve, Name: name + " (reserve)", CreatedAt: now,
			Shards: ledger.MaxShards}, ddb.Item{"storeId": ddb.S(id)})
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			if marked {
				if derr := webhooks.DropMarkers(ctx, d.Ledger, id); derr != nil {
					d.Log.WarnContext(ctx, "merchant: a refused store's no-endpoint markers", "store", id, "error", derr)
				}
			}
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, s)
	}))
}

func errCollision(id string) error { return fmt.Errorf("merchant: id collision for %s", id) }

// GetStore is GET /stores/{id}: any user sees its name and status (to
// order from it); its owner also sees the merchant account.
func GetStore(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "get-store", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		s, err := getStore(ctx, d.Table, r.PathParam("id"))
		if err != nil {
			return nil, err
		}
		out := StoreResponse{Store: s}
		if s.Owner == r.Caller {
			var reserve ledger.Account
			wait := httpapi.Async(func() (err error) {
				reserve, err = d.Ledger.GetAccount(ctx, s.Owner, s.ReserveAccountID)
				return err
			})
			a, err := d.Ledger.GetAccount(ctx, s.Owner, s.AccountID)
			reserveErr := wait()
			if err != nil {
				return nil, err
			}
			out.Account = &a
			switch {
			case reserveErr == nil:
				out.Reserve = &reserve
			case !errors.Is(reserveErr, ledger.ErrAccountNotFound): // a store older than reserves has none until its first capture
				return nil, reserveErr
			}
		}
		return httpapi.JSON(http.StatusOK, out)
	})
}

// StoreStatusRequest is PUT /stores/{id}/status.
type StoreStatusRequest struct {
	Status string `json:"status"`
}

// SetStoreStatus is PUT /stores/{id}/status {status: open|closed}: one
// transaction, the store item's conditional update (the caller must own the
// store) and every shard's status copy. Orders already placed go on; a
// closed store takes no new ones (every placement checks its shard's copy).
func SetStoreStatus(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "set-store-status", httpapi.Body(func(ctx context.Context, r *httpapi.Request, in StoreStatusRequest) (*httpapi.Response, error) {
		if in.Status != StoreOpen && in.Status != StoreClosed {
			return nil, domainerr.Field("status", "status must be %q or %q", StoreOpen, StoreClosed)
		}
		id := r.PathParam("id")
		if !ValidStoreID(id) {
			return nil, ErrStoreNotFound.With("no store %q", id)
		}
		s, err := storeFacts.get(ctx, d.Table, id)
		if err != nil {
			return nil, err
		}
		if s.Owner != r.Caller {
			return nil, ErrNotStoreOwner.With("store %s is not yours", id)
		}
		now := d.Clock.Now().UTC()
		tx := &ledger.Tx{}
		statusCopies(tx, s, in.Status, now)
		tx.Update(storeKey(id), "SET #s = :s, updatedAt = :now", ledger.Cond{
			Expr: "#o = :caller", Names: map[string]string{"#s": "status", "#o": "owner"},
			Values: ddb.Item{":s": ddb.S(in.Status), ":now": ddb.Time(now), ":caller": ddb.S(r.Caller)},
		}, func(old ddb.Item) error {
			if len(old) == 0 {
				return ErrStoreNotFound.With("no store %s", id)
			}
			return ErrNotStoreOwner.With("store %s is not yours", id)
		})
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, map[string]any{"id": id, "status": in.Status, "updatedAt": now})
	}))
}

// WithdrawRequest is POST /stores/{id}/withdrawals.
type WithdrawRequest struct {
	Amount httpapi.Won  `json:"amount" openapi:"required"`
	Memo   httpapi.Memo `json:"memo,omitempty"`
}

// WithdrawResponse is what a withdrawal returns (and replays).
type WithdrawResponse struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Store     string    `json:"store"`
	From      string    `json:"from"`
	Amount    int64     `json:"amount"`
	Memo      string    `json:"memo,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Withdraw is POST /stores/{id}/withdrawals {amount, memo?}: the merchant
// account out to its owner's bank, one transaction, no read (the account's
// key names its owner: another user's store is not found). Only the
// merchant account is withdrawn: captured payments are in the reserve
// account until their refund window closes, so a refund is never short
// for a withdrawal (a withdrawal past the merchant account's available is
// a 422 insufficient_funds that says so).
func Withdraw(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "withdraw-store", httpapi.MoneyBody(d, func(ctx context.Context, r *httpapi.Request, in WithdrawRequest) (*httpapi.Movement, error) {
		amount, memo := in.Amount.Int64(), string(in.Memo)
		id := r.PathParam("id")
		if !ValidStoreID(id) {
			return nil, ErrStoreNotFound.With("no store %q", id)
		}
		now := d.Clock.Now()
		m := ledger.Movement{ID: ledger.NewMovementID(now), Type: TypeMerchantWithdrawal, Amount: amount, Memo: memo, At: now,
			From: ledger.UserAccount(r.Caller, AccountID(id)), FromKind: KindMerchant, FromLabel: r.Caller,
			To: ledger.ExternalAccount(r.Caller), ToLabel: ledger.LabelBank, Reference: "store " + id}
		tx := &ledger.Tx{}
		tx.Move(m)
		body := WithdrawResponse{ID: m.ID, Type: m.Type, Store: id, From: m.From.ID, Amount: amount, Memo: memo, CreatedAt: now.UTC()}
		return &httpapi.Movement{Tx: tx, Status: http.StatusCreated, Body: body, Retry: func(_ context.Context, err error) (*httpapi.Movement, error) {
			var short *ledger.InsufficientFundsError
			switch {
			case errors.Is(err, ledger.ErrAccountNotFound):
				return nil, ErrStoreNotFound.With("you have no store %s", id)
			case errors.As(err, &short) && short.Account == m.From.ID:
				return nil, &WithdrawFundsError{Account: m.From.ID, Available: short.Available, Asked: amount}
			}
			return nil, nil
		}}, nil
	}))
}
