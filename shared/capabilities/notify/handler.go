package notify

import (
	"context"
	"net/http"

	"minipay/shared/edge/httpapi"
)

// NotificationList is a page of GET /me/notifications.
type NotificationList struct {
	Notifications []Notification `json:"notifications"`
	NextCursor    string         `json:"nextCursor,omitempty"`
}

// ListHandler is GET /me/notifications?limit=&cursor=: the caller's inbox,
// newest first, one Query per inbox shard per page.
func ListHandler(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "list-notifications", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		ns, next, err := List(ctx, d.Table, r.Caller, page, d.Clock.Now())
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, NotificationList{Notifications: ns, NextCursor: next})
	})
}
