// Package app wires functions: configuration -> store -> handlers. The
// Lambda mains and the local emulator both build handlers here, so the
// emulator runs the very code the cloud runs.
package app

import (
	"context"
	"log/slog"
	"os"

	"minipay/shared/accounts"
	"minipay/shared/api"
	"minipay/shared/auth"
	"minipay/shared/clock"
	"minipay/shared/config"
	"minipay/shared/pending"
	"minipay/shared/routes"
	"minipay/shared/sprinkle"
	"minipay/shared/store"
	"minipay/shared/transfers"
)

// Handlers maps every function in the route and schedule tables to its
// handler (a value lambda.Start accepts). A test checks it covers them all.
func Handlers(d api.Deps) map[string]any {
	return map[string]any{
		routes.AuthorizerFunction: auth.Handler(d),
		"create-user":             accounts.Register(d),
		"list-accounts":           accounts.ListAccounts(d),
		"open-account":            accounts.OpenAccount(d),
		"get-account":             accounts.GetAccount(d),
		"charge":                  accounts.Charge(d),
		"deposit-savings":         accounts.DepositSavings(d),
		"withdraw":                accounts.Withdraw(d),
		"list-entries":            accounts.ListEntries(d),
		"operator-deposit":        accounts.OperatorDeposit(d),
		"transfer":                transfers.Create(d),
		"create-room":             sprinkle.CreateRoom(d),
		"add-room-member":         sprinkle.AddMember(d),
		"get-room":                sprinkle.GetRoom(d),
		"create-sprinkle":         sprinkle.Create(d),
		"claim-sprinkle":          sprinkle.Claim(d),
		"get-sprinkle":            sprinkle.Get(d),
		"sprinkle-reclaim":        sprinkle.Reclaim(d),
		"list-transfers":          pending.ListTransfers(d),
		"accept-transfer":         pending.Accept(d),
		"reject-transfer":         pending.Reject(d),
		"cancel-transfer":         pending.Cancel(d),
		"update-settings":         pending.UpdateSettings(d),
		"list-notifications":      pending.ListNotifications(d),
		"pending-sweep":           pending.Sweep(d),
	}
}

// Deps builds handler dependencies from a configuration.
func Deps(ctx context.Context, cfg config.Config, clk clock.Clock) (api.Deps, error) {
	db, err := store.NewClient(ctx, cfg)
	if err != nil {
		return api.Deps{}, err
	}
	return api.Deps{
		Store:               store.New(db, cfg.Table, clk),
		Clock:               clk,
		Log:                 Logger(cfg.LogLevel),
		OperatorTokenSHA256: cfg.OperatorTokenSHA256,
	}, nil
}

// MustDeps is Deps from the environment with the real clock, for a Lambda's
// main: a function that cannot configure itself should fail at cold start.
func MustDeps() api.Deps {
	cfg, err := config.FromEnv()
	if err == nil {
		var d api.Deps
		if d, err = Deps(context.Background(), cfg, clock.Real{}); err == nil {
			return d
		}
	}
	slog.Error("startup failed", "error", err.Error())
	os.Exit(1)
	return api.Deps{}
}

// Logger is structured JSON logging at the configured level.
func Logger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
