package notify

import "minipay/shared/edge/apispec"

func init() {
	apispec.Register(apispec.Op{Function: "list-notifications", Response: NotificationList{}, Query: apispec.Paging, Errors: []string{}})
}
