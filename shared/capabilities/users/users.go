// Package users is registration and API tokens.
//
//	item              PK              SK                notes
//	user profile      USER#<uid>      PROFILE           name, createdAt
//	API token         TOKEN#<sha256>  TOKEN             userId, name, createdAt, expiresAtMs, familyEndsAtMs,
//	                                                    revokedAt; ttl 30 days after it expires (then it
//	                                                    names nothing)
//	token listing     USER#<uid>      APITOKEN#<sha256> tokenHash, expiresAtMs: one per live token, deleted
//	                                                    when it is revoked (how every token of a user is found)
//	verified person   PERSON#<pid>    PERSON            userId: one user per person the operator verified
//	                                                    (<pid> canonical: httpapi.Identifier)
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
//     person) is required and unique in its canonical form (NFKC, case
//     folded): a second user for the same person is 409
//     person_already_registered.
//   - A token lives config.TokenTTL (90 days by default), then answers 401
//     token_expired. POST /me/token rotates: a new token, the one used
//     revoked in the same transaction. DELETE /me/token revokes the one
//     used; DELETE /me/tokens every one of the caller's. A revoked token
//     answers 401 token_revoked once the authorizer's cache
//     (routes.AuthorizerCacheTTL, 30 s) has let go of it.
//   - Absolute lifetime: a token issued at registration or by the operator
//     starts a family ending config.TokenMaxLifetime later (365 days by
//     default); rotation copies the end and never extends past it, so a
//     stolen token cannot keep itself alive.
//   - The operator (POST /operator/users/{id}/tokens) issues a new token to
//     an existing user and revokes all their older ones; DELETE on the same
//     path revokes them all. So a user whose token expired, was revoked or
//     was stolen and rotated is never locked out for good.
//   - Every rotation, revocation and operator issue writes a notification to
//     the user's inbox in the same transaction.
package users

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/capabilities/notify"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// Refusals.
var (
	ErrUserNotFound     = domainerr.New("user_not_found")
	ErrPersonRegistered = domainerr.New("person_already_registered")
)

const (
	skProfile = "PROFILE"
	pkToken   = "TOKEN#"
	skToken   = "TOKEN"
	pkPerson  = "PERSON#"
	skPerson  = "PERSON"
	skListed  = "APITOKEN#"
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

func profileKey(userID string) ddb.Item { return ddb.Key(ledger.UserPK(userID), skProfile) }

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
func CallerName(ctx context.Context, d httpapi.Services, r *httpapi.Request) (string, error) {
	if r.CallerName != "" {
		return r.CallerName, nil
	}
	u, err := Get(ctx, d.Table, r.Caller)
	return u.Name, err
}

// tokenItem is a token's item: what the authorizer reads. expires is at
// most familyEnd, the absolute end of the token it was rotated from.
func tokenItem(hash string, u User, at, expires, familyEnd time.Time) ddb.Item {
	item := tokenKey(hash)
	item["userId"] = ddb.S(u.ID)
	item["name"] = ddb.S(u.Name) // for the authorizer context: handlers know the caller's name without a read
	item["createdAt"] = ddb.Time(at)
	item["expiresAtMs"] = ddb.Millis(expires)
	item["familyEndsAtMs"] = ddb.Millis(familyEnd)
	item[ddb.AttrTTL] = ddb.Epoch(expires.Add(tokenKeptAfterExpiry))
	return item
}

// listedKey is the item that lists a live token under its user, so that
// every token of a user can be found and revoked (the token items are
// keyed by hash alone). Revoking a token deletes it.
func listedKey(userID, hash string) ddb.Item { return ddb.Key(ledger.UserPK(userID), skListed+hash) }

// issued is a new token put into a transaction.
type issued struct {
	Token     string
	ExpiresAt time.Time
}

// issue puts a new token for u (its item and its listing) into tx. It
// expires TokenTTL from now, but never after familyEnd.
func issue(tx *ledger.Tx, u User, now, familyEnd time.Time, ttl time.Duration) issued {
	token := NewToken()
	hash := TokenHash(token)
	expires := now.Add(ttl)
	if familyEnd.Before(expires) {
		expires = familyEnd
	}
	collision := func(ddb.Item) error { return fmt.Errorf("users: token collision") }
	notExists := ledger.Cond{Expr: "attribute_not_exists(PK)"}
	tx.Put(tokenItem(hash, u, now, expires, familyEnd), notExists, collision)
	listed := listedKey(u.ID, hash)
	listed["tokenHash"] = ddb.S(hash)
	listed["createdAt"] = ddb.Time(now)
	listed["expiresAtMs"] = ddb.Millis(expires)
	listed[ddb.AttrTTL] = ddb.Epoch(expires.Add(tokenKeptAfterExpiry))
	tx.Put(listed, notExists, collision)
	return issued{Token: token, ExpiresAt: expires}
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
	Name     httpapi.NameField `json:"name" openapi:"required" doc:"the user's real name, shown to the people they pay"`
	PersonID string            `json:"personId" openapi:"maxLength=100" doc:"the payment system's id of the verified person: required (and unique) under operator registration, refused under open registration"`
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
func Register(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "create-user", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		operator := d.Config.Registration == config.RegistrationOperator
		if operator && !IsOperator(r, d.Config.OperatorTokenSHA256) {
			return nil, httpapi.ErrForbidden.With("registration is by the payment system that verified the person: send its operator token")
		}
		var in RegisterRequest
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		name := string(in.Name)
		person, err := httpapi.Identifier("personId", in.PersonID, 100, operator)
		if err != nil {
			return nil, err
		}
		if person != "" && !operator {
			return nil, domainerr.Field("personId", "personId (a verified person) is set only by the operator; registration here is open")
		}
		now := d.Clock.Now().UTC()
		u := User{ID: NewUserID(), Name: name, CreatedAt: now}
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
		tok := issue(tx, u, now, now.Add(d.Config.TokenMaxLifetime), d.Config.TokenTTL)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, RegisterResponse{
			User: u, MainAccount: main, Token: tok.Token, TokenExpiresAt: tok.ExpiresAt,
			TokenNote: "shown once; send it as Authorization: Bearer <token>",
		})
	})
}

// Notification types (the user's inbox, written in the same transaction
// as the change): a stolen token's use shows up where the owner looks, and
// in the cloud on the event bus at once.
const (
	NotifyTokenRotated  = "token_rotated"  // POST /me/token: tokenExpiresAt
	NotifyTokenRevoked  = "token_revoked"  // DELETE /me/token
	NotifyTokensRevoked = "tokens_revoked" // every token revoked: by (you|operator), revokedTokens
	NotifyTokenIssued   = "token_issued"   // the operator issued a new token: tokenExpiresAt, revokedTokens
)

// ByYou and ByOperator say who revoked a user's tokens.
const (
	ByYou      = "you"
	ByOperator = "operator"
)

func notifyToken(tx *ledger.Tx, userID, typ string, at time.Time, data map[string]any) {
	notify.Add(tx, notify.Notification{UserID: userID, Type: typ, At: at, Data: data})
}

// RotateToken is POST /me/token: a new token for the caller; the token the
// request came with is revoked in the same transaction. The new token
// expires TokenTTL from now but never after the absolute end of the token
// it replaces (TokenMaxLifetime from the registration's or the operator's
// issue), so a stolen token cannot keep itself alive by rotating.
func RotateToken(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "rotate-token", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		var in struct{}
		if err := r.DecodeOptional(&in); err != nil {
			return nil, err
		}
		if r.TokenHash == "" {
			return nil, httpapi.ErrUnauthorized.With("the request's token is unknown")
		}
		now := d.Clock.Now().UTC()
		old, err := d.Table.Get(ctx, tokenKey(r.TokenHash))
		if err != nil {
			return nil, err
		}
		if old == nil {
			return nil, httpapi.ErrUnauthorized.With("the request's token is unknown")
		}
		od := ddb.Decode(old)
		familyEnd := od.Millis("familyEndsAtMs")
		if !od.Has("familyEndsAtMs") { // a token issued before absolute lifetimes
			familyEnd = od.MustTime("createdAt").Add(d.Config.TokenMaxLifetime)
		}
		if err := od.Err(); err != nil {
			return nil, err
		}
		u := User{ID: r.Caller, Name: r.CallerName}
		tx := &ledger.Tx{}
		revoke(tx, r, now)
		tok := issue(tx, u, now, familyEnd, d.Config.TokenTTL)
		notifyToken(tx, r.Caller, NotifyTokenRotated, now, map[string]any{"tokenExpiresAt": tok.ExpiresAt})
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, TokenResponse{
			Token: tok.Token, TokenExpiresAt: tok.ExpiresAt,
			TokenNote: "shown once; the token this request used is revoked; rotation never extends a token past its absolute lifetime",
		})
	})
}

// RevokeToken is DELETE /me/token: the token the request came with stops working.
func RevokeToken(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "revoke-token", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		if r.TokenHash == "" {
			return nil, httpapi.ErrUnauthorized.With("the request's token is unknown")
		}
		now := d.Clock.Now().UTC()
		tx := &ledger.Tx{}
		revoke(tx, r, now)
		notifyToken(tx, r.Caller, NotifyTokenRevoked, now, nil)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, RevokeResponse{Revoked: true})
	})
}

// revoke marks the request's token revoked (it must be the caller's, not
// revoked and not expired yet: a second revocation with a cached authorizer
// answer is refused like an unknown token) and drops its listing.
func revoke(tx *ledger.Tx, r *httpapi.Request, now time.Time) {
	tx.Update(tokenKey(r.TokenHash), "SET revokedAt = :at", ledger.Cond{
		Expr:   "attribute_exists(PK) AND userId = :uid AND attribute_not_exists(revokedAt) AND expiresAtMs > :now",
		Values: ddb.Item{":at": ddb.Time(now), ":uid": ddb.S(r.Caller), ":now": ddb.Millis(now)},
	}, func(old ddb.Item) error {
		if old != nil && ddb.Decode(old).Has("revokedAt") {
			return httpapi.ErrTokenRevoked.With("the token was already revoked")
		}
		if old != nil && ddb.Decode(old).S("userId") == r.Caller {
			return httpapi.ErrTokenExpired.With("the token expired; ask the payment system (the operator) for a new one")
		}
		return httpapi.ErrUnauthorized.With("the request's token is unknown")
	})
	tx.Delete(listedKey(r.Caller, r.TokenHash), ledger.Cond{}, nil)
}

// RevokeAllResponse is what revoking every token of a user returns.
type RevokeAllResponse struct {
	RevokedTokens int `json:"revokedTokens" doc:"how many live tokens were revoked"`
}

// IssuedTokenResponse is what POST /operator/users/{id}/tokens returns.
type IssuedTokenResponse struct {
	UserID         string    `json:"userId"`
	Token          string    `json:"token" doc:"the user's new API token, shown once: hand it to the user"`
	TokenExpiresAt time.Time `json:"tokenExpiresAt"`
	RevokedTokens  int       `json:"revokedTokens" doc:"how many of the user's older tokens were revoked"`
	TokenNote      string    `json:"tokenNote"`
}

// RevokeMyTokens is DELETE /me/tokens: every token of the caller, the one
// the request came with included, stops working.
func RevokeMyTokens(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "revoke-my-tokens", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		if r.TokenHash == "" {
			return nil, httpapi.ErrUnauthorized.With("the request's token is unknown")
		}
		now := d.Clock.Now().UTC()
		n, err := revokeAll(ctx, d, r.Caller, now, func(tx *ledger.Tx, listed []string) int {
			n := len(listed)
			if !slices.Contains(listed, r.TokenHash) { // a token issued before tokens were listed
				revoke(tx, r, now)
				n++
			}
			return n
		}, func(tx *ledger.Tx, revoked int) {
			notifyToken(tx, r.Caller, NotifyTokensRevoked, now, map[string]any{"by": ByYou, "revokedTokens": revoked})
		})
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, RevokeAllResponse{RevokedTokens: n})
	})
}

// operatorTarget is the user an operator token route names.
func operatorTarget(ctx context.Context, d httpapi.Services, r *httpapi.Request) (User, error) {
	id := r.PathParam("id")
	if !ValidUserID(id) {
		return User{}, ErrUserNotFound.With("no user %q", id)
	}
	return Get(ctx, d.Table, id)
}

// OperatorIssueToken is POST /operator/users/{id}/tokens: the payment
// system, having verified the person again, gets a new token for an
// existing user (lost, expired, revoked or stolen token) and every older
// token of the user is revoked in the same transaction. The new token
// starts a new absolute lifetime.
func OperatorIssueToken(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "issue-token", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		var in struct{}
		if err := r.DecodeOptional(&in); err != nil {
			return nil, err
		}
		u, err := operatorTarget(ctx, d, r)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		var tok issued
		n, err := revokeAll(ctx, d, u.ID, now, nil, func(tx *ledger.Tx, revoked int) {
			tok = issue(tx, u, now, now.Add(d.Config.TokenMaxLifetime), d.Config.TokenTTL)
			notifyToken(tx, u.ID, NotifyTokenIssued, now, map[string]any{"tokenExpiresAt": tok.ExpiresAt, "revokedTokens": revoked})
		})
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, IssuedTokenResponse{
			UserID: u.ID, Token: tok.Token, TokenExpiresAt: tok.ExpiresAt, RevokedTokens: n,
			TokenNote: "shown once; every older token of this user is revoked (cached answers end within 30 seconds)",
		})
	})
}

// OperatorRevokeTokens is DELETE /operator/users/{id}/tokens: every token
// of the user stops working (the user can get a new one only from the
// operator).
func OperatorRevokeTokens(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "revoke-user-tokens", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		u, err := operatorTarget(ctx, d, r)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		n, err := revokeAll(ctx, d, u.ID, now, nil, func(tx *ledger.Tx, revoked int) {
			notifyToken(tx, u.ID, NotifyTokensRevoked, now, map[string]any{"by": ByOperator, "revokedTokens": revoked})
		})
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, RevokeAllResponse{RevokedTokens: n})
	})
}

// errRaced: a listed token changed (rotated or revoked) between the listing
// and the transaction; revokeAll lists again.
var errRaced = errors.New("users: a token changed while its user's tokens were being revoked")

const (
	revokeBatch    = 40 // tokens per transaction (2 items each; 100 is the limit)
	revokeAttempts = 5
)

// revokeAll revokes every live listed token of userID: one strongly
// consistent Query of the listings, then transactions that revoke each
// token (conditioned on its not being revoked yet) and drop its listing.
// A token rotated or revoked meanwhile fails its condition and the whole
// is listed again, so a token that a concurrent rotation creates is either
// seen or the rotation is refused (it needs its old token unrevoked): none
// survives. extra (optional) adds items for tokens the listing lacks and
// returns the revoked count; final adds the last transaction's own items
// (the notification, a new token) with the total revoked.
func revokeAll(ctx context.Context, d httpapi.Services, userID string, now time.Time,
	extra func(tx *ledger.Tx, listed []string) int, final func(tx *ledger.Tx, revoked int)) (int, error) {
	total, attempts := 0, 0
	for {
		hashes, err := listedTokens(ctx, d.Table, userID, now)
		if err != nil {
			return 0, err
		}
		batch, last := hashes, len(hashes) <= revokeBatch
		if !last {
			batch = hashes[:revokeBatch]
		}
		tx := &ledger.Tx{}
		n := len(batch)
		for _, h := range batch {
			tx.Update(tokenKey(h), "SET revokedAt = :at", ledger.Cond{
				Expr:   "attribute_exists(PK) AND userId = :uid AND attribute_not_exists(revokedAt)",
				Values: ddb.Item{":at": ddb.Time(now), ":uid": ddb.S(userID)},
			}, func(ddb.Item) error { return errRaced })
			tx.Delete(listedKey(userID, h), ledger.Cond{}, nil)
		}
		if last {
			if extra != nil {
				n = extra(tx, hashes)
			}
			final(tx, total+n)
		}
		err = d.Ledger.Commit(ctx, tx)
		if errors.Is(err, errRaced) && attempts < revokeAttempts {
			attempts++
			continue
		}
		if err != nil {
			return total, err
		}
		total += n
		if last {
			return total, nil
		}
	}
}

// listedTokens is the hashes of the user's listed tokens that have not
// expired (an expired token needs no revoking): one Query.
func listedTokens(ctx context.Context, t *ddb.Table, userID string, now time.Time) ([]string, error) {
	var out []string
	q := t.Query(&dynamodb.QueryInput{
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": ddb.S(ledger.UserPK(userID)), ":sk": ddb.S(skListed),
		},
		ProjectionExpression: aws.String("tokenHash, expiresAtMs"),
		ConsistentRead:       aws.Bool(true),
	})
	for q.Next(ctx) {
		d := ddb.Decode(q.Item())
		h, exp := d.MustS("tokenHash"), d.Millis("expiresAtMs")
		if err := d.Err(); err != nil {
			return out, err
		}
		if now.Before(exp) {
			out = append(out, h)
		}
	}
	return out, q.Err()
}
