package merchant

import (
	"net/http"

	"minipay/shared/edge/apispec"
)

func init() {
	statusParam := apispec.Param{Name: "status", Type: "string", Enum: Statuses, Description: "only orders of this status (default: every order)"}
	list := append([]apispec.Param{statusParam}, apispec.Paging...)
	orderErrs := []string{"order_not_found", "not_order_store", "not_order_customer", "order_status_conflict", "order_expired"}
	transition := func(function string, extra ...string) apispec.Op {
		return apispec.Op{Function: function, RequestOptional: true, Request: struct{}{}, Response: Order{}, Status: http.StatusOK,
			Errors: append(append([]string{}, orderErrs...), extra...)}
	}
	storeErrs := []string{"store_not_found", "not_store_owner"}
	apispec.Register(
		apispec.Op{Function: "create-store", Request: CreateStoreRequest{}, Response: Store{}, Status: http.StatusCreated, Errors: []string{"too_many_stores"}},
		apispec.Op{Function: "get-store", Response: StoreResponse{}, Errors: storeErrs},
		apispec.Op{Function: "set-store-status", Request: StoreStatusRequest{}, Response: map[string]any{}, Errors: storeErrs},
		apispec.Op{Function: "withdraw-store", Request: WithdrawRequest{}, Response: WithdrawResponse{}, Status: http.StatusCreated,
			Errors: append([]string{"insufficient_funds", "merchant_insufficient_funds"}, storeErrs...)},
		apispec.Op{Function: "list-store-orders", Response: OrderList{}, Query: list, Errors: storeErrs},
		apispec.Op{Function: "place-order", Request: PlaceRequest{}, Response: PlaceResponse{}, Status: http.StatusCreated,
			Errors: []string{"invalid_field", "store_not_found", "store_closed", "own_store", "insufficient_funds", "daily_limit_exceeded", "account_not_found"}},
		apispec.Op{Function: "list-orders", Response: OrderList{}, Query: list, Errors: []string{}},
		apispec.Op{Function: "get-order", Response: OrderDetail{}, Query: apispec.Paging, Errors: []string{"order_not_found"}},
		transition("accept-order"),
		transition("reject-order", "order_cooking_started"),
		transition("cancel-order", "order_cooking_started"),
		transition("cook-order"),
		apispec.Op{Function: "progress-order", Request: ProgressRequest{}, Response: Order{}, Status: http.StatusOK, Errors: orderErrs},
		transition("complete-order"),
		apispec.Op{Function: "refund-order", Request: RefundRequest{}, Response: RefundResponse{}, Status: http.StatusCreated,
			Errors: append([]string{"refund_exceeds_capture", "refund_window_closed", "merchant_insufficient_funds"}, orderErrs...)},
	)
}
