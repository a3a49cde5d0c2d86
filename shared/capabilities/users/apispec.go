package users

import (
	"net/http"

	"minipay/shared/edge/apispec"
)

func init() {
	apispec.Register(
		apispec.Op{Function: "create-user", Request: RegisterRequest{}, Response: RegisterResponse{}, Status: http.StatusCreated,
			Errors: []string{"person_already_registered"}},
		apispec.Op{Function: "rotate-token", Request: struct{}{}, RequestOptional: true, Response: TokenResponse{}, Status: http.StatusCreated,
			Errors: []string{}},
		apispec.Op{Function: "revoke-token", Response: RevokeResponse{}, Errors: []string{}},
		apispec.Op{Function: "revoke-my-tokens", Response: RevokeAllResponse{}, Errors: []string{}},
		apispec.Op{Function: "issue-token", Request: struct{}{}, RequestOptional: true, Response: IssuedTokenResponse{}, Status: http.StatusCreated,
			Path: map[string]string{"id": "the user's id (u_...)"}, Errors: []string{"user_not_found"}},
		apispec.Op{Function: "revoke-user-tokens", Response: RevokeAllResponse{},
			Path: map[string]string{"id": "the user's id (u_...)"}, Errors: []string{"user_not_found"}},
	)
}
