package savings

import (
	"net/http"

	"minipay/shared/apispec"
)

func init() {
	apispec.Register(
		apispec.Op{Function: "open-account", Request: OpenRequest{}, RequestOptional: true, Response: OpenResponse{}, Status: http.StatusCreated},
		apispec.Op{Function: "deposit-savings", Request: DepositRequest{}, Response: MovementResponse{}, Status: http.StatusCreated},
		apispec.Op{Function: "close-savings", Request: struct{}{}, RequestOptional: true, Response: CloseResponse{}, Status: http.StatusCreated},
	)
}
