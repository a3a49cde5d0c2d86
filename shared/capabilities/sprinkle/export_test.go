package sprinkle

import (
	"context"
	"time"

	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// Test doors into the package's internals.

// CreateWithToken commits a sprinkle of amount in one share with the given
// token (the handler draws tokens at random).
func CreateWithToken(ctx context.Context, d httpapi.Services, roomID, sprinkler, token string, amount int64) error {
	now := d.Clock.Now().UTC()
	sp := sprinkle{ID: ddb.NewID("sp_"), RoomID: roomID, Token: token, Sprinkler: sprinkler, SprinklerName: "s", Split: SplitEqual,
		Amount: amount, Shares: []int64{amount}, CreatedAt: now, ClosesAt: now.Add(time.Minute)}
	tx := &ledger.Tx{}
	createTx(tx, sp, ledger.NewMovementID(now))
	return d.Ledger.Commit(ctx, tx)
}

// IsTokenTaken reports whether err is the token-in-use signal.
func IsTokenTaken(err error) bool { _, ok := err.(tokenTaken); return ok }

// ReclaimByToken runs the reclaim of one sprinkle, as a stale due entry would.
func ReclaimByToken(ctx context.Context, d httpapi.Services, roomID, token string) (int64, bool, error) {
	item, err := d.Table.Get(ctx, tokenKey(roomID, token))
	if err != nil {
		return 0, false, err
	}
	sp, err := sprinkleFromItem(item)
	if err != nil {
		return 0, false, err
	}
	return reclaim(ctx, d, sp, d.Clock.Now())
}

// MembershipKey is the key of a member's copy of a membership (USER#/ROOM#).
func MembershipKey(userID, roomID string) ddb.Item { return membershipKey(userID, roomID) }

// MemberKey is the key of a room's member item (ROOM#/MEMBER#).
func MemberKey(roomID, userID string) ddb.Item { return memberKey(roomID, userID) }
