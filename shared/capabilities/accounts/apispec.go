package accounts

import (
	"net/http"

	"minipay/shared/edge/apispec"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ledger"
)

func init() {
	account := map[string]string{"id": "one of my accounts: my main account (m_...) or a savings account (s_...)"}
	movement := func(function string, errors ...string) apispec.Op {
		return apispec.Op{Function: function, Request: AmountRequest{}, Response: httpapi.MovementResponse{}, Status: http.StatusCreated,
			Path: account, Errors: errors}
	}
	apispec.Register(
		apispec.Op{Function: "list-accounts", Response: AccountList{}, Errors: []string{}},
		apispec.Op{Function: "get-account", Response: AccountResponse{}, Path: account, Errors: []string{"account_not_found"}},
		movement("charge", "account_not_found", "wrong_account_kind", "daily_limit_exceeded"),
		movement("withdraw", "account_not_found", "wrong_account_kind", "insufficient_funds"),
		apispec.Op{Function: "operator-deposit", Request: OperatorDepositRequest{}, Response: httpapi.MovementResponse{}, Status: http.StatusCreated,
			Errors: []string{"account_not_found", "reference_already_credited"}},
		apispec.Op{Function: "list-entries", Response: EntryList{}, Path: account, Errors: []string{"account_not_found"},
			Query: append([]apispec.Param{
				{Name: "from", Type: "string", Format: "date-time", Description: "only entries at or after this RFC 3339 time (escape the + of an offset as %2B)"},
				{Name: "to", Type: "string", Format: "date-time", Description: "only entries at or before this RFC 3339 time"},
				{Name: "direction", Type: "string", Enum: []string{ledger.DirectionIn, ledger.DirectionOut}, Description: "only money in, or only money out"},
			}, apispec.Paging...)},
	)
}
