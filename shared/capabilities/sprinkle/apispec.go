package sprinkle

import (
	"net/http"

	"minipay/shared/edge/apispec"
)

func init() {
	room := map[string]string{"id": "a room I am a member of (r_...)"}
	sprinkle := map[string]string{"id": room["id"], "token": "the sprinkle's 3-character token"}
	apispec.Register(
		apispec.Op{Function: "create-room", Request: CreateRoomRequest{}, Response: RoomResponse{}, Status: http.StatusCreated, Errors: []string{}},
		apispec.Op{Function: "add-room-member", Request: AddMemberRequest{}, Response: MemberAdded{}, Status: http.StatusCreated,
			OtherStatuses: []int{http.StatusOK}, Path: room, Errors: []string{"room_not_found", "not_a_member", "user_not_found", "room_full"}},
		apispec.Op{Function: "leave-room", Response: MemberLeft{}, Path: room, Errors: []string{"room_not_found"}},
		apispec.Op{Function: "get-room", Response: RoomResponse{}, Path: room, Errors: []string{"room_not_found"},
			Query: []apispec.Param{
				{Name: "limit", Type: "integer", Min: 1, Max: 100, Description: "members per page, 1-100 (default 100)"},
				apispec.Paging[1],
			}},
		apispec.Op{Function: "create-sprinkle", Request: CreateRequest{}, Response: CreateResponse{}, Status: http.StatusCreated,
			Path: room, Errors: []string{"room_not_found", "not_a_member", "insufficient_funds"}},
		apispec.Op{Function: "claim-sprinkle", Request: struct{}{}, RequestOptional: true, Response: ClaimResponse{}, Status: http.StatusCreated,
			Path: sprinkle, Errors: []string{"room_not_found", "sprinkle_not_found", "not_a_member", "own_sprinkle", "already_claimed",
				"sprinkle_exhausted", "claim_window_closed"}},
		apispec.Op{Function: "get-sprinkle", Response: LookupResponse{}, Path: sprinkle, Errors: []string{"room_not_found", "sprinkle_not_found"}},
	)
}
