package sprinkle

// Rooms. Items, in the room's own partition:
//
//	item           PK           SK              notes
//	room           ROOM#<rid>   META            name, createdBy, createdAt, memberCount
//	member         ROOM#<rid>   MEMBER#<uid>    userId, addedBy, joinedAt; exists = is a member
//	sprinkle token ROOM#<rid>   TOKEN#<token>   see sprinkle.go
//	membership     USER#<uid>   ROOM#<rid>      roomId, joinedAt: the member's copy, in their own partition
//
// Membership is a plain item so a transaction can ConditionCheck it. The
// room item counts members so the cap holds under concurrency; the member
// list is paged (one Query per page).
//
// The member item is the authority (every transaction checks it). The
// membership copy is what a claim reads: 3,000 members claiming at once
// would otherwise read one partition, ROOM#<rid>, 3,000 times. The copy is
// put and deleted in the very transactions that put and delete the member
// item, so the two agree. A member added before the copies existed has
// none: a claim that finds no copy reads the member item instead.

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

const (
	pkRoom       = "ROOM#"
	skRoomPfx    = "ROOM#"
	skMemberPfx  = "MEMBER#"
	skMeta       = "META"
	skTokenPfx   = "TOKEN#"
	MaxRoomName  = 100
	listMembers  = "room-members"
	defaultLimit = 100
)

// MaxRoomMembers caps a room: large enough for a 3,000-member sprinkle,
// small enough that one room cannot grow without bound.
const MaxRoomMembers = 5000

// Refusals.
var (
	ErrRoomNotFound = domainerr.New("room_not_found")
	ErrNotAMember   = domainerr.New("not_a_member")
	ErrRoomFull     = domainerr.New("room_full")
)

// NewRoomID is an unguessable room id.
func NewRoomID() string { return ddb.NewID("r_") }

// Room is a chat room.
type Room struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	CreatedBy   string    `json:"createdBy"`
	CreatedAt   time.Time `json:"createdAt"`
	MemberCount int64     `json:"memberCount"`
}

// Member is one member of a room.
type Member struct {
	UserID   string    `json:"userId"`
	AddedBy  string    `json:"addedBy,omitempty"`
	JoinedAt time.Time `json:"joinedAt"`
}

func roomKey(id string) ddb.Item { return ddb.Key(pkRoom+id, skMeta) }

func memberKey(roomID, userID string) ddb.Item { return ddb.Key(pkRoom+roomID, skMemberPfx+userID) }

func memberItem(roomID, userID, addedBy string, at time.Time) ddb.Item {
	item := memberKey(roomID, userID)
	item["roomId"] = ddb.S(roomID)
	item["userId"] = ddb.S(userID)
	item["addedBy"] = ddb.S(addedBy)
	item["joinedAt"] = ddb.Time(at)
	return item
}

// membershipKey is the member's copy of a membership, in their partition.
func membershipKey(userID, roomID string) ddb.Item {
	return ddb.Key(ledger.UserPK(userID), skRoomPfx+roomID)
}

func membershipItem(roomID, userID string, at time.Time) ddb.Item {
	item := membershipKey(userID, roomID)
	item["roomId"] = ddb.S(roomID)
	item["joinedAt"] = ddb.Time(at)
	return item
}

// requireMember adds a check that userID is a member of roomID.
func requireMember(tx *ledger.Tx, roomID, userID string) {
	tx.Check(memberKey(roomID, userID), ledger.Cond{Expr: "attribute_exists(PK)"}, func(ddb.Item) error {
		return ErrNotAMember.With("you are not a member of room %s", roomID)
	})
}

func roomID(r *httpapi.Request) (string, error) {
	id := r.PathParam("id")
	if !ddb.ValidID(id, "r_") {
		return "", ErrRoomNotFound.With("no room %q", id)
	}
	return id, nil
}

// RoomResponse is a room with a page of its members.
type RoomResponse struct {
	Room
	Members    []Member `json:"members"`
	NextCursor string   `json:"nextCursor,omitempty"`
}

// CreateRoomRequest is the body of POST /rooms.
type CreateRoomRequest struct {
	Name string `json:"name" openapi:"required,minLength=1,maxLength=100" doc:"the room's name"`
}

// CreateRoom is POST /rooms {name}: the caller becomes the first member.
func CreateRoom(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "create-room", httpapi.Body(func(ctx context.Context, r *httpapi.Request, in CreateRoomRequest) (*httpapi.Response, error) {
		name, err := httpapi.Name("name", in.Name, MaxRoomName, true)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		room := Room{ID: NewRoomID(), Name: name, CreatedBy: r.Caller, CreatedAt: now, MemberCount: 1}
		meta := roomKey(room.ID)
		meta["roomId"] = ddb.S(room.ID)
		meta["name"] = ddb.S(room.Name)
		meta["createdBy"] = ddb.S(room.CreatedBy)
		meta["createdAt"] = ddb.Time(now)
		meta["memberCount"] = ddb.N(1)
		collision := func(ddb.Item) error { return fmt.Errorf("sprinkle: id collision for room %s", room.ID) }
		tx := &ledger.Tx{}
		notExists := ledger.Cond{Expr: "attribute_not_exists(PK)"}
		tx.Put(meta, notExists, collision)
		tx.Put(memberItem(room.ID, r.Caller, r.Caller, now), notExists, collision)
		tx.Put(membershipItem(room.ID, r.Caller, now), ledger.Cond{}, nil)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, RoomResponse{Room: room, Members: []Member{{UserID: r.Caller, AddedBy: r.Caller, JoinedAt: now}}})
	}))
}

var errAlreadyMember = fmt.Errorf("sprinkle: already a member")

// AddMemberRequest is the body of POST /rooms/{id}/members.
type AddMemberRequest struct {
	UserID string `json:"userId" openapi:"required" doc:"the user to add"`
}

// MemberAdded is what POST /rooms/{id}/members returns. The fields are in
// the order the response had as a map (sorted keys).
type MemberAdded struct {
	Added  bool   `json:"added" doc:"false: the user already was a member (200)"`
	RoomID string `json:"roomId"`
	UserID string `json:"userId"`
}

// MemberLeft is what DELETE /rooms/{id}/members/me returns.
type MemberLeft struct {
	Left   bool   `json:"left"`
	RoomID string `json:"roomId"`
	UserID string `json:"userId"`
}

// AddMember is POST /rooms/{id}/members {userId}: a member adds a user who
// exists, while the room has room (all checked in one transaction).
// Adding an existing member is idempotent: 200, "added": false.
func AddMember(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "add-room-member", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		var in AddMemberRequest
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		if !users.ValidUserID(in.UserID) {
			return nil, domainerr.Field("userId", "userId must be a user id, such as u_0123456789abcdef")
		}
		tx := &ledger.Tx{}
		requireMember(tx, rid, r.Caller)
		added := in.UserID != r.Caller // adding oneself: only a member may, and a member already is one
		if added {
			users.RequireUser(tx, in.UserID)
			now := d.Clock.Now()
			tx.Put(memberItem(rid, in.UserID, r.Caller, now), ledger.Cond{Expr: "attribute_not_exists(PK)"},
				func(ddb.Item) error { return errAlreadyMember })
			tx.Put(membershipItem(rid, in.UserID, now), ledger.Cond{}, nil)
			tx.Update(roomKey(rid), "ADD memberCount :one", ledger.Cond{
				Expr: "attribute_exists(PK) AND memberCount < :max", Values: ddb.Item{":one": ddb.N(1), ":max": ddb.N(MaxRoomMembers)},
			}, func(ddb.Item) error {
				return ErrRoomFull.With("room %s has %d members, the most a room may have", rid, MaxRoomMembers)
			})
		}
		err = d.Ledger.Commit(ctx, tx)
		if err == errAlreadyMember {
			added, err = false, nil
		}
		if err != nil {
			return nil, err
		}
		status := http.StatusOK
		if added {
			status = http.StatusCreated
		}
		return httpapi.JSON(status, MemberAdded{RoomID: rid, UserID: in.UserID, Added: added})
	})
}

// LeaveRoom is DELETE /rooms/{id}/members/me: the caller leaves. Leaving a
// room one is not in is 404 room_not_found (nobody learns of others' rooms).
func LeaveRoom(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "leave-room", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		tx := &ledger.Tx{}
		tx.Delete(memberKey(rid, r.Caller), ledger.Cond{Expr: "attribute_exists(PK)"}, func(ddb.Item) error {
			return ErrRoomNotFound.With("you are not a member of a room %s", rid)
		})
		tx.Delete(membershipKey(r.Caller, rid), ledger.Cond{}, nil) // none for a member added before the copies
		tx.Update(roomKey(rid), "ADD memberCount :minus", ledger.Cond{Values: ddb.Item{":minus": ddb.N(-1)}}, nil)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, MemberLeft{RoomID: rid, UserID: r.Caller, Left: true})
	})
}

// GetRoom is GET /rooms/{id}?limit=&cursor=: members only; the room and
// one page of its members (oldest user id first).
func GetRoom(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "get-room", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		if r.QueryParam("limit") == "" {
			page.Limit = defaultLimit
		}
		notFound := ErrRoomNotFound.With("you are not a member of a room %s", rid)
		// The caller's membership and the room: one read each, at once.
		var member ddb.Item
		wait := httpapi.Async(func() (err error) {
			member, err = d.Table.Get(ctx, memberKey(rid, r.Caller))
			return err
		})
		meta, err := d.Table.Get(ctx, roomKey(rid))
		if merr := wait(); err == nil {
			err = merr
		}
		if err != nil {
			return nil, err
		}
		if meta == nil || member == nil {
			return nil, notFound
		}
		md := ddb.Decode(meta)
		room := Room{ID: rid, Name: md.MustS("name"), CreatedBy: md.S("createdBy"), CreatedAt: md.MustTime("createdAt"), MemberCount: md.N("memberCount")}
		if err := md.Err(); err != nil {
			return nil, err
		}
		items, next, err := d.Table.QueryPage(ctx, ddb.Listing{
			Name: listMembers, Bind: []string{rid}, PartitionAttr: ddb.AttrPK, Partition: pkRoom + rid,
			Lower: skMemberPfx, Upper: skMemberPfx + "~", Now: d.Clock.Now(),
		}, page)
		if err != nil {
			return nil, err
		}
		members := make([]Member, 0, len(items))
		for _, it := range items {
			d := ddb.Decode(it)
			members = append(members, Member{UserID: d.MustS("userId"), AddedBy: d.S("addedBy"), JoinedAt: d.MustTime("joinedAt")})
			if err := d.Err(); err != nil {
				return nil, err
			}
		}
		return httpapi.JSON(http.StatusOK, RoomResponse{Room: room, Members: members, NextCursor: next})
	})
}
