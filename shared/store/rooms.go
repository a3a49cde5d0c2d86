package store

// Rooms (issue 5). Items, in the room's own partition:
//
//	item          PK            SK               notes
//	room          ROOM#<rid>    META             name, createdBy, createdAt
//	member        ROOM#<rid>    MEMBER#<uid>     userId, addedBy, joinedAt; exists = is a member
//	sprinkle token ROOM#<rid>   TOKEN#<token>    see sprinkles.go
//
// "MEMBER#" sorts before "META" and "META" before "TOKEN#", so one Query
// (SK BETWEEN MEMBER# AND META) returns the member list and the room.
// Membership is a plain item so a transaction can ConditionCheck it.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/problem"
)

const (
	prefixRoom   = "ROOM#"
	prefixMember = "MEMBER#"
	skMeta       = "META"
)

// NewRoomID is an unguessable room id.
func NewRoomID() string { return "r_" + randomString(16) }

// Room is a chat room.
type Room struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// Member is one member of a room.
type Member struct {
	UserID   string    `json:"userId"`
	AddedBy  string    `json:"addedBy,omitempty"`
	JoinedAt time.Time `json:"joinedAt"`
}

func memberKey(roomID, userID string) map[string]types.AttributeValue {
	return key(prefixRoom+roomID, prefixMember+userID)
}

func memberItem(roomID, userID, addedBy string, at time.Time) map[string]types.AttributeValue {
	item := memberKey(roomID, userID)
	item["roomId"] = str(roomID)
	item["userId"] = str(userID)
	item["addedBy"] = str(addedBy)
	item["joinedAt"] = str(at.UTC().Format(time.RFC3339Nano))
	return item
}

// CreateRoom writes the room and its creator's membership in one transaction.
func (s *Store) CreateRoom(ctx context.Context, r Room) error {
	meta := key(prefixRoom+r.ID, skMeta)
	meta["roomId"] = str(r.ID)
	meta["name"] = str(r.Name)
	meta["createdBy"] = str(r.CreatedBy)
	meta["createdAt"] = str(r.CreatedAt.UTC().Format(time.RFC3339Nano))
	collision := func(map[string]types.AttributeValue) error {
		return fmt.Errorf("store: id collision for room %s", r.ID)
	}
	tx := &Tx{}
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: meta, ConditionExpression: aws.String("attribute_not_exists(PK)")}}, op{onFail: collision})
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: memberItem(r.ID, r.CreatedBy, r.CreatedBy, r.CreatedAt),
		ConditionExpression: aws.String("attribute_not_exists(PK)")}}, op{onFail: collision})
	return s.Commit(ctx, tx)
}

// memberCheck adds a ConditionCheck that userID is a member of roomID.
func (tx *Tx) memberCheck(roomID, userID string) {
	tx.add(types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		Key: memberKey(roomID, userID), ConditionExpression: aws.String("attribute_exists(PK)"),
	}}, op{onFail: func(map[string]types.AttributeValue) error {
		return problem.NotAMember.With("you are not a member of room %s", roomID)
	}})
}

// AddMember adds userID to the room on behalf of by, who must be a member
// (checked in the same transaction), and the user must exist. It reports
// false (and no error) when userID already was a member: adding is
// idempotent.
func (s *Store) AddMember(ctx context.Context, roomID, by, userID string, at time.Time) (added bool, err error) {
	tx := &Tx{}
	tx.memberCheck(roomID, by)
	if by == userID {
		// Adding oneself: only a member may, and a member already is one.
		// (One transaction may not touch the member item twice.)
		return false, s.Commit(ctx, tx)
	}
	tx.add(types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		Key: key(prefixUser+userID, skProfile), ConditionExpression: aws.String("attribute_exists(PK)"),
	}}, op{onFail: func(map[string]types.AttributeValue) error {
		return problem.UserNotFound.With("user %s does not exist", userID)
	}})
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: memberItem(roomID, userID, by, at), ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		op{onFail: func(map[string]types.AttributeValue) error { return errAlreadyMember }})
	err = s.Commit(ctx, tx)
	if err == errAlreadyMember {
		return false, nil
	}
	return err == nil, err
}

var errAlreadyMember = fmt.Errorf("store: already a member")

// RoomWithMembers reads the room and its members with one Query (paged).
// A caller who is not a member learns nothing: RoomNotFound, as for a room
// that does not exist.
func (s *Store) RoomWithMembers(ctx context.Context, roomID, caller string) (Room, []Member, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(prefixRoom + roomID), ":from": str(prefixMember), ":to": str(skMeta),
		},
		ConsistentRead: aws.Bool(true),
	}
	var room Room
	members := []Member{}
	isMember := false
	err := s.queryAll(ctx, in, func(item map[string]types.AttributeValue) bool {
		sk := getS(item, AttrSK)
		switch {
		case sk == skMeta:
			created, _ := time.Parse(time.RFC3339Nano, getS(item, "createdAt"))
			room = Room{ID: roomID, Name: getS(item, "name"), CreatedBy: getS(item, "createdBy"), CreatedAt: created}
		case strings.HasPrefix(sk, prefixMember):
			joined, _ := time.Parse(time.RFC3339Nano, getS(item, "joinedAt"))
			m := Member{UserID: getS(item, "userId"), AddedBy: getS(item, "addedBy"), JoinedAt: joined}
			isMember = isMember || m.UserID == caller
			members = append(members, m)
		}
		return true
	})
	if err != nil {
		return Room{}, nil, fmt.Errorf("store: room: %w", err)
	}
	if room.ID == "" || !isMember {
		return Room{}, nil, problem.RoomNotFound.With("you are not a member of a room %s", roomID)
	}
	return room, members, nil
}
