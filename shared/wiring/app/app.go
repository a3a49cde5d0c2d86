// Package app wires functions: configuration -> kernel -> handlers. The
// Lambda mains and the local emulator both build handlers here, so the
// emulator runs the very code the cloud runs.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/capabilities/accounts"
	"minipay/shared/capabilities/auth"
	"minipay/shared/capabilities/merchant"
	"minipay/shared/capabilities/notify"
	"minipay/shared/capabilities/savings"
	"minipay/shared/capabilities/settlement"
	"minipay/shared/capabilities/sprinkle"
	"minipay/shared/capabilities/transfers"
	"minipay/shared/capabilities/users"
	"minipay/shared/capabilities/webhooks"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
	"minipay/shared/wiring/openapi"
)

// StoreOwner is how the webhooks capability learns a store's owner: the
// merchant capability answers (it emits the events, so webhooks cannot
// import it; the wiring joins the two).
var StoreOwner = merchant.StoreOwner

// Handlers maps every function in the route and schedule tables to its
// handler (a value lambda.Start accepts). A test checks it covers them all.
//
// Each function gets its own fork of the ledger, as each Lambda function is
// its own process in the cloud (what one remembers, another does not).
func Handlers(shared httpapi.Services) map[string]any {
	d := func() httpapi.Services {
		f := shared
		if f.Ledger != nil {
			f.Ledger = f.Ledger.Fork()
		}
		return f
	}
	out := map[string]any{}
	for _, group := range []func(func() httpapi.Services) map[string]any{
		edgeHandlers, userHandlers, accountHandlers, transferHandlers, sprinkleHandlers,
		ledgerHandlers, merchantHandlers, settlementHandlers, savingsHandlers, webhookHandlers,
	} {
		for name, h := range group(d) {
			if _, twice := out[name]; twice {
				panic("app: function " + name + " is wired twice")
			}
			out[name] = h
		}
	}
	return out
}

// The handler groups, one per capability: each calls d once per function,
// for that function's own Services.

func edgeHandlers(d func() httpapi.Services) map[string]any {
	return map[string]any{
		routes.AuthorizerFunction: auth.Handler(d()),
		routes.Fallback.Function:  httpapi.NotFound(d()),
		routes.Document.Function:  openapi.Handler(d()),
	}
}

func userHandlers(d func() httpapi.Services) map[string]any {
	return map[string]any{
		"create-user":        users.Register(d()),
		"rotate-token":       users.RotateToken(d()),
		"revoke-token":       users.RevokeToken(d()),
		"revoke-my-tokens":   users.RevokeMyTokens(d()),
		"issue-token":        users.OperatorIssueToken(d()),
		"revoke-user-tokens": users.OperatorRevokeTokens(d()),
		"list-notifications": notify.ListHandler(d()),
	}
}

func accountHandlers(d func() httpapi.Services) map[string]any {
	return map[string]any{
		"list-accounts":    accounts.ListAccounts(d()),
		"get-account":      accounts.GetAccount(d()),
		"charge":           accounts.Charge(d()),
		"withdraw":         accounts.Withdraw(d()),
		"list-entries":     accounts.ListEntries(d()),
		"operator-deposit": accounts.OperatorDeposit(d()),
	}
}

func transferHandlers(d func() httpapi.Services) map[string]any {
	return map[string]any{
		"transfer":        transfers.Create(d()),
		"list-transfers":  transfers.ListTransfers(d()),
		"accept-transfer": transfers.Accept(d()),
		"reject-transfer": transfers.Reject(d()),
		"cancel-transfer": transfers.Cancel(d()),
		"update-settings": transfers.UpdateSettings(d()),
		"pending-sweep":   transfers.PendingJob(d()).Handler(),
	}
}

func sprinkleHandlers(d func() httpapi.Services) map[string]any {
	return map[string]any{
		"create-room":      sprinkle.CreateRoom(d()),
		"add-room-member":  sprinkle.AddMember(d()),
		"leave-room":       sprinkle.LeaveRoom(d()),
		"get-room":         sprinkle.GetRoom(d()),
		"create-sprinkle":  sprinkle.Create(d()),
		"claim-sprinkle":   sprinkle.Claim(d()),
		"get-sprinkle":     sprinkle.Get(d()),
		"sprinkle-reclaim": sprinkle.ReclaimJob(d()).Handler(),
	}
}

func ledgerHandlers(d func() httpapi.Services) map[string]any {
	return map[string]any{
		"ledger-checkpoint": CheckpointJob(d()),
		"ledger-fold":       FoldJob(d()),
		"fold-worker":       FoldWorker(d()),
		"due-worker":        DueWorker(d()),
	}
}

// DueWorker is the due-work queue's worker: a bucket of a one-minute due
// job's backlog per message (httpapi.DueJob), the job named by its
// schedule.
func DueWorker(d httpapi.Services) func(context.Context, events.SQSEvent) (httpapi.DueWorkRun, error) {
	return httpapi.DueWorker(d, map[string]httpapi.BucketWork{
		"pending-sweep":    transfers.PendingJob(d).Bucket(),
		"sprinkle-reclaim": sprinkle.ReclaimJob(d).Bucket(),
		"order-expiry":     merchant.ExpiryJob(d).Bucket(),
		"settlement-sweep": settlement.SweepJob(d).Bucket(),
		"webhook-sweep":    webhooks.SweepJob(d).Bucket(),
	})
}

func merchantHandlers(d func() httpapi.Services) map[string]any {
	return map[string]any{
		"create-store":      merchant.CreateStore(d()),
		"get-store":         merchant.GetStore(d()),
		"set-store-status":  merchant.SetStoreStatus(d()),
		"withdraw-store":    merchant.Withdraw(d()),
		"list-store-orders": merchant.ListStoreOrders(d()),
		"place-order":       merchant.Place(d()),
		"list-orders":       merchant.ListOrders(d()),
		"get-order":         merchant.GetOrder(d()),
		"accept-order":      merchant.Accept(d()),
		"reject-order":      merchant.Reject(d()),
		"cancel-order":      merchant.Cancel(d()),
		"cook-order":        merchant.Cook(d()),
		"progress-order":    merchant.Progress(d()),
		"complete-order":    merchant.Complete(d()),
		"refund-order":      merchant.Refund(d()),
		"order-expiry":      merchant.ExpiryJob(d()).Handler(),
	}
}

func settlementHandlers(d func() httpapi.Services) map[string]any {
	return map[string]any{
		"create-settlement":  settlement.Create(d()),
		"list-settlements":   settlement.List(d()),
		"get-settlement":     settlement.Get(d()),
		"pay-settlement":     settlement.Pay(d()),
		"decline-settlement": settlement.Decline(d()),
		"cancel-settlement":  settlement.Cancel(d()),
		"remind-settlement":  settlement.Remind(d()),
		"settlement-sweep":   settlement.SweepJob(d()).Handler(),
	}
}

func savingsHandlers(d func() httpapi.Services) map[string]any {
	return map[string]any{
		"open-account":         savings.Open(d()),
		"deposit-savings":      savings.Deposit(d()),
		"close-savings":        savings.Close(d()),
		"savings-interest":     savings.InterestJob(d()),
		"savings-installments": savings.InstallmentJob(d()),
		"savings-worker":       savings.Worker(d()),
	}
}

func webhookHandlers(d func() httpapi.Services) map[string]any {
	return map[string]any{
		"create-webhook":          webhooks.Create(d(), StoreOwner),
		"list-webhooks":           webhooks.List(d(), StoreOwner),
		"delete-webhook":          webhooks.Delete(d(), StoreOwner),
		"rotate-webhook-secret":   webhooks.Rotate(d(), StoreOwner),
		"set-webhook-status":      webhooks.SetStatus(d(), StoreOwner),
		"list-webhook-deliveries": webhooks.ListDeliveries(d(), StoreOwner),
		"resend-webhook":          webhooks.Resend(d(), StoreOwner),
		"test-webhook":            webhooks.SendTest(d(), StoreOwner),
		"webhook-sweep":           webhooks.SweepJob(d()).Handler(),
		"webhook-worker":          webhooks.Worker(d()),
	}
}

// CheckpointBudget bounds one checkpoint run (the function's timeout is
// 10 s; the next day's run resumes).
const CheckpointBudget = 7 * time.Second

// CheckpointJob is the ledger-checkpoint scheduled job.
func CheckpointJob(d httpapi.Services) func(context.Context, routes.ScheduledEvent) (ledger.CheckpointRun, error) {
	return func(ctx context.Context, ev routes.ScheduledEvent) (ledger.CheckpointRun, error) {
		run, err := d.Ledger.RollCheckpoints(ctx, CheckpointBudget)
		d.Log.InfoContext(ctx, "ledger checkpoint", "job", ev.Job, "scheduledTime", ev.ScheduledTime,
			"due", run.Seen, "rolled", run.Rolled, "entries", run.Entries, "done", run.Done, "errors", run.Failed)
		if err == nil {
			err = run.Err()
		}
		return run, err
	}
}

// FoldBudget bounds one fold run (the function's timeout is 10 s; the
// next minute's run resumes).
const FoldBudget = 7 * time.Second

// FoldJob is the ledger-fold scheduled job. Each account it leaves with
// postings (one credited faster than a pass folds) goes to the fold-work
// queue, whose worker folds it continuously (FoldWorker).
func FoldJob(d httpapi.Services) func(context.Context, routes.ScheduledEvent) (ledger.FoldRun, error) {
	return func(ctx context.Context, ev routes.ScheduledEvent) (ledger.FoldRun, error) {
		run, err := d.Ledger.FoldPostings(ctx, FoldBudget)
		sent, serr := sendFoldWork(ctx, d, run.Hot)
		d.Log.InfoContext(ctx, "ledger fold", "job", ev.Job, "scheduledTime", ev.ScheduledTime,
			"due", run.Seen, "accounts", run.Accounts, "postings", run.Postings, "done", run.Done, "errors", run.Failed,
			"hot", len(run.Hot), "sent", sent)
		if err == nil {
			err = run.Err()
		}
		return run, errors.Join(err, serr)
	}
}

// FoldQueue is the fold-work queue (routes.Queues).
const FoldQueue = "fold-work"

// FoldWorkerBudget bounds one fold worker's folding (its timeout is
// routes.TimeoutOf("fold-worker"), a minute); it sends itself again when
// postings remain.
const FoldWorkerBudget = 45 * time.Second

// sendFoldWork sends one fold-work message per account (none without a
// queue: the next pass goes on with them).
func sendFoldWork(ctx context.Context, d httpapi.Services, ws []ledger.FoldWork) (int, error) {
	if d.Queue == nil {
		return 0, nil
	}
	sent := 0
	var errs []error
	for _, w := range ws {
		body, err := json.Marshal(w)
		if err == nil {
			err = d.Queue.Send(ctx, FoldQueue, string(body))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("fold work for %s: %w", w.Account, err))
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

// FoldWork is what a fold worker invocation did.
type FoldWork struct {
	Records  int `json:"records"`
	Postings int `json:"postings"`
	Folds    int `json:"folds"`
	Races    int `json:"races"`
	Held     int `json:"held"`     // messages for an account another worker holds (dropped)
	Requeued int `json:"requeued"` // continuations sent
}

// FoldWorker is the fold-worker function: one account per message
// (ledger.FoldWork), folded for FoldWorkerBudget (less when the
// invocation's deadline is nearer) and sent again while postings remain.
// An error makes the queue deliver the message again; the fold job goes on
// folding the account meanwhile.
func FoldWorker(d httpapi.Services) func(context.Context, events.SQSEvent) (FoldWork, error) {
	return func(ctx context.Context, ev events.SQSEvent) (FoldWork, error) {
		out := FoldWork{Records: len(ev.Records)}
		var errs []error
		for _, rec := range ev.Records {
			var w ledger.FoldWork
			if err := json.Unmarshal([]byte(rec.Body), &w); err != nil {
				errs = append(errs, fmt.Errorf("message %s: %w", rec.MessageId, err))
				continue
			}
			budget := FoldWorkerBudget
			if dl, ok := ctx.Deadline(); ok {
				budget = min(budget, time.Until(dl)-10*time.Second)
			}
			run, next, err := d.Ledger.FoldHot(ctx, w, max(budget, time.Second))
			out.Postings += run.Postings
			out.Folds += run.Folds
			out.Races += run.Races
			if run.Held {
				out.Held++
			}
			if err == nil && next != nil {
				err = errors.New("postings left and no queue to continue on")
				if d.Queue != nil {
					body, _ := json.Marshal(next)
					if err = d.Queue.Send(ctx, FoldQueue, string(body)); err == nil {
						out.Requeued++
					}
				}
			}
			d.Log.InfoContext(ctx, "fold worker", "account", w.Account, "gen", w.Gen, "postings", run.Postings, "folds", run.Folds,
				"rounds", run.Rounds, "races", run.Races, "held", run.Held, "left", run.Left, "ms", run.Took.Milliseconds())
			if err != nil {
				errs = append(errs, fmt.Errorf("message %s (account %s): %w", rec.MessageId, w.Account, err))
			}
		}
		return out, errors.Join(errs...)
	}
}

// NewServices builds the functions' services on a client.
func NewServices(db ddb.Client, cfg config.Config, clk clock.Clock, log *slog.Logger) (httpapi.Services, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return httpapi.Services{}, err
	}
	table := ddb.NewTable(db, cfg.Table)
	d := httpapi.Services{Ledger: ledger.New(table, clk), Table: table, Clock: clk, Log: log, Config: cfg}
	d.Ledger.SetFoldParallel(cfg.FoldParallel)
	d.Authorize = auth.Decide(d)
	return d, nil
}

// Services builds the functions' services from a configuration.
func Services(ctx context.Context, cfg config.Config, clk clock.Clock) (httpapi.Services, error) {
	db, err := ddb.NewClient(ctx, cfg)
	if err != nil {
		return httpapi.Services{}, err
	}
	d, err := NewServices(db, cfg, clk, Logger(cfg.LogLevel))
	if err != nil {
		return d, err
	}
	if d.Queue, err = newQueueSender(ctx, cfg); err != nil {
		return d, err
	}
	return d, nil
}

// MustServices is Services from the environment with the real clock, for
// a Lambda's main: a function that cannot configure itself should fail at cold start.
func MustServices() httpapi.Services {
	cfg, err := config.FromEnv()
	if err == nil {
		var d httpapi.Services
		if d, err = Services(context.Background(), cfg, clock.Real{}); err == nil {
			return d
		}
	}
	slog.Error("startup failed", "error", err.Error())
	os.Exit(1)
	return httpapi.Services{}
}

// Logger is structured JSON logging at the configured level.
func Logger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
