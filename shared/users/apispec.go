package users

import (
	"net/http"

	"minipay/shared/apispec"
)

func init() {
	apispec.Register(
		apispec.Op{Function: "create-user", Request: RegisterRequest{}, Response: RegisterResponse{}, Status: http.StatusCreated,
			Errors: []string{"person_already_registered"}},
		apispec.Op{Function: "rotate-token", Request: struct{}{}, RequestOptional: true, Response: TokenResponse{}, Status: http.StatusCreated,
			Errors: []string{}},
		apispec.Op{Function: "revoke-token", Response: RevokeResponse{}, Errors: []string{}},
	)
}
