package webhooks

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// Owner answers a store's owner, or the store's refusal (store_not_found);
// merchant.StoreOwner in the wiring (the store is merchant's item).
type Owner func(ctx context.Context, t *ddb.Table, store string) (string, error)

// errNotOwner is merchant's refusal of a store that is not the caller's.
var errNotOwner = domainerr.New("not_store_owner")

// Endpoint is an endpoint as its owner reads it (never its secret).
type Endpoint struct {
	ID          string   `json:"id"`
	Store       string   `json:"store"`
	URL         string   `json:"url"`
	Description string   `json:"description,omitempty"`
	Events      []string `json:"events" doc:"the event types it receives; empty: every type"`
	Status      string   `json:"status" doc:"enabled or disabled"`
	// DisabledReason is "failing" when the endpoint failed for 3 days
	// without a success ("" when its owner disabled it).
	DisabledReason string     `json:"disabledReason,omitempty" doc:"failing: disabled after failing for 3 days without a success"`
	FailingSince   *time.Time `json:"failingSince,omitempty" doc:"the first failed attempt since the last success"`
	// PreviousSecretExpiresAt: until then deliveries carry a signature by
	// the previous secret too (a rotation's grace period).
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty" doc:"until then each delivery is also signed with the secret before the last rotation"`
	CreatedAt               time.Time  `json:"createdAt"`
}

// EndpointSecret is an endpoint with its signing secret: the answer of a
// creation and of a rotation, the only times the secret is shown.
type EndpointSecret struct {
	Endpoint
	Secret string `json:"secret" doc:"whsec_...: verify each delivery's Minipay-Signature with it; shown only now"`
}

// EndpointList is GET /stores/{id}/webhooks.
type EndpointList struct {
	Endpoints []Endpoint `json:"endpoints"`
}

// CreateRequest is POST /stores/{id}/webhooks.
type CreateRequest struct {
	URL         string   `json:"url" openapi:"required" doc:"https URL events are POSTed to"`
	Events      []string `json:"events,omitempty" doc:"event types to receive (default: every type)"`
	Description string   `json:"description,omitempty"`
}

// StatusRequest is PUT /stores/{id}/webhooks/{webhookId}/status.
type StatusRequest struct {
	Status string `json:"status" openapi:"required,enum=enabled|disabled"`
}

// Delivery is one event's delivery to one endpoint, with its attempts.
type Delivery struct {
	Event         Event      `json:"event"` // the payload, exactly as POSTed
	Endpoint      string     `json:"endpoint"`
	Status        string     `json:"status" doc:"pending, delivered or failed"`
	Attempts      int64      `json:"attempts"`
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	DeliveredAt   *time.Time `json:"deliveredAt,omitempty"`
	FailedAt      *time.Time `json:"failedAt,omitempty"`
	Log           []Attempt  `json:"log" doc:"the attempts, oldest first (the last 30)"`
}

// Attempt is one POST of a delivery.
type Attempt struct {
	At        time.Time `json:"at"`
	Status    int64     `json:"status" doc:"the receiver's HTTP status; 0 when none came (timeout, refused, connection error)"`
	LatencyMs int64     `json:"latencyMs"`
	Error     string    `json:"error,omitempty"`
}

// DeliveryList is a page of an endpoint's delivery log, newest first.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

func (e endpoint) view(now time.Time) Endpoint {
	out := Endpoint{ID: e.ID, Store: e.Store, URL: e.URL, Description: e.Description, Events: e.Types, Status: e.Status,
		DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt}
	if out.Events == nil {
		out.Events = []string{}
	}
	if !e.FailingSince.IsZero() {
		f := e.FailingSince.UTC()
		out.FailingSince = &f
	}
	if e.PrevSecret != "" && now.Before(e.PrevUntil) {
		u := e.PrevUntil.UTC()
		out.PreviousSecretExpiresAt = &u
	}
	return out
}

func deliveryFromItem(item ddb.Item) (Delivery, error) {
	d := ddb.Decode(item)
	out := Delivery{Endpoint: d.MustS("endpointId"), Status: d.MustS("status"), Attempts: d.N("attempts"), Log: []Attempt{}}
	if err := json.Unmarshal([]byte(d.MustS("body")), &out.Event); err != nil {
		return out, err
	}
	opt := func(name string) *time.Time {
		if !d.Has(name) {
			return nil
		}
		t := d.Time(name).UTC()
		return &t
	}
	if out.Status == DeliveryPending {
		out.NextAttemptAt = opt("nextAttemptAt")
	}
	out.DeliveredAt, out.FailedAt = opt("deliveredAt"), opt("failedAt")
	if l, ok := item["log"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			m, ok := v.(*types.AttributeValueMemberM)
			if !ok {
				continue
			}
			a := ddb.Decode(m.Value)
			out.Log = append(out.Log, Attempt{At: a.Time("at").UTC(), Status: a.N("status"), LatencyMs: a.N("latencyMs"), Error: a.S("error")})
			if err := a.Err(); err != nil {
				return out, err
			}
		}
	}
	return out, d.Err()
}

// own checks the caller owns the path's store and answers its id.
func own(ctx context.Context, d httpapi.Services, owner Owner, r *httpapi.Request) (string, error) {
	store := r.PathParam("id")
	o, err := owner(ctx, d.Table, store)
	if err != nil {
		return "", err
	}
	if o != r.Caller {
		return "", errNotOwner.With("store %s is not yours", store)
	}
	return store, nil
}

// ownEndpoint is own plus the path's endpoint, read.
func ownEndpoint(ctx context.Context, d httpapi.Services, owner Owner, r *httpapi.Request) (endpoint, error) {
	id := r.PathParam("webhookId")
	if !ValidEndpointID(id) {
		return endpoint{}, ErrNotFound.With("no webhook endpoint %q", id)
	}
	store, err := own(ctx, d, owner, r)
	if err != nil {
		return endpoint{}, err
	}
	item, err := d.Table.Get(ctx, endpointKey(store, id))
	if err != nil {
		return endpoint{}, err
	}
	if item == nil {
		return endpoint{}, ErrNotFound.With("store %s has no webhook endpoint %s", store, id)
	}
	return endpointFromItem(item)
}

// ownEndpointAct is ownEndpoint for an action on the endpoint, a POST
// that takes no fields (its optional body is {}).
func ownEndpointAct(ctx context.Context, d httpapi.Services, owner Owner, r *httpapi.Request) (endpoint, error) {
	if err := r.EmptyBody(); err != nil {
		return endpoint{}, err
	}
	return ownEndpoint(ctx, d, owner, r)
}

func checkTypes(in []string) ([]string, error) {
	seen := map[string]bool{}
	for _, t := range in {
		if !slices.Contains(Types, t) {
			return nil, domainerr.Field("events", "events must be among %s", strings.Join(Types, ", "))
		}
		if seen[t] {
			return nil, domainerr.Field("events", "event type %s is listed twice", t)
		}
		seen[t] = true
	}
	return in, nil
}

// Create is POST /stores/{id}/webhooks {url, events?, description?} (the
// store's owner): a new endpoint, enabled, and its secret, shown once.
func Create(d httpapi.Services, owner Owner) httpapi.LambdaHandler {
	return httpapi.Handle(d, "create-webhook", httpapi.Body(func(ctx context.Context, r *httpapi.Request, in CreateRequest) (*httpapi.Response, error) {
		url, err := CheckURL(in.URL, d.Config.WebhookAllowLoopback)
		if err != nil {
			return nil, err
		}
		typs, err := checkTypes(in.Events)
		if err != nil {
			return nil, err
		}
		desc, err := httpapi.Text("description", in.Description, MaxDescription, false)
		if err != nil {
			return nil, err
		}
		store, err := own(ctx, d, owner, r)
		if err != nil {
			return nil, err
		}
		if err := unmark(ctx, d.Ledger, store); err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		e := endpoint{ID: ddb.NewID(prefixEP), Store: store, Owner: r.Caller, URL: url, Status: EndpointEnabled, Description: desc,
			Types: typs, Secret: NewSecret(), CreatedAt: now}
		tx := &ledger.Tx{}
		tx.Update(countKey(store), "ADD endpoints :one", ledger.Cond{
			Expr: "attribute_not_exists(endpoints) OR endpoints < :max", Values: ddb.Item{":one": ddb.N(1), ":max": ddb.N(MaxEndpoints)},
		}, func(ddb.Item) error {
			return ErrTooMany.With("store %s has %d webhook endpoints, the most it may have; delete one first", store, MaxEndpoints)
		})
		saveEndpoint(tx, e, -1, nil)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, EndpointSecret{Endpoint: e.view(now), Secret: e.Secret})
	}))
}

// List is GET /stores/{id}/webhooks (the store's owner): every endpoint,
// without secrets.
func List(d httpapi.Services, owner Owner) httpapi.LambdaHandler {
	return httpapi.Handle(d, "list-webhooks", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		store, err := own(ctx, d, owner, r)
		if err != nil {
			return nil, err
		}
		eps, err := storeEndpoints(ctx, d.Table, store)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now()
		out := EndpointList{Endpoints: make([]Endpoint, 0, len(eps))}
		for _, e := range eps {
			out.Endpoints = append(out.Endpoints, e.view(now))
		}
		return httpapi.JSON(http.StatusOK, out)
	})
}

// Delete is DELETE /stores/{id}/webhooks/{webhookId}: the endpoint goes;
// its pending deliveries end (failed, "endpoint deleted") when next tried.
func Delete(d httpapi.Services, owner Owner) httpapi.LambdaHandler {
	return httpapi.Handle(d, "delete-webhook", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		e, err := ownEndpoint(ctx, d, owner, r)
		if err != nil {
			return nil, err
		}
		tx := &ledger.Tx{}
		deleteEndpoint(tx, e, func(ddb.Item) error {
			return ErrNotFound.With("store %s has no webhook endpoint %s", e.Store, e.ID)
		})
		tx.Update(countKey(e.Store), "ADD endpoints :minus", ledger.Cond{Values: ddb.Item{":minus": ddb.N(-1)}}, nil)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, map[string]any{"id": e.ID, "deleted": true})
	})
}

// Rotate is POST /stores/{id}/webhooks/{webhookId}/rotate: a new secret,
// shown once; the old one keeps signing (a second signature on every
// delivery) for RotationGrace, so the receiver can switch without losing
// an event. Rotating again within the grace period drops the oldest.
func Rotate(d httpapi.Services, owner Owner) httpapi.LambdaHandler {
	return httpapi.Handle(d, "rotate-webhook-secret", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		e, err := ownEndpointAct(ctx, d, owner, r)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		var secret string
		store, id := e.Store, e.ID
		e, found, err := modifyEndpoint(ctx, d, &e, store, id, func(e *endpoint, _ *ledger.Tx) error {
			secret = NewSecret()
			e.PrevSecret, e.Secret = e.Secret, secret
			e.PrevUntil, e.RotatedAt = now.Add(RotationGrace).Truncate(time.Millisecond), now
			return nil
		})
		if err == nil && !found {
			err = ErrNotFound.With("store %s has no webhook endpoint %s", store, id)
		}
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, EndpointSecret{Endpoint: e.view(now), Secret: secret})
	})
}

// SetStatus is PUT /stores/{id}/webhooks/{webhookId}/status {status}:
// disable (no new deliveries; pending ones end when next tried) or enable
// (a disabled endpoint's failure streak starts afresh).
func SetStatus(d httpapi.Services, owner Owner) httpapi.LambdaHandler {
	return httpapi.Handle(d, "set-webhook-status", httpapi.Body(func(ctx context.Context, r *httpapi.Request, in StatusRequest) (*httpapi.Response, error) {
		if in.Status != EndpointEnabled && in.Status != EndpointDisabled {
			return nil, domainerr.Field("status", "status must be %q or %q", EndpointEnabled, EndpointDisabled)
		}
		e, err := ownEndpoint(ctx, d, owner, r)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		store, id := e.Store, e.ID
		e, found, err := modifyEndpoint(ctx, d, &e, store, id, func(e *endpoint, _ *ledger.Tx) error {
			e.Status, e.UpdatedAt, e.DisabledReason = in.Status, now, ""
			if in.Status == EndpointEnabled {
				e.FailingSince, e.DisabledAt = time.Time{}, time.Time{}
			} else {
				e.DisabledAt = now
			}
			return nil
		})
		if err == nil && !found {
			err = ErrNotFound.With("store %s has no webhook endpoint %s", store, id)
		}
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, e.view(now))
	}))
}

// ListDeliveries is GET /stores/{id}/webhooks/{webhookId}/deliveries: the
// endpoint's delivery log, newest event first, each with its attempts.
func ListDeliveries(d httpapi.Services, owner Owner) httpapi.LambdaHandler {
	return httpapi.Handle(d, "list-webhook-deliveries", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		e, err := ownEndpoint(ctx, d, owner, r)
		if err != nil {
			return nil, err
		}
		items, next, err := d.Table.QueryPageShards(ctx, ddb.Listing{Name: "webhook-deliveries", Bind: []string{e.ID}, PartitionAttr: ddb.AttrPK,
			Partition: pkEndpoint + e.ID, Lower: skDelivery, Upper: skDelivery + "~", NewestFirst: true, Now: d.Clock.Now()},
			deliveryShards(e.ID), page)
		if err != nil {
			return nil, err
		}
		out := DeliveryList{Deliveries: make([]Delivery, 0, len(items)), NextCursor: next}
		for _, it := range items {
			dl, err := deliveryFromItem(it)
			if err != nil {
				return nil, err
			}
			out.Deliveries = append(out.Deliveries, dl)
		}
		return httpapi.JSON(http.StatusOK, out)
	})
}

// Resend is POST /stores/{id}/webhooks/{webhookId}/deliveries/{eventId}/resend:
// the event is delivered again (the same body and id), from now, with a
// fresh 3 days of retries, whatever became of it before.
func Resend(d httpapi.Services, owner Owner) httpapi.LambdaHandler {
	return httpapi.Handle(d, "resend-webhook", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		ev := r.PathParam("eventId")
		e, err := ownEndpointAct(ctx, d, owner, r)
		if err != nil {
			return nil, err
		}
		notFound := ErrEventNotFound.With("endpoint %s has no delivery of event %q", e.ID, ev)
		if !ValidEventID(ev) {
			return nil, notFound
		}
		item, key, err := getDelivery(ctx, d.Table, e.ID, ev)
		if err != nil {
			return nil, err
		}
		if item == nil {
			return nil, notFound
		}
		now := d.Clock.Now().UTC()
		tx := &ledger.Tx{}
		tx.Update(key, "SET #s = :pending, retryFrom = :now, nextAttemptAt = :now, #b = :b, #d = :d REMOVE deliveredAt, failedAt",
			ledger.Cond{Expr: "attribute_exists(PK)", Names: map[string]string{"#s": "status", "#b": ddb.AttrDuePK, "#d": ddb.AttrDueSK},
				Values: ddb.Item{":pending": ddb.S(DeliveryPending), ":now": ddb.Time(now), ":b": ddb.S(dueWebhook.Bucket(ev)),
					":d": ddb.S(ddb.DueAt(now, ev))}}, func(ddb.Item) error { return notFound })
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		dl, err := deliveryFromItem(item)
		if err != nil {
			return nil, err
		}
		dl.Status, dl.DeliveredAt, dl.FailedAt, dl.NextAttemptAt = DeliveryPending, nil, nil, &now
		return httpapi.JSON(http.StatusAccepted, dl)
	})
}

// SendTest is POST /stores/{id}/webhooks/{webhookId}/test: a webhook.test
// event, delivered to this endpoint only (within the minute), like any other.
func SendTest(d httpapi.Services, owner Owner) httpapi.LambdaHandler {
	return httpapi.Handle(d, "test-webhook", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		e, err := ownEndpointAct(ctx, d, owner, r)
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		ev := Event{ID: NewEventID(now), Type: Test, Created: now, Store: e.Store}
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		item := newDelivery(e, ev.ID, Test, "", string(body), 0, now, now, now)
		tx := &ledger.Tx{}
		tx.Put(item, ledger.Cond{Expr: "attribute_not_exists(PK)"}, nil)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		dl, err := deliveryFromItem(item)
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusAccepted, dl)
	})
}
