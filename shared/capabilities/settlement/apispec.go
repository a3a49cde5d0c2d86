package settlement

import (
	"net/http"

	"minipay/shared/edge/apispec"
	"minipay/shared/kernel/domainerr"
)

func init() {
	shareErrs := []string{"settlement_not_found", "settlement_not_your_share", "settlement_share_paid", "settlement_share_declined",
		"settlement_cancelled", "settlement_completed"}
	requesterErrs := []string{"settlement_not_found", "settlement_cancelled", "settlement_completed"}
	apispec.Register(
		apispec.Op{Function: "create-settlement", Request: CreateRequest{}, Response: Settlement{}, Status: http.StatusCreated,
			Errors: []string{"settlement_too_many_participants", "settlement_duplicate_participant", "settlement_amounts_mismatch",
				"settlement_unknown_participant", "settlement_total_too_small"}},
		apispec.Op{Function: "list-settlements", Response: SummaryList{}, Query: append([]apispec.Param{
			{Name: "role", Type: "string", Enum: []string{RoleReceived, RoleRequested},
				Description: "received: requests addressed to me (default); requested: requests I made"},
			{Name: "status", Type: "string", Enum: []string{StatusOpen, SharePaid, ShareDeclined, StatusCompleted, StatusCancelled},
				Description: "received: my share's status (open, paid, declined, cancelled); requested: the request's (open, completed, cancelled); default open"},
		}, apispec.Paging...), Errors: []string{}},
		apispec.Op{Function: "get-settlement", Response: Settlement{}, Errors: []string{"settlement_not_found"}},
		apispec.Op{Function: "pay-settlement", Request: struct{}{}, RequestOptional: true, Response: PayResponse{}, Status: http.StatusCreated,
			Errors: append([]string{"insufficient_funds", "daily_limit_exceeded"}, shareErrs...)},
		apispec.Op{Function: "decline-settlement", Request: struct{}{}, RequestOptional: true, Response: DeclineResponse{}, Errors: shareErrs},
		apispec.Op{Function: "cancel-settlement", Request: struct{}{}, RequestOptional: true, Response: Settlement{}, Errors: requesterErrs},
		apispec.Op{Function: "remind-settlement", Request: struct{}{}, RequestOptional: true, Response: RemindResponse{},
			Errors: append([]string{"settlement_remind_too_soon"}, requesterErrs...)},
	)
}

// RefusalMembers are the settlement refusals with every member they may
// carry, for the OpenAPI document's Problem schema.
func RefusalMembers() []domainerr.WithMembers {
	return []domainerr.WithMembers{
		refuse(ErrTooMany, map[string]any{"max": 0, "participants": 0}, ""),
		refuse(ErrDuplicate, map[string]any{"userId": ""}, ""),
		refuse(ErrUnknownParticipant, map[string]any{"userId": ""}, ""),
		refuse(ErrNotYourShare, map[string]any{"userId": ""}, ""),
		refuse(ErrTotalTooSmall, map[string]any{"total": int64(0), "participants": 0, "minimumShare": int64(0)}, ""),
		refuse(ErrAmountsMismatch, map[string]any{"total": int64(0), "sum": int64(0)}, ""),
		refuse(ErrCancelled, map[string]any{"cancelledAt": ""}, ""),
		refuse(ErrCompleted, map[string]any{"completedAt": ""}, ""),
		refuse(ErrSharePaid, map[string]any{"paidAt": "", "movementId": ""}, ""),
		refuse(ErrShareDeclined, map[string]any{"declinedAt": ""}, ""),
		refuse(ErrRemindTooSoon, map[string]any{"retryAfterSeconds": int64(0), "nextReminderAt": ""}, ""),
	}
}
