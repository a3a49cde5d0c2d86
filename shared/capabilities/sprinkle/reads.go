package sprinkle

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
)

// ClaimView is one claim as the lookup shows it.
type ClaimView struct {
	UserID string    `json:"userId"`
	Amount int64     `json:"amount"`
	At     time.Time `json:"at"`
}

// LookupResponse is the sprinkler's view of a sprinkle.
type LookupResponse struct {
	ID           string      `json:"id"`
	RoomID       string      `json:"roomId"`
	Token        string      `json:"token"`
	CreatedAt    time.Time   `json:"createdAt"`
	ClosesAt     time.Time   `json:"closesAt"`
	Amount       int64       `json:"amount"`
	Count        int         `json:"count"`
	ClaimedTotal int64       `json:"claimedTotal"`
	Claims       []ClaimView `json:"claims"`
}

// Get is GET /rooms/{id}/sprinkles/{token}: only the sprinkler, only within
// LookupWindow (7 days) of creation; everyone else, and everyone
// afterwards, gets 404.
func Get(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "get-sprinkle", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		rid, err := roomID(r)
		if err != nil {
			return nil, err
		}
		token := r.PathParam("token")
		notFound := ErrSprinkleNotFound.With("you have no sprinkle %q in room %s", token, rid)
		if !ValidToken(token) {
			return nil, notFound
		}
		sp, err := byToken(ctx, d, rid, token, d.Clock.Now())
		if err != nil {
			return nil, err
		}
		if sp.Sprinkler != r.Caller || !d.Clock.Now().Before(sp.CreatedAt.Add(LookupWindow)) {
			return nil, notFound
		}
		claims, err := claimsOf(ctx, d.Table, sp.ID)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(claims, func(a, b ClaimView) int { return a.At.Compare(b.At) })
		var total int64
		for _, c := range claims {
			total += c.Amount
		}
		return httpapi.JSON(http.StatusOK, LookupResponse{ID: sp.ID, RoomID: rid, Token: token, CreatedAt: sp.CreatedAt, ClosesAt: sp.ClosesAt,
			Amount: sp.Amount, Count: len(sp.Shares), ClaimedTotal: total, Claims: claims})
	})
}

// claimsOf is a sprinkle's claims, in the order the Query returns them
// (none: an empty list): one strongly consistent Query.
func claimsOf(ctx context.Context, t *ddb.Table, sprinkleID string) ([]ClaimView, error) {
	claims := []ClaimView{}
	q := t.Query(&dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pkSprinkle + sprinkleID), ":sk": ddb.S(skClaimPfx)},
		ConsistentRead:            aws.Bool(true),
	})
	for q.Next(ctx) {
		c := ddb.Decode(q.Item())
		claims = append(claims, ClaimView{UserID: c.MustS("userId"), Amount: c.MustN("amount"), At: c.MustTime("at")})
		if err := c.Err(); err != nil {
			return claims, err
		}
	}
	return claims, q.Err()
}
