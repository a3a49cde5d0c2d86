package webhooks

import (
	"net/http"

	"minipay/shared/edge/apispec"
)

func init() {
	store := []string{"store_not_found", "not_store_owner"}
	ep := append([]string{"webhook_not_found"}, store...)
	apispec.Register(
		apispec.Op{Function: "create-webhook", Request: CreateRequest{}, Response: EndpointSecret{}, Status: http.StatusCreated,
			Errors: append([]string{"invalid_field", "too_many_webhooks"}, store...)},
		apispec.Op{Function: "list-webhooks", Response: EndpointList{}, Errors: store},
		apispec.Op{Function: "delete-webhook", Response: map[string]any{}, Errors: ep},
		apispec.Op{Function: "rotate-webhook-secret", Request: struct{}{}, RequestOptional: true, Response: EndpointSecret{}, Errors: ep},
		apispec.Op{Function: "set-webhook-status", Request: StatusRequest{}, Response: Endpoint{}, Errors: append([]string{"invalid_field"}, ep...)},
		apispec.Op{Function: "list-webhook-deliveries", Response: DeliveryList{}, Query: apispec.Paging, Errors: ep},
		apispec.Op{Function: "resend-webhook", Request: struct{}{}, RequestOptional: true, Response: Delivery{}, Status: http.StatusAccepted,
			Errors: append([]string{"webhook_event_not_found"}, ep...)},
		apispec.Op{Function: "test-webhook", Request: struct{}{}, RequestOptional: true, Response: Delivery{}, Status: http.StatusAccepted, Errors: ep},
	)
}
