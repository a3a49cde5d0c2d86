// Package routes is the spine of minipay: ONE table of HTTP routes and ONE
// table of schedules. The CDK stack, the local emulator, the Makefile's
// function list and the README's API section are derived from or checked
// against these tables, so a new operation is one row plus one handler.
//
// This package is pure data: it imports nothing from AWS (only config's
// environment variable names).
package routes

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"minipay/shared/kernel/config"
)

// Auth says who may call a route.
type Auth string

const (
	Public   Auth = "public"   // no token
	User     Auth = "user"     // a user's bearer token
	Operator Auth = "operator" // the external payment system's operator token
	// Registration is POST /users: public under the "open" registration
	// policy, the operator token under "operator" (the function checks it:
	// the route has no authorizer, so both policies deploy the same API).
	Registration Auth = "registration"
)

// AuthorizerCacheTTL is how long API Gateway (and the emulator) caches an
// authorizer answer per Authorization header: the window in which a revoked
// token still works.
const AuthorizerCacheTTL = 30 * time.Second

// FunctionTimeout is every API function's timeout (the stack sets it; the
// emulator enforces it). Past it Lambda fails the invocation and API
// Gateway answers 500.
const FunctionTimeout = 10 * time.Second

// Route is one HTTP API route served by one Lambda function.
type Route struct {
	Method   string
	Path     string // API Gateway syntax: /accounts/{id}
	Function string // directory name under functions/
	Auth     Auth
	// MovesMoney routes require an Idempotency-Key header.
	MovesMoney bool
	// Table is every DynamoDB action the function needs; the CDK stack grants
	// exactly these on the table and its indexes (least privilege).
	Table   []string
	Summary string
	// Throttle, if set, is the route's own API Gateway throttle (the
	// stage's RouteSettings); past it the gateway answers 429 at once. The
	// emulator enforces it on its clock. Throttle and ReservedConcurrency
	// are derived from the capacity model (limits.go, limits.json), not
	// written in the rows below.
	Throttle *Throttle
	// ReservedConcurrency, if set, is the function's reserved concurrency:
	// at most this many invocations at once, the rest refused by Lambda at
	// once (API Gateway answers them 500). The emulator enforces it too.
	// A row that reserves concurrency has a Throttle whose burst, plus what
	// the bucket refills in RefillMargin, fits in it (OverloadSafe): overload
	// is the gateway's fast 429 with nothing done, never Lambda's 500.
	ReservedConcurrency int
}

// RefillMargin is how long the requests of a full burst are assumed to run
// while the bucket refills: a route's Burst + Rate x RefillMargin must fit
// in its function's reserved concurrency.
const RefillMargin = 100 * time.Millisecond

// OverloadSafe says whether the row's overload is answered 429 by its
// throttle before its function's reserved concurrency could refuse
// (which API Gateway answers 500): nil if so, or if it reserves nothing.
func (r Route) OverloadSafe() error {
	if r.ReservedConcurrency <= 0 {
		return nil
	}
	if r.Throttle == nil {
		return fmt.Errorf("%s %s: reserved concurrency %d without a route throttle (the stage's burst would pass it)", r.Method, r.Path, r.ReservedConcurrency)
	}
	refill := int(math.Ceil(r.Throttle.Rate * RefillMargin.Seconds()))
	if r.Throttle.Burst+refill > r.ReservedConcurrency {
		return fmt.Errorf("%s %s: burst %d + %d refilled in %s exceeds reserved concurrency %d: overload would be answered 500",
			r.Method, r.Path, r.Throttle.Burst, refill, RefillMargin, r.ReservedConcurrency)
	}
	return nil
}

// Throttle is a token bucket: Burst requests at once, refilled at Rate
// requests per second.
type Throttle struct {
	Rate  float64
	Burst int
}

// Schedule is one recurring job: an EventBridge Scheduler schedule in the
// cloud, a timer in the local emulator. Exactly one of Every or DailyAt is set.
type Schedule struct {
	Name     string
	Function string
	Every    time.Duration // fixed rate, e.g. 5 * time.Minute
	DailyAt  string        // "HH:MM" in TimeZone
	TimeZone string        // IANA name; "Asia/Seoul" for business jobs
	Table    []string      // DynamoDB actions, as for Route
	Summary  string
	// Due lists the due-index kinds (ddb.DueBucket(kind)) a rate job reads,
	// each exactly: a sharded kind lists every shard. A sweep with nothing
	// due in them does nothing, so the local test clock fires the job only
	// at the minutes something falls due (emulator.AdvanceClock). Every rate
	// schedule declares it and each owning package's test checks it against
	// the kinds its job reads; daily jobs fire at each of their slots and
	// leave it empty.
	Due []string
}

// DynamoDB actions. A TransactWriteItems call is authorized per item by the
// item's action (Put, Update, ConditionCheck, Delete), so a row lists what
// its function's transactions contain and what it reads. A test drives
// every route and job and checks these lists against the calls really made,
// both ways (nothing missing, nothing unused).
const (
	get       = "dynamodb:GetItem"
	query     = "dynamodb:Query"
	put       = "dynamodb:PutItem"
	update    = "dynamodb:UpdateItem"
	del       = "dynamodb:DeleteItem"
	condCheck = "dynamodb:ConditionCheckItem"
)

func actions(a ...string) []string { return a }

// AuthorizerTable is what the authorizer may do: look up a token hash.
var AuthorizerTable = actions(get)

// BehindAuthorizer: the route's requests pass the token authorizer
// (public and registration routes have none).
func (r Route) BehindAuthorizer() bool { return r.Auth == User || r.Auth == Operator }

// Grants are the DynamoDB actions the route's function may take: its
// Table, and behind the authorizer the authorizer's own token lookup too,
// which the handler makes for a request the authorizer deferred
// (httpapi.RoleDeferred).
func (r Route) Grants() []string {
	if !r.BehindAuthorizer() {
		return r.Table
	}
	return append(slices.Clone(r.Table), AuthorizerTable...)
}

// ScheduledEvent is the event every scheduled job's function receives, in
// the cloud (EventBridge Scheduler fills in TargetInput's placeholders) and
// from the local emulator.
type ScheduledEvent struct {
	Job           string `json:"job"`
	ScheduledTime string `json:"scheduledTime"` // RFC 3339, UTC
}

// TargetInput is the Scheduler target input template for the schedule.
func (s Schedule) TargetInput() string {
	return fmt.Sprintf(`{"job":%q,"scheduledTime":"<aws.scheduler.scheduled-time>"}`, s.Name)
}

// AuthorizerFunction is the Lambda authorizer in front of every non-public route.
const AuthorizerFunction = "authorizer"

// Routes is the HTTP API.
var Routes = []Route{
	{Method: "POST", Path: "/users", Function: "create-user", Auth: Registration, Table: actions(put),
		Summary: "Register: creates the user and their main account; returns an API token once (open registration, or the operator token: see Registration)"},
	{Method: "POST", Path: "/me/token", Function: "rotate-token", Auth: User, Table: actions(del, get, put, update),
		Summary: "A new token for me; the token this request used is revoked (never past its absolute lifetime; notified)"},
	{Method: "DELETE", Path: "/me/token", Function: "revoke-token", Auth: User, Table: actions(del, put, update),
		Summary: "Revoke the token this request used (notified)"},
	{Method: "DELETE", Path: "/me/tokens", Function: "revoke-my-tokens", Auth: User, Table: actions(del, put, query, update),
		Summary: "Revoke every token of mine, this one included (notified)"},
	{Method: "POST", Path: "/operator/users/{id}/tokens", Function: "issue-token", Auth: Operator, Table: actions(del, get, put, query, update),
		Summary: "External payment system issues a new token for an existing user; every older token of theirs is revoked (notified)"},
	{Method: "DELETE", Path: "/operator/users/{id}/tokens", Function: "revoke-user-tokens", Auth: Operator, Table: actions(del, get, put, query, update),
		Summary: "External payment system revokes every token of a user (notified)"},
	{Method: "GET", Path: "/accounts", Function: "list-accounts", Auth: User, Table: actions(query),
		Summary: "List my accounts"},
	{Method: "POST", Path: "/accounts", Function: "open-account", Auth: User, Table: actions(put, update),
		Summary: "Open a savings account"},
	{Method: "GET", Path: "/accounts/{id}", Function: "get-account", Auth: User, Table: actions(get, query),
		Summary: "One of my accounts: balance, held, available"},
	{Method: "POST", Path: "/accounts/{id}/charges", Function: "charge", Auth: User, MovesMoney: true, Table: actions(put, update),
		Summary: "Charge my main account from my bank (3,000,000 KRW per Asia/Seoul day)"},
	{Method: "POST", Path: "/accounts/{id}/deposits", Function: "deposit-savings", Auth: User, MovesMoney: true, Table: actions(del, get, put, query, update),
		Summary: "Move money from my main account into this savings account"},
	{Method: "POST", Path: "/accounts/{id}/close", Function: "close-savings", Auth: User, MovesMoney: true, Table: actions(del, get, put, update),
		Summary: "Close a savings account early: its principal and the interest paid so far move to my main account"},
	{Method: "POST", Path: "/accounts/{id}/withdrawals", Function: "withdraw", Auth: User, MovesMoney: true, Table: actions(del, get, put, query, update),
		Summary: "Withdraw from my main account to my bank"},
	{Method: "GET", Path: "/accounts/{id}/entries", Function: "list-entries", Auth: User, Table: actions(get, query),
		Summary: "History, newest first, one year: ?limit=&cursor=&from=&to=&direction=in|out"},
	{Method: "POST", Path: "/transfers", Function: "transfer", Auth: User, MovesMoney: true, Table: actions(condCheck, del, get, put, query, update),
		Summary: "Send money from my main account to a friend's main account (auto-charges a shortfall in 10,000 KRW steps); {pending: bool} overrides my default"},
	{Method: "GET", Path: "/transfers", Function: "list-transfers", Auth: User, Table: actions(query),
		Summary: "My pending transfers, newest first: ?role=sent|received&status=pending|accepted|rejected|cancelled|expired&limit=&cursor="},
	{Method: "POST", Path: "/transfers/{id}/accept", Function: "accept-transfer", Auth: User, MovesMoney: true, Table: actions(del, get, put, update),
		Summary: "Accept a pending transfer sent to me: the money posts to my main account"},
	{Method: "POST", Path: "/transfers/{id}/reject", Function: "reject-transfer", Auth: User, MovesMoney: true, Table: actions(del, get, put, update),
		Summary: "Reject a pending transfer sent to me: the sender's hold is released"},
	{Method: "POST", Path: "/transfers/{id}/cancel", Function: "cancel-transfer", Auth: User, MovesMoney: true, Table: actions(del, get, put, update),
		Summary: "Cancel a pending transfer I sent: the hold is released"},
	{Method: "PUT", Path: "/me/settings", Function: "update-settings", Auth: User, Table: actions(put),
		Summary: "My settings: {pendingTransfers: bool} makes my transfers wait for the receiver by default"},
	{Method: "GET", Path: "/me/notifications", Function: "list-notifications", Auth: User, Table: actions(query),
		Summary: "My notifications, newest first: ?limit=&cursor="},
	{Method: "POST", Path: "/operator/deposits", Function: "operator-deposit", Auth: Operator, MovesMoney: true, Table: actions(get, put),
		Summary: "External payment system credits a user's main account; {reference} is credited once"},
	{Method: "POST", Path: "/rooms", Function: "create-room", Auth: User, Table: actions(put),
		Summary: "Create a chat room; I become its first member"},
	{Method: "POST", Path: "/rooms/{id}/members", Function: "add-room-member", Auth: User, Table: actions(condCheck, put, update),
		Summary: "Add a user to a room I am a member of (already a member: 200, idempotent; at most 5,000 members)"},
	{Method: "DELETE", Path: "/rooms/{id}/members/me", Function: "leave-room", Auth: User, Table: actions(del, update),
		Summary: "Leave a room"},
	{Method: "GET", Path: "/rooms/{id}", Function: "get-room", Auth: User, Table: actions(get, query),
		Summary: "A room and a page of its members (members only): ?limit=&cursor="},
	{Method: "POST", Path: "/rooms/{id}/sprinkles", Function: "create-sprinkle", Auth: User, MovesMoney: true, Table: actions(condCheck, del, get, put, query, update),
		Summary: "Sprinkle money into a room: {amount, count, split: equal|random, claimWindowMinutes}; returns a 3-character token"},
	{Method: "POST", Path: "/rooms/{id}/sprinkles/{token}/claims", Function: "claim-sprinkle", Auth: User, MovesMoney: true, Table: actions(condCheck, get, put, update),
		Summary: "Claim one share of a sprinkle into my main account (once per member, not my own)"},
	{Method: "GET", Path: "/rooms/{id}/sprinkles/{token}", Function: "get-sprinkle", Auth: User, Table: actions(get, query),
		Summary: "My sprinkle within 7 days: amount, claimed total, each claim"},
	// Merchant payments (shared/capabilities/merchant).
	{Method: "POST", Path: "/stores", Function: "create-store", Auth: User, Table: actions(del, put, update),
		Summary: "Register a store {name}: it gets its own merchant account and reserve account, operated with my token (at most 10 stores)"},
	{Method: "GET", Path: "/stores/{id}", Function: "get-store", Auth: User, Table: actions(get, query),
		Summary: "A store: name and status; to its owner also its merchant account (withdrawable) and its reserve account (payments in their 7-day refund window)"},
	{Method: "PUT", Path: "/stores/{id}/status", Function: "set-store-status", Auth: User, Table: actions(get, put, update),
		Summary: "Open or close my store {status: open|closed}; a closed store takes no new orders"},
	{Method: "POST", Path: "/stores/{id}/withdrawals", Function: "withdraw-store", Auth: User, MovesMoney: true, Table: actions(condCheck, del, get, put, query, update),
		Summary: "Withdraw from my store's merchant account to my bank (a payment reaches it when its 7-day refund window closes)"},
	{Method: "GET", Path: "/stores/{id}/orders", Function: "list-store-orders", Auth: User, Table: actions(get, query),
		Summary: "My store's orders, newest first: ?status=&limit=&cursor="},
	{Method: "POST", Path: "/orders", Function: "place-order", Auth: User, MovesMoney: true, Table: actions(condCheck, del, get, put, query, update),
		Summary: "Pay for an order {store, amount, memo?}: the amount is authorized (held) on my main account, auto-charging a shortfall; the store must accept and start cooking before the authorization expires (15 minutes)"},
	{Method: "GET", Path: "/orders", Function: "list-orders", Auth: User, Table: actions(query),
		Summary: "My orders as a customer, newest first: ?status=&limit=&cursor="},
	{Method: "GET", Path: "/orders/{id}", Function: "get-order", Auth: User, Table: actions(get, query),
		Summary: "One order (its customer or its store) and its timeline, newest first: ?limit=&cursor="},
	{Method: "POST", Path: "/orders/{id}/accept", Function: "accept-order", Auth: User, MovesMoney: true, Table: actions(del, get, put, update),
		Summary: "The store accepts an authorized order"},
	{Method: "POST", Path: "/orders/{id}/reject", Function: "reject-order", Auth: User, MovesMoney: true, Table: actions(del, get, put, update),
		Summary: "The store rejects an order until cooking starts (authorized or accepted): the authorization is voided; both sides are notified"},
	{Method: "POST", Path: "/orders/{id}/cancel", Function: "cancel-order", Auth: User, MovesMoney: true, Table: actions(del, get, put, update),
		Summary: "The customer cancels an order until cooking starts: the authorization is voided"},
	{Method: "POST", Path: "/orders/{id}/cook", Function: "cook-order", Auth: User, MovesMoney: true, Table: actions(del, get, put, update),
		Summary: "The store starts cooking an accepted order: the payment is captured into the store's reserve account, refundable for 7 days"},
	{Method: "POST", Path: "/orders/{id}/progress", Function: "progress-order", Auth: User, MovesMoney: true, Table: actions(del, get, put, update),
		Summary: "The store marks the order {status: cooked|picked_up|delivered}, each after the one before"},
	{Method: "POST", Path: "/orders/{id}/complete", Function: "complete-order", Auth: User, MovesMoney: true, Table: actions(del, get, put, update),
		Summary: "The customer confirms a delivered order"},
	{Method: "POST", Path: "/orders/{id}/refunds", Function: "refund-order", Auth: User, MovesMoney: true, Table: actions(condCheck, del, get, put, query, update),
		Summary: "The store refunds part or all of a captured order {amount, reason?} from its reserve account, within 7 days of the capture; refunds never exceed the capture"},
	// Store webhooks (shared/capabilities/webhooks): the store's owner registers
	// endpoints that order and refund events are POSTed to, signed.
	{Method: "POST", Path: "/stores/{id}/webhooks", Function: "create-webhook", Auth: User, Table: actions(del, get, put, update),
		Summary: "Register a webhook endpoint of my store {url (https), events?, description?}: returns its signing secret once (at most 5 endpoints)"},
	{Method: "GET", Path: "/stores/{id}/webhooks", Function: "list-webhooks", Auth: User, Table: actions(get, query),
		Summary: "My store's webhook endpoints (never their secrets)"},
	{Method: "DELETE", Path: "/stores/{id}/webhooks/{webhookId}", Function: "delete-webhook", Auth: User, Table: actions(del, get, update),
		Summary: "Delete a webhook endpoint; its pending deliveries end"},
	{Method: "POST", Path: "/stores/{id}/webhooks/{webhookId}/rotate", Function: "rotate-webhook-secret", Auth: User, Table: actions(get, update),
		Summary: "A new signing secret, shown once; the old one also signs every delivery for 24 hours"},
	{Method: "PUT", Path: "/stores/{id}/webhooks/{webhookId}/status", Function: "set-webhook-status", Auth: User, Table: actions(get, update),
		Summary: "Enable or disable a webhook endpoint {status: enabled|disabled}"},
	{Method: "GET", Path: "/stores/{id}/webhooks/{webhookId}/deliveries", Function: "list-webhook-deliveries", Auth: User, Table: actions(get, query),
		Summary: "The endpoint's delivery log, newest event first: each event, its status and its attempts (status code, latency): ?limit=&cursor="},
	{Method: "POST", Path: "/stores/{id}/webhooks/{webhookId}/deliveries/{eventId}/resend", Function: "resend-webhook", Auth: User, Table: actions(get, update),
		Summary: "Deliver an event to the endpoint again (same id and body), with a fresh 3 days of retries"},
	{Method: "POST", Path: "/stores/{id}/webhooks/{webhookId}/test", Function: "test-webhook", Auth: User, Table: actions(get, put),
		Summary: "Send a webhook.test event to the endpoint (within the minute)"},
	{Method: "POST", Path: "/settlements", Function: "create-settlement", Auth: User, MovesMoney: true, Table: actions(condCheck, get, put, query, update),
		Summary: "Ask participants to pay their part of a bill: {total, participants, split: equal|random|explicit, amounts?, minimumShare?, memo, dueAt?}; shares are computed once, exact to the won"},
	{Method: "GET", Path: "/settlements", Function: "list-settlements", Auth: User, Table: actions(query),
		Summary: "Settlement requests addressed to me or made by me, newest first: ?role=received|requested&status=open|paid|declined|completed|cancelled&limit=&cursor="},
	{Method: "GET", Path: "/settlements/{id}", Function: "get-settlement", Auth: User, Table: actions(query),
		Summary: "A settlement request: the requester sees every participant's status and the amount collected; a participant their share"},
	{Method: "POST", Path: "/settlements/{id}/shares/{userId}/pay", Function: "pay-settlement", Auth: User, MovesMoney: true, Table: actions(condCheck, del, get, put, query, update),
		Summary: "Pay my share into the requester's main account, once (auto-charges a shortfall in 10,000 KRW steps)"},
	{Method: "POST", Path: "/settlements/{id}/shares/{userId}/decline", Function: "decline-settlement", Auth: User, Table: actions(del, get, put, update),
		Summary: "Decline my share"},
	{Method: "POST", Path: "/settlements/{id}/cancel", Function: "cancel-settlement", Auth: User, Table: actions(del, put, query, update),
		Summary: "Cancel my settlement request's open shares (paid shares stay paid)"},
	{Method: "POST", Path: "/settlements/{id}/remind", Function: "remind-settlement", Auth: User, Table: actions(put, query, update),
		Summary: "Remind the open participants of my settlement request (at most once an hour)"},
}

// Fallback is API Gateway's $default route: every request no route matches
// (an unknown path, or a method a path does not have) gets a problem+json
// 404 or 405 from its function instead of the gateway's bare message.
var Fallback = Route{Method: "ANY", Path: "$default", Function: "not-found", Auth: Public,
	Summary: "Anything no route matches: problem+json 404 not_found, or 405 method_not_allowed with Allow"}

// DocumentPath is where the stack serves its OpenAPI document.
const DocumentPath = "/openapi.json"

// Document serves the OpenAPI document in the deployed stack (the local
// emulator serves the same bytes itself). It is not an operation of the
// document. Public, and throttled low: anyone may fetch 400 KB.
var Document = Route{Method: "GET", Path: DocumentPath, Function: "get-openapi", Auth: Public,
	Throttle: &Throttle{Rate: 5, Burst: 4}, ReservedConcurrency: 5,
	Summary: "The API's OpenAPI document (no token)"}

// Served is every route the deployed API serves besides $default: Routes
// and Document.
func Served() []Route { return append(slices.Clone(Routes), Document) }

// Schedules is every recurring job. The emulator and the CDK stack pick
// them up.
var Schedules = []Schedule{
	{Name: "sprinkle-reclaim", Function: "sprinkle-reclaim", Every: time.Minute, Table: actions(get, put, query, update), Due: shards("sprinkle", 16),
		Summary: "Return the unclaimed remainder of every closed sprinkle to its sprinkler (due index; catches up)"},
	{Name: "pending-sweep", Function: "pending-sweep", Every: time.Minute, Table: actions(del, put, query, update), Due: shards("pending", 16),
		Summary: "Remind receivers 24 h before a pending transfer expires, expire it at 72 h and release the hold (due index; catches up)"},
	{Name: "ledger-fold", Function: "ledger-fold", Every: time.Minute, Table: actions(del, get, query, update), Due: shards("fold", 32),
		Summary: "Fold the postings (credits written as their own items, so busy accounts never contend) into their accounts' balances (due index, sharded; resumable); an account it leaves with postings goes to the fold-work queue"},
	{Name: "ledger-checkpoint", Function: "ledger-checkpoint", DailyAt: "03:00", TimeZone: "Asia/Seoul", Table: actions(query, update),
		Summary: "Fold each due account's history into its checkpoint before TTL deletes year-old entries (due index; resumable)"},
	{Name: "order-expiry", Function: "order-expiry", Every: time.Minute, Table: actions(condCheck, del, get, put, query, update), Due: append(shards("order", 32), shards("order-reserve", 32)...),
		Summary: "Expire every order whose authorization lapsed before cooking started and release the hold; when a captured order's 7-day refund window closes, move what was not refunded from the store's reserve to its merchant account (due index; catches up)"},
	{Name: "settlement-sweep", Function: "settlement-sweep", Every: time.Minute, Table: actions(del, put, query, update), Due: shards("settlement", 16),
		Summary: "Remind open participants 24 h before a settlement's due date; finish publishing, cancellations and reminders a crash left (due index; catches up)"},
	{Name: "webhook-sweep", Function: "webhook-sweep", Every: time.Minute, Table: actions(put, query, update), Due: shards("webhook", 64),
		Summary: "Fan each new order event out to its store's webhook endpoints and send every due delivery to the webhook-delivery queue (due index; retries with backoff for 3 days)"},
	{Name: "savings-interest", Function: "savings-interest", DailyAt: "04:00", TimeZone: "Asia/Seoul", Table: nil,
		Summary: "Fan out the day's savings interest (and maturities): one message per due-index shard to the savings-work queue"},
	{Name: "savings-installments", Function: "savings-installments", DailyAt: "08:00", TimeZone: "Asia/Seoul", Table: nil,
		Summary: "Fan out the day's fixed-savings installments: one message per due-index shard to the savings-work queue"},
}

// shards are a sharded due kind's n buckets: kind#00, kind#01, ...
func shards(kind string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s#%02d", kind, i)
	}
	return out
}

// ScheduleNamed finds a schedule by name.
func ScheduleNamed(name string) (Schedule, bool) {
	for _, s := range Schedules {
		if s.Name == name {
			return s, true
		}
	}
	return Schedule{}, false
}

// Queue is one SQS queue and the worker function its event source mapping
// invokes (one message per invocation). A job divides its work into
// messages so no invocation runs near Lambda's limit: the stack creates the
// queue, its dead-letter queue, the mapping, sqs:SendMessage for the
// senders and the queue's URL in their environment (URLEnv); the emulator
// runs an in-process queue that invokes the same worker.
type Queue struct {
	Name    string
	Worker  string   // the function the queue invokes
	Senders []string // functions that send to it (the worker may re-enqueue its own message)
	URLEnv  string   // environment variable holding the queue URL (a constant of shared/kernel/config)
	// WorkerTimeout is the worker function's timeout (the queue's
	// visibility timeout is a multiple of it).
	WorkerTimeout time.Duration
	// MaxReceives: deliveries of one message before it goes to the
	// dead-letter queue.
	MaxReceives int
	// MaxConcurrency caps the worker invocations the mapping runs at once.
	MaxConcurrency int
	Table          []string // the worker's DynamoDB actions, as for Route
	Summary        string
}

// Queues is every work queue.
var Queues = []Queue{
	{Name: "savings-work", Worker: "savings-worker", Senders: []string{"savings-interest", "savings-installments", "savings-worker"},
		URLEnv: config.EnvSavingsQueueURL, WorkerTimeout: time.Minute, MaxReceives: 3, MaxConcurrency: 64,
		Table:   actions(condCheck, del, get, put, query, update),
		Summary: "One due-index shard of a savings job (interest + maturity, or installments) per message, time-budgeted; re-enqueues itself until the shard is done"},
	{Name: "webhook-delivery", Worker: "webhook-worker", Senders: []string{"webhook-sweep"},
		URLEnv: config.EnvWebhookQueueURL, WorkerTimeout: 30 * time.Second, MaxReceives: 3, MaxConcurrency: 32,
		Table:   actions(get, put, update),
		Summary: "One webhook delivery per message: POST the signed event (5 s timeout), record the attempt, schedule the next with backoff or mark it delivered or failed"},
	{Name: "fold-work", Worker: "fold-worker", Senders: []string{"ledger-fold", "fold-worker"},
		URLEnv: config.EnvFoldQueueURL, WorkerTimeout: time.Minute, MaxReceives: 3, MaxConcurrency: 32,
		Table:   actions(del, get, query, update),
		Summary: "One hot account per message (one the fold job left with postings), folded one transaction after another for 45 s under a lease (one worker per account); re-enqueues itself until the account is caught up"},
	{Name: "due-work", Worker: "due-worker", Senders: append(dueJobs(), "due-worker"),
		URLEnv: config.EnvDueQueueURL, WorkerTimeout: time.Minute, MaxReceives: 3, MaxConcurrency: 64,
		Table:   tableOf(dueJobs()),
		Summary: "One due bucket per message that a one-minute job's 7 s run left with work, drained for 40 s under a lease (one worker per bucket); re-enqueues itself until the bucket is caught up"},
}

// dueJobs are the one-minute jobs over the due index, whose backlogs the
// due-work queue takes (httpapi.DueJob).
func dueJobs() []string {
	return []string{"sprinkle-reclaim", "pending-sweep", "order-expiry", "settlement-sweep", "webhook-sweep"}
}

// tableOf is every DynamoDB action of the named schedules' functions: what
// a worker that runs their work needs, and no more.
func tableOf(names []string) []string {
	var out []string
	for _, n := range names {
		s, _ := ScheduleNamed(n)
		for _, a := range s.Table {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TimeoutOf is a function's timeout: a queue worker's own, else FunctionTimeout.
func TimeoutOf(function string) time.Duration {
	for _, q := range Queues {
		if q.Worker == function && q.WorkerTimeout > 0 {
			return q.WorkerTimeout
		}
	}
	return FunctionTimeout
}

// QueueSenders maps each sending function to the queues it sends to.
func QueueSenders() map[string][]Queue {
	out := map[string][]Queue{}
	for _, q := range Queues {
		for _, s := range q.Senders {
			out[s] = append(out[s], q)
		}
	}
	return out
}

// Functions lists every Lambda function name: the authorizer, each route's
// function and each schedule's function, sorted and without duplicates.
func Functions() []string {
	seen := map[string]bool{AuthorizerFunction: true, Fallback.Function: true, Document.Function: true}
	for _, r := range Routes {
		seen[r.Function] = true
	}
	for _, s := range Schedules {
		seen[s.Function] = true
	}
	for _, q := range Queues {
		seen[q.Worker] = true
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Expression is the EventBridge Scheduler expression for the schedule.
func (s Schedule) Expression() (string, error) {
	switch {
	case s.Every > 0 && s.DailyAt == "":
		if s.Every%time.Minute != 0 {
			return "", fmt.Errorf("schedule %s: rate must be whole minutes", s.Name)
		}
		m := int(s.Every / time.Minute)
		if m == 1 {
			return "rate(1 minute)", nil
		}
		return fmt.Sprintf("rate(%d minutes)", m), nil
	case s.Every == 0 && s.DailyAt != "":
		h, m, err := s.dailyAt()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("cron(%d %d * * ? *)", m, h), nil
	}
	return "", fmt.Errorf("schedule %s: set exactly one of Every and DailyAt", s.Name)
}

// Next is the first fire time strictly after t.
func (s Schedule) Next(t time.Time) (time.Time, error) {
	if s.Every > 0 {
		return t.Truncate(s.Every).Add(s.Every), nil
	}
	h, m, err := s.dailyAt()
	if err != nil {
		return time.Time{}, err
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule %s: %w", s.Name, err)
	}
	l := t.In(loc)
	next := time.Date(l.Year(), l.Month(), l.Day(), h, m, 0, 0, loc)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next, nil
}

func (s Schedule) dailyAt() (h, m int, err error) {
	if _, err = fmt.Sscanf(s.DailyAt, "%d:%d", &h, &m); err != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, 0, fmt.Errorf("schedule %s: DailyAt %q is not HH:MM", s.Name, s.DailyAt)
	}
	return h, m, nil
}

// ByFunction finds the route a function serves.
func ByFunction(function string) (Route, bool) {
	for _, r := range Routes {
		if r.Function == function {
			return r, true
		}
	}
	return Route{}, false
}

// MethodsFor lists the methods of every route whose path pattern matches
// path (a {param} segment matches any non-empty segment), sorted. The
// fallback answers 405 with them, or 404 when there are none.
func MethodsFor(path string) []string {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var out []string
	for _, r := range Routes {
		segs := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
		if len(segs) != len(parts) {
			continue
		}
		ok := true
		for i, s := range segs {
			if strings.HasPrefix(s, "{") {
				ok = ok && parts[i] != ""
			} else {
				ok = ok && s == parts[i]
			}
		}
		if ok && !slices.Contains(out, r.Method) {
			out = append(out, r.Method)
		}
	}
	sort.Strings(out)
	return out
}
