package savings

import (
	"net/http"

	"minipay/shared/edge/apispec"
	"minipay/shared/edge/httpapi"
)

func init() {
	account := map[string]string{"id": "one of my savings accounts (s_...)"}
	apispec.Register(
		apispec.Op{Function: "open-account", Request: OpenRequest{}, RequestOptional: true, Response: OpenResponse{}, Status: http.StatusCreated,
			Errors: []string{"too_many_accounts"}},
		apispec.Op{Function: "deposit-savings", Request: DepositRequest{}, Response: httpapi.MovementResponse{}, Status: http.StatusCreated, Path: account,
			Errors: []string{"account_not_found", "wrong_account_kind", "insufficient_funds", "savings_account_closed",
				"savings_deposit_not_allowed", "savings_principal_limit"}},
		apispec.Op{Function: "close-savings", Request: struct{}{}, RequestOptional: true, Response: CloseResponse{}, Status: http.StatusCreated, Path: account,
			Errors: []string{"account_not_found", "wrong_account_kind", "savings_account_closed"}},
	)
}
