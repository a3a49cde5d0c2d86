// Package config is the only way configuration reaches code: environment
// variables whose names are the constants below.
package config

import (
	"fmt"
	"os"
)

// Environment variable names. The CDK stack, the local emulator and the
// Makefile set exactly these.
const (
	EnvTable               = "MINIPAY_TABLE"                 // DynamoDB table name
	EnvDynamoDBEndpoint    = "MINIPAY_DYNAMODB_ENDPOINT"     // set only locally (DynamoDB Local)
	EnvOperatorTokenSHA256 = "MINIPAY_OPERATOR_TOKEN_SHA256" // hex sha256 of the operator token
	EnvLogLevel            = "MINIPAY_LOG_LEVEL"             // debug|info|warn|error
)

// DefaultTable is the table name used locally when MINIPAY_TABLE is unset.
const DefaultTable = "minipay"

// Config is what a function needs to start.
type Config struct {
	Table               string
	DynamoDBEndpoint    string
	OperatorTokenSHA256 string
	LogLevel            string
}

// FromEnv reads the configuration. A missing table name is an error in the
// cloud (the stack always sets it) but defaults locally.
func FromEnv() (Config, error) {
	c := Config{
		Table:               os.Getenv(EnvTable),
		DynamoDBEndpoint:    os.Getenv(EnvDynamoDBEndpoint),
		OperatorTokenSHA256: os.Getenv(EnvOperatorTokenSHA256),
		LogLevel:            os.Getenv(EnvLogLevel),
	}
	if c.Table == "" {
		if c.DynamoDBEndpoint == "" {
			return c, fmt.Errorf("config: %s is not set", EnvTable)
		}
		c.Table = DefaultTable
	}
	return c, nil
}
