// Package users is registration and API tokens.
//
//	item              PK              SK        notes
//	user profile      USER#<uid>      PROFILE   name, createdAt
//	API token         TOKEN#<sha256>  TOKEN     userId, name, createdAt, expiresAtMs, revokedAt;
//	                                            ttl 30 days after it expires (then it names nothing)
//	verified person   PERSON#<pid>    PERSON    userId: one user per person the operator verified
//
// The raw token is shown once and never stored; the authorizer looks its
// hash up with one strongly consistent GetItem (a token used right after
// registering is found).
//
// Decisions:
//   - Registration is a policy (config.EnvRegistration): "open" lets anyone
//     register (the local default); "operator" lets only the operator token,
//     standing for the payment system that verified the person, create
//     users (the cloud stack's default). Per-person rules (claim a sprinkle
//     once, the daily charge limit) mean something only under "operator".
//   - Under "operator", personId (the payment system's id of the verified
//     person) is required and unique: a second user for the same person is
//     409 person_already_registered.
//   - A token lives config.TokenTTL (90 days by default), then answers 401
//     token_expired. POST /me/token rotates: a new token, the one used
//     revoked in the same transaction. DELETE /me/token revokes the one
//     used. A revoked token answers 401 token_revoked once the authorizer's
//     cache (routes.AuthorizerCacheTTL) has let go of it.
package users

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"minipay/shared/config"
	"minipay/shared/ddb"
	"minipay/shared/domainerr"
	"minipay/shared/httpapi"
	"minipay/shared/ledger"
)

// Refusals.
var (
	ErrUserNotFound     = domainerr.New("user_not_found")
	ErrPersonRegistered = domainerr.New("person_already_registered")
)

const (
	pkUser    = "USER#"
	skProfile = "PROFILE"
	pkToken   = "TOKEN#"
	skToken   = "TOKEN"
	pkPerson  = "PERSON#"
	skPerson  = "PERSON"
	// TokenPrefix marks minipay user tokens.
	TokenPrefix = "mp_"
	// tokenKeptAfterExpiry: an expired token still says "expired" this long.
	tokenKeptAfterExpiry = 30 * 24 * time.Hour
)

// User is a registered person.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// NewUserID is an unguessable user id.
func NewUserID() string { return ddb.NewID("u_") }

// ValidUserID reports whether s has a user id's shape.
func ValidUserID(s string) bool { return ddb.ValidID(s, "u_") }

// TokenHash is how a token is stored and looked up: hex sha256.
func TokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// NewToken is a new raw API token.
func NewToken() string { return ddb.NewToken(TokenPrefix) }

func profileKey(userID string) ddb.Item { return ddb.Key(pkUser+userID, skProfile) }

func tokenKey(hash string) ddb.Item { return ddb.Key(pkToken+hash, skToken) }

// ProfileKey is a user's profile item key (capabilities ConditionCheck it
// to require that a user exists).
func ProfileKey(userID string) ddb.Item { return profileKey(userID) }

// RequireUser adds a check that the user exists.
func RequireUser(tx *ledger.Tx, userID string) {
	tx.Check(profileKey(userID), ledger.Cond{Expr: "attribute_exists(PK)"}, func(ddb.Item) error {
		return ErrUserNotFound.With("user %s does not exist", userID)
	})
}

// Get reads a user.
func Get(ctx context.Context, t *ddb.Table, userID string) (User, error) {
	item, err := t.Get(ctx, profileKey(userID))
	if err != nil {
		return User{}, err
	}
	if item == nil {
		return User{}, ErrUserNotFound.With("user %s does not exist", userID)
	}
	d := ddb.Decode(item)
	u := User{ID: userID, Name: d.MustS("name"), CreatedAt: d.MustTime("createdAt")}
	return u, d.Err()
}

// CallerName is the caller's real name: from the authorizer context, or
// (a token issued before names were stored on token items) one read.
func CallerName(ctx context.Context, d httpapi.Deps, r *httpapi.Request) (string, error) {
	if r.CallerName != "" {
		return r.CallerName, nil
	}
	u, err := Get(ctx, d.Table, r.Caller)
	return u.Name, err
}

func tokenItem(hash string, u User, at time.Time, ttl time.Duration) ddb.Item {
	item := tokenKey(hash)
	item["userId"] = ddb.S(u.ID)
	item["name"] = ddb.S(u.Name) // for the authorizer context: handlers know the caller's name without a read
	item["createdAt"] = ddb.Time(at)
	item["expiresAtMs"] = ddb.Millis(at.Add(ttl))
	item[ddb.AttrTTL] = ddb.Epoch(at.Add(ttl + tokenKeptAfterExpiry))
	return item
}

// TokenState is what a token is.
type TokenState int

const (
	TokenUnknown TokenState = iota
	TokenValid
	TokenExpired
	TokenRevoked
)

// TokenOwner is who a token belongs to and whether it still works.
type TokenOwner struct {
	UserID    string
	Name      string
	Hash      string
	State     TokenState
	ExpiresAt time.Time
}

// Lookup reads a token: one strongly consistent GetItem.
func Lookup(ctx context.Context, t *ddb.Table, token string, now time.Time) (TokenOwner, error) {
	hash := TokenHash(token)
	item, err := t.Get(ctx, tokenKey(hash))
	if err != nil || item == nil {
		return TokenOwner{}, err
	}
	d := ddb.Decode(item)
	o := TokenOwner{UserID: d.MustS("userId"), Name: d.S("name"), Hash: hash, State: TokenValid, ExpiresAt: d.Millis("expiresAtMs")}
	switch {
	case d.Has("revokedAt"):
		o.State = TokenRevoked
	case d.Has("expiresAtMs") && !now.Before(o.ExpiresAt):
		o.State = TokenExpired
	}
	return o, d.Err()
}

// IsOperator reports whether the request carries the operator token.
func IsOperator(r *httpapi.Request, operatorSHA256 string) bool {
	h := r.Header("authorization")
	const prefix = "bearer "
	if operatorSHA256 == "" || len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := TokenHash(strings.TrimSpace(h[len(prefix):]))
	return subtle.ConstantTimeCompare([]byte(got), []byte(strings.ToLower(operatorSHA256))) == 1
}

// RegisterRequest is the body of POST /users.
type RegisterRequest struct {
	Name     string `json:"name" openapi:"required,minLength=1,maxLength=100" doc:"the user's real name, shown to the people they pay"`
	PersonID string `json:"personId" openapi:"maxLength=100" doc:"the payment system's id of the verified person: required (and unique) under operator registration, refused under open registration"`
}

// RegisterResponse is what POST /users returns. The fields are in the
// order the response had as a map (sorted keys).
type RegisterResponse struct {
	MainAccount    ledger.Account `json:"mainAccount"`
	Token          string         `json:"token" doc:"the API token, shown once: send it as Authorization: Bearer <token>"`
	TokenExpiresAt time.Time      `json:"tokenExpiresAt"`
	TokenNote      string         `json:"tokenNote"`
	User           User           `json:"user"`
}

// TokenResponse is what POST /me/token returns.
type TokenResponse struct {
	Token          string    `json:"token" doc:"the new API token, shown once"`
	TokenExpiresAt time.Time `json:"tokenExpiresAt"`
	TokenNote      string    `json:"tokenNote"`
}

// RevokeResponse is what DELETE /me/token returns.
type RevokeResponse struct {
	Revoked bool `json:"revoked"`
}

// Register is POST /users: the user, their main account and a token in
// one transaction. The token is in the response only.
func Register(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "create-user", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		operator := d.Config.Registration == config.RegistrationOperator
		if operator && !IsOperator(r, d.Config.OperatorTokenSHA256) {
			return nil, httpapi.ErrForbidden.With("registration is by the payment system that verified the person: send its operator token")
		}
		var in RegisterRequest
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		name, err := httpapi.Name("name", in.Name, 100, true)
		if err != nil {
			return nil, err
		}
		person, err := httpapi.Text("personId", in.PersonID, 100, operator)
		if err != nil {
			return nil, err
		}
		if person != "" && !operator {
			return nil, domainerr.Field("personId", "personId (a verified person) is set only by the operator; registration here is open")
		}
		now := d.Clock.Now().UTC()
		u := User{ID: NewUserID(), Name: name, CreatedAt: now}
		token := NewToken()
		tx := &ledger.Tx{}
		profile := profileKey(u.ID)
		profile["userId"] = ddb.S(u.ID)
		profile["name"] = ddb.S(u.Name)
		profile["createdAt"] = ddb.Time(now)
		collision := func(ddb.Item) error { return fmt.Errorf("users: id collision for %s", u.ID) }
		notExists := ledger.Cond{Expr: "attribute_not_exists(PK)"}
		tx.Put(profile, notExists, collision)
		if person != "" {
			p := ddb.Key(pkPerson+person, skPerson)
			p["userId"] = ddb.S(u.ID)
			p["createdAt"] = ddb.Time(now)
			tx.Put(p, notExists, func(ddb.Item) error {
				return ErrPersonRegistered.With("person %q already has a user", person)
			})
		}
		main := ledger.Account{ID: ledger.MainAccountID(u.ID), Owner: u.ID, Kind: ledger.KindMain, Name: "main", CreatedAt: now}
		tx.CreateAccount(main, nil)
		tx.Put(tokenItem(TokenHash(token), u, now, d.Config.TokenTTL), notExists, collision)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, RegisterResponse{
			User: u, MainAccount: main, Token: token, TokenExpiresAt: now.Add(d.Config.TokenTTL),
			TokenNote: "shown once; send it as Authorization: Bearer <token>",
		})
	})
}

// RotateToken is POST /me/token: a new token for the caller; the token the
// request came with is revoked in the same transaction.
func RotateToken(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "rotate-token", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		var in struct{}
		if err := r.DecodeOptional(&in); err != nil {
			return nil, err
		}
		if r.TokenHash == "" {
			return nil, httpapi.ErrUnauthorized.With("the request's token is unknown")
		}
		now := d.Clock.Now().UTC()
		u := User{ID: r.Caller, Name: r.CallerName}
		token := NewToken()
		tx := &ledger.Tx{}
		revoke(tx, r, now)
		tx.Put(tokenItem(TokenHash(token), u, now, d.Config.TokenTTL), ledger.Cond{Expr: "attribute_not_exists(PK)"},
			func(ddb.Item) error { return fmt.Errorf("users: token collision") })
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, TokenResponse{
			Token: token, TokenExpiresAt: now.Add(d.Config.TokenTTL),
			TokenNote: "shown once; the token this request used is revoked",
		})
	})
}

// RevokeToken is DELETE /me/token: the token the request came with stops working.
func RevokeToken(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "revoke-token", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		if r.TokenHash == "" {
			return nil, httpapi.ErrUnauthorized.With("the request's token is unknown")
		}
		tx := &ledger.Tx{}
		revoke(tx, r, d.Clock.Now())
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, RevokeResponse{Revoked: true})
	})
}

// revoke marks the request's token revoked (it must be the caller's and
// not revoked yet: a second revocation with a cached authorizer answer is
// refused like an unknown token).
func revoke(tx *ledger.Tx, r *httpapi.Request, now time.Time) {
	tx.Update(tokenKey(r.TokenHash), "SET revokedAt = :at", ledger.Cond{
		Expr:   "attribute_exists(PK) AND userId = :uid AND attribute_not_exists(revokedAt)",
		Values: ddb.Item{":at": ddb.Time(now), ":uid": ddb.S(r.Caller)},
	}, func(ddb.Item) error { return httpapi.ErrTokenRevoked.With("the token was already revoked") })
}
