// Package routes is the spine of minipay: ONE table of HTTP routes and ONE
// table of schedules. The CDK stack, the local emulator, the Makefile's
// function list and the README's API section are derived from or checked
// against these tables, so a new operation is one row plus one handler.
//
// This package is pure data: it imports nothing from AWS.
package routes

import (
	"fmt"
	"sort"
	"time"
)

// Auth says who may call a route.
type Auth string

const (
	Public   Auth = "public"   // no token
	User     Auth = "user"     // a user's bearer token
	Operator Auth = "operator" // the external payment system's operator token
)

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
}

// DynamoDB action sets. A TransactWriteItems call is authorized per item by
// the item's action (Put, Update, ConditionCheck, Delete).
var (
	readItem  = []string{"dynamodb:GetItem"}
	readList  = []string{"dynamodb:GetItem", "dynamodb:Query"}
	moveMoney = []string{"dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
	create    = []string{"dynamodb:ConditionCheckItem", "dynamodb:PutItem"}
)

// Sets for rooms and sprinkles (issue 5).
var (
	queryOnly = []string{"dynamodb:Query"}
	putOnly   = []string{"dynamodb:PutItem"} // a transaction of Puts
	// reclaimDue: Query the due index, read the escrow balance, then one
	// transaction (Update, Put entries, ConditionCheck a zero remainder).
	reclaimDue = []string{"dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}
)

// Sets for pending transfers (issue 4).
var (
	// updateOnly: PUT /me/settings is one single-item transaction (Update).
	updateOnly = []string{"dynamodb:UpdateItem"}
	// resolveTransfer: read the transfer, then one transaction that also
	// moves the list pointers (Delete the old status's, Put the new).
	resolveTransfer = []string{"dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
	// sendTransfer: moveMoney, for the immediate and the pending variant.
	sendTransfer = moveMoney
	// pendingSweep: Query the due index, then per transfer one transaction
	// (Update, release, pointers Delete/Put, notifications Put).
	pendingSweep = []string{"dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}
)

// AuthorizerTable is what the authorizer may do: look up a token hash.
var AuthorizerTable = readItem

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
	{Method: "POST", Path: "/users", Function: "create-user", Auth: Public, Table: create,
		Summary: "Register: creates the user and their main account; returns an API token once"},
	{Method: "GET", Path: "/accounts", Function: "list-accounts", Auth: User, Table: readList,
		Summary: "List my accounts"},
	{Method: "POST", Path: "/accounts", Function: "open-account", Auth: User, Table: create,
		Summary: "Open a savings account"},
	{Method: "GET", Path: "/accounts/{id}", Function: "get-account", Auth: User, Table: readItem,
		Summary: "One of my accounts: balance, held, available"},
	{Method: "POST", Path: "/accounts/{id}/charges", Function: "charge", Auth: User, MovesMoney: true, Table: moveMoney,
		Summary: "Charge my main account from my bank (3,000,000 KRW per Asia/Seoul day)"},
	{Method: "POST", Path: "/accounts/{id}/deposits", Function: "deposit-savings", Auth: User, MovesMoney: true, Table: moveMoney,
		Summary: "Move money from my main account into this savings account"},
	{Method: "POST", Path: "/accounts/{id}/withdrawals", Function: "withdraw", Auth: User, MovesMoney: true, Table: moveMoney,
		Summary: "Withdraw from my main account to my bank"},
	{Method: "POST", Path: "/transfers", Function: "transfer", Auth: User, MovesMoney: true, Table: sendTransfer,
		Summary: "Send money from my main account to a friend's main account (auto-charges a shortfall in 10,000 KRW steps); {pending: bool} overrides my default"},
	{Method: "GET", Path: "/transfers", Function: "list-transfers", Auth: User, Table: queryOnly,
		Summary: "My pending transfers, newest first: ?role=sent|received&status=pending|accepted|rejected|cancelled|expired&limit=&cursor="},
	{Method: "POST", Path: "/transfers/{id}/accept", Function: "accept-transfer", Auth: User, MovesMoney: true, Table: resolveTransfer,
		Summary: "Accept a pending transfer sent to me: the money posts to my main account"},
	{Method: "POST", Path: "/transfers/{id}/reject", Function: "reject-transfer", Auth: User, MovesMoney: true, Table: resolveTransfer,
		Summary: "Reject a pending transfer sent to me: the sender's hold is released"},
	{Method: "POST", Path: "/transfers/{id}/cancel", Function: "cancel-transfer", Auth: User, MovesMoney: true, Table: resolveTransfer,
		Summary: "Cancel a pending transfer I sent: the hold is released"},
	{Method: "PUT", Path: "/me/settings", Function: "update-settings", Auth: User, Table: updateOnly,
		Summary: "My settings: {pendingTransfers: bool} makes my transfers wait for the receiver by default"},
	{Method: "GET", Path: "/me/notifications", Function: "list-notifications", Auth: User, Table: queryOnly,
		Summary: "My notifications, newest first: ?limit=&cursor="},
	{Method: "GET", Path: "/accounts/{id}/entries", Function: "list-entries", Auth: User, Table: readList,
		Summary: "History, newest first, one year: ?limit=&cursor="},
	{Method: "POST", Path: "/operator/deposits", Function: "operator-deposit", Auth: Operator, MovesMoney: true, Table: moveMoney,
		Summary: "External payment system credits a user's main account"},
	{Method: "POST", Path: "/rooms", Function: "create-room", Auth: User, Table: putOnly,
		Summary: "Create a chat room; I become its first member"},
	{Method: "POST", Path: "/rooms/{id}/members", Function: "add-room-member", Auth: User, Table: create,
		Summary: "Add a user to a room I am a member of (already a member: 200, idempotent)"},
	{Method: "GET", Path: "/rooms/{id}", Function: "get-room", Auth: User, Table: queryOnly,
		Summary: "A room and its members (members only)"},
	{Method: "POST", Path: "/rooms/{id}/sprinkles", Function: "create-sprinkle", Auth: User, MovesMoney: true, Table: moveMoney,
		Summary: "Sprinkle money into a room: {amount, count, split: equal|random, claimWindowMinutes}; returns a 3-character token"},
	{Method: "POST", Path: "/rooms/{id}/sprinkles/{token}/claims", Function: "claim-sprinkle", Auth: User, MovesMoney: true, Table: moveMoney,
		Summary: "Claim one share of a sprinkle into my main account (once per member, not my own)"},
	{Method: "GET", Path: "/rooms/{id}/sprinkles/{token}", Function: "get-sprinkle", Auth: User, Table: readList,
		Summary: "My sprinkle within 7 days: amount, claimed total, each claim"},
}

// Schedules is every recurring job. Later capabilities (interest, sweeps)
// add rows here; the emulator and the CDK stack pick them up.
var Schedules = []Schedule{
	{Name: "sprinkle-reclaim", Function: "sprinkle-reclaim", Every: time.Minute, Table: reclaimDue,
		Summary: "Return the unclaimed remainder of every closed sprinkle to its sprinkler (due index; catches up)"},
	{Name: "pending-sweep", Function: "pending-sweep", Every: time.Minute, Table: pendingSweep,
		Summary: "Remind receivers 24 h before a pending transfer expires, expire it at 72 h and release the hold (due index; catches up)"},
}

// Functions lists every Lambda function name: the authorizer, each route's
// function and each schedule's function, sorted and without duplicates.
func Functions() []string {
	seen := map[string]bool{AuthorizerFunction: true}
	for _, r := range Routes {
		seen[r.Function] = true
	}
	for _, s := range Schedules {
		seen[s.Function] = true
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
