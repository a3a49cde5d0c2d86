package settlement

import (
	"net/http"

	"minipay/shared/apispec"
)

func init() {
	apispec.Register(
		apispec.Op{Function: "create-settlement", Request: CreateRequest{}, Response: Settlement{}, Status: http.StatusCreated},
		apispec.Op{Function: "list-settlements", Response: SummaryList{}, Query: append([]apispec.Param{
			{Name: "role", Type: "string", Enum: []string{RoleReceived, RoleRequested},
				Description: "received: requests addressed to me (default); requested: requests I made"},
			{Name: "status", Type: "string", Enum: []string{StatusOpen, SharePaid, ShareDeclined, StatusCompleted, StatusCancelled},
				Description: "received: my share's status (open, paid, declined, cancelled); requested: the request's (open, completed, cancelled); default open"},
		}, apispec.Paging...)},
		apispec.Op{Function: "get-settlement", Response: Settlement{}},
		apispec.Op{Function: "pay-settlement", Request: struct{}{}, RequestOptional: true, Response: PayResponse{}, Status: http.StatusCreated},
		apispec.Op{Function: "decline-settlement", Request: struct{}{}, RequestOptional: true, Response: DeclineResponse{}},
		apispec.Op{Function: "cancel-settlement", Request: struct{}{}, RequestOptional: true, Response: Settlement{}},
		apispec.Op{Function: "remind-settlement", Request: struct{}{}, RequestOptional: true, Response: RemindResponse{}},
	)
}
