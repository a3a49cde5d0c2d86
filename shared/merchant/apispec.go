package merchant

import (
	"net/http"

	"minipay/shared/apispec"
)

func init() {
	statusParam := apispec.Param{Name: "status", Type: "string", Enum: Statuses, Description: "only orders of this status (default: every order)"}
	list := append([]apispec.Param{statusParam}, apispec.Paging...)
	transition := func(function string) apispec.Op {
		return apispec.Op{Function: function, RequestOptional: true, Request: struct{}{}, Response: Order{}, Status: http.StatusOK}
	}
	apispec.Register(
		apispec.Op{Function: "create-store", Request: CreateStoreRequest{}, Response: Store{}, Status: http.StatusCreated},
		apispec.Op{Function: "get-store", Response: StoreResponse{}},
		apispec.Op{Function: "set-store-status", Request: StoreStatusRequest{}, Response: map[string]any{}},
		apispec.Op{Function: "withdraw-store", Request: WithdrawRequest{}, Response: WithdrawResponse{}, Status: http.StatusCreated},
		apispec.Op{Function: "list-store-orders", Response: OrderList{}, Query: list},
		apispec.Op{Function: "place-order", Request: PlaceRequest{}, Response: PlaceResponse{}, Status: http.StatusCreated},
		apispec.Op{Function: "list-orders", Response: OrderList{}, Query: list},
		apispec.Op{Function: "get-order", Response: OrderDetail{}, Query: apispec.Paging},
		transition("accept-order"),
		transition("reject-order"),
		transition("cancel-order"),
		transition("cook-order"),
		apispec.Op{Function: "progress-order", Request: ProgressRequest{}, Response: Order{}, Status: http.StatusOK},
		transition("complete-order"),
		apispec.Op{Function: "refund-order", Request: RefundRequest{}, Response: RefundResponse{}, Status: http.StatusCreated},
	)
}
