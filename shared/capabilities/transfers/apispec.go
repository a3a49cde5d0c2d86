package transfers

import (
	"net/http"

	"minipay/shared/edge/apispec"
)

func init() {
	resolved := []string{"transfer_not_found", "transfer_already_accepted", "transfer_already_rejected", "transfer_already_cancelled", "transfer_expired"}
	resolve := func(function, who string) apispec.Op {
		return apispec.Op{Function: function, Request: struct{}{}, RequestOptional: true, Response: ResolveResponse{},
			Status: http.StatusCreated, Path: map[string]string{"id": "the pending transfer's id (" + who + ")"}, Errors: resolved}
	}
	apispec.Register(
		apispec.Op{Function: "transfer", Request: Request{}, Response: Response{}, Status: http.StatusCreated,
			Errors: []string{"self_transfer", "account_not_found", "insufficient_funds", "daily_limit_exceeded"}},
		apispec.Op{Function: "list-transfers", Response: TransferList{}, Errors: []string{},
			Query: append([]apispec.Param{
				{Name: "role", Type: "string", Enum: []string{RoleSent, RoleReceived}, Description: "transfers I sent (default) or received"},
				{Name: "status", Type: "string", Enum: Statuses, Description: "the transfers in this status (default pending)"},
			}, apispec.Paging...)},
		resolve("accept-transfer", "sent to me"),
		resolve("reject-transfer", "sent to me"),
		resolve("cancel-transfer", "sent by me"),
		apispec.Op{Function: "update-settings", Request: SettingsRequest{}, Response: Settings{}, Errors: []string{}},
	)
}
