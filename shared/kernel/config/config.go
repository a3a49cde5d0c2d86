// Package config is the only way configuration reaches code: environment
// variables whose names are the constants below.
package config

import (
	"fmt"
	"os"
	"time"
)

// Environment variable names. The CDK stack, the local emulator and the
// Makefile set exactly these.
const (
	EnvTable               = "MINIPAY_TABLE"                 // DynamoDB table name
	EnvDynamoDBEndpoint    = "MINIPAY_DYNAMODB_ENDPOINT"     // set only locally (DynamoDB Local)
	EnvOperatorTokenSHA256 = "MINIPAY_OPERATOR_TOKEN_SHA256" // hex sha256 of the operator token
	EnvLogLevel            = "MINIPAY_LOG_LEVEL"             // debug|info|warn|error
	EnvRegistration        = "MINIPAY_REGISTRATION"          // open|operator: who may create users
	EnvTokenTTL            = "MINIPAY_TOKEN_TTL"             // lifetime of a user token, a Go duration (default 2160h = 90 days)
	EnvTokenMaxLifetime    = "MINIPAY_TOKEN_MAX_LIFETIME"    // absolute lifetime of a token and its rotations (default 8760h = 365 days)
	EnvOrderAuthorization  = "MINIPAY_ORDER_AUTHORIZATION"   // how long an order's payment authorization lasts, a Go duration (default 15m)
	EnvSavingsQueueURL     = "MINIPAY_SAVINGS_QUEUE_URL"     // the savings-work SQS queue (set on its senders only)
	EnvWebhookQueueURL     = "MINIPAY_WEBHOOK_QUEUE_URL"     // the webhook-delivery SQS queue (set on its senders only)
	// EnvWebhookAllowLoopback=true lets webhook endpoints be plain http on a
	// loopback address (the local stack sets it; the cloud never does).
	EnvWebhookAllowLoopback = "MINIPAY_WEBHOOK_ALLOW_LOOPBACK"
	EnvFoldQueueURL         = "MINIPAY_FOLD_QUEUE_URL" // the fold-work SQS queue (set on its senders only)
	EnvDueQueueURL          = "MINIPAY_DUE_QUEUE_URL"  // the due-work SQS queue (set on its senders only)
)

// DefaultTable is the table name used locally when MINIPAY_TABLE is unset.
const DefaultTable = "minipay"

// Registration policies.
const (
	// RegistrationOpen: anyone may register (the local default).
	RegistrationOpen = "open"
	// RegistrationOperator: only the operator token (the payment system that
	// verified the person) may create users (the cloud stack's default).
	RegistrationOperator = "operator"
)

// DefaultTokenTTL is how long a user token lives unless configured.
const DefaultTokenTTL = 90 * 24 * time.Hour

// DefaultTokenMaxLifetime is how long a token issued at registration (or
// by the operator) and the tokens rotated from it may live in all: rotation
// never extends past it. Never less than the TokenTTL in force.
const DefaultTokenMaxLifetime = 365 * 24 * time.Hour

// DefaultOrderAuthorization is how long a merchant order's authorization
// (the hold on the customer's account) lasts unless configured: the store
// must accept and start cooking within it.
const DefaultOrderAuthorization = 15 * time.Minute

// Config is what a function needs to start.
type Config struct {
	Table               string
	DynamoDBEndpoint    string
	OperatorTokenSHA256 string
	LogLevel            string
	Registration        string
	TokenTTL            time.Duration
	TokenMaxLifetime    time.Duration
	OrderAuthorization  time.Duration
	// SavingsQueueURL is the savings-work queue ("" locally: the emulator
	// brings an in-process queue).
	SavingsQueueURL string
	// WebhookQueueURL is the webhook-delivery queue ("" locally).
	WebhookQueueURL string
	// WebhookAllowLoopback: webhook endpoints may be http://127.0.0.1 /
	// localhost (local only: tests and `make run` receive on loopback).
	WebhookAllowLoopback bool
	// FoldQueueURL is the fold-work queue (likewise).
	FoldQueueURL string
	// DueQueueURL is the due-work queue (likewise).
	DueQueueURL string
	// DueParallel, when above 0, caps how many of a bucket's items a due
	// worker takes at once (httpapi.DuePass.Parallel). The cloud leaves it
	// 0: each table partition takes its own writes. The local stack sets
	// 1: DynamoDB Local serves every partition on one machine, where a
	// worker's parallel items gain it little (DueBacklog: 16 workers take
	// 1.1 times the items with 8 at once) and take that time from the API.
	DueParallel int
	// FoldParallel, when above 0, caps how many fold shards the fold job
	// works at once (ledger.SetFoldParallel). The cloud leaves it 0: every
	// shard at once, each its own partitions. The local stack sets 2: on
	// DynamoDB Local the minute's 32 shards at once were a burst of folds
	// that held up the API's requests for seconds.
	FoldParallel int
}

// FromEnv reads the configuration. A missing table name is an error in the
// cloud (the stack always sets it) but defaults locally.
func FromEnv() (Config, error) {
	c := Config{
		Table:               os.Getenv(EnvTable),
		DynamoDBEndpoint:    os.Getenv(EnvDynamoDBEndpoint),
		OperatorTokenSHA256: os.Getenv(EnvOperatorTokenSHA256),
		LogLevel:            os.Getenv(EnvLogLevel),
		Registration:        os.Getenv(EnvRegistration),
		SavingsQueueURL:     os.Getenv(EnvSavingsQueueURL),
		FoldQueueURL:        os.Getenv(EnvFoldQueueURL),
		WebhookQueueURL:     os.Getenv(EnvWebhookQueueURL),
		DueQueueURL:         os.Getenv(EnvDueQueueURL),
	}
	switch v := os.Getenv(EnvWebhookAllowLoopback); v {
	case "", "false", "0":
	case "true", "1":
		c.WebhookAllowLoopback = true
	default:
		return c, fmt.Errorf("config: %s=%q is neither true nor false", EnvWebhookAllowLoopback, v)
	}
	if c.Table == "" {
		if c.DynamoDBEndpoint == "" {
			return c, fmt.Errorf("config: %s is not set", EnvTable)
		}
		c.Table = DefaultTable
	}
	if s := os.Getenv(EnvTokenTTL); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("config: %s=%q is not a positive duration", EnvTokenTTL, s)
		}
		c.TokenTTL = d
	}
	if s := os.Getenv(EnvTokenMaxLifetime); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("config: %s=%q is not a positive duration", EnvTokenMaxLifetime, s)
		}
		c.TokenMaxLifetime = d
	}
	if s := os.Getenv(EnvOrderAuthorization); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Minute || d > 24*time.Hour {
			return c, fmt.Errorf("config: %s=%q is not a duration from 1m to 24h", EnvOrderAuthorization, s)
		}
		c.OrderAuthorization = d
	}
	return c.WithDefaults()
}

// WithDefaults fills in the defaults and checks the values.
func (c Config) WithDefaults() (Config, error) {
	if c.Registration == "" {
		c.Registration = RegistrationOpen
	}
	if c.Registration != RegistrationOpen && c.Registration != RegistrationOperator {
		return c, fmt.Errorf("config: %s=%q is neither %q nor %q", EnvRegistration, c.Registration, RegistrationOpen, RegistrationOperator)
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.TokenMaxLifetime <= 0 {
		c.TokenMaxLifetime = DefaultTokenMaxLifetime
	}
	c.TokenMaxLifetime = max(c.TokenMaxLifetime, c.TokenTTL)
	if c.OrderAuthorization <= 0 {
		c.OrderAuthorization = DefaultOrderAuthorization
	}
	return c, nil
}
