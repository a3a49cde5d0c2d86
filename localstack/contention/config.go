package contention

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Defaults.
const (
	DefaultServiceTime  = 15 * time.Millisecond
	DefaultWCUPerSecond = 1000
)

// Environment variables FromEnv reads (all optional).
const (
	EnvServiceTime  = "MINIPAY_CONTENTION_SERVICE_TIME" // Go duration, e.g. 15ms
	EnvWCUPerSecond = "MINIPAY_CONTENTION_WCU"          // per partition, e.g. 1000
	EnvNoPadding    = "MINIPAY_CONTENTION_NO_PADDING"   // "true": do not sleep up to the service time
)

// KeySchema names a table's primary key attributes.
type KeySchema struct{ Partition, Sort string }

// Config tunes the model. The zero value is the default model.
type Config struct {
	// ServiceTime is how long an admitted TransactWriteItems occupies its
	// items, and the least time the call takes. 0: DefaultServiceTime.
	ServiceTime time.Duration
	// StandardServiceTime is the least time an admitted PutItem, UpdateItem,
	// DeleteItem or BatchWriteItem takes. 0: no padding.
	StandardServiceTime time.Duration
	// NoPadding: calls take as long as DynamoDB Local takes; a transaction's
	// occupancy then ends when it answers, if that is before ServiceTime.
	NoPadding bool

	// WCUPerSecond refills each partition's bucket. 0: DefaultWCUPerSecond.
	WCUPerSecond float64
	// BurstWCU is the bucket's size (what a quiet partition absorbs at once).
	// 0: one second's worth, WCUPerSecond.
	BurstWCU float64

	NoOccupancy bool // never answer TransactionConflict
	NoCapacity  bool // never throttle

	// KeySchema is every table's primary key unless TableKeys names the
	// table. Zero: {"PK", "SK"}, minipay's table.
	KeySchema KeySchema
	TableKeys map[string]KeySchema

	// OutsideSDK applies the model around the inner call instead of inside
	// the SDK client's retry loop; needed when the inner client ignores
	// option functions (a fake). Errors then surface without SDK retries.
	OutsideSDK bool

	// Now and Sleep replace the real clock in unit tests. Sleep must return
	// early when ctx is done.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration)
}

func (c Config) withDefaults() Config {
	if c.ServiceTime <= 0 {
		c.ServiceTime = DefaultServiceTime
	}
	if c.WCUPerSecond <= 0 {
		c.WCUPerSecond = DefaultWCUPerSecond
	}
	if c.BurstWCU <= 0 {
		c.BurstWCU = c.WCUPerSecond
	}
	if c.KeySchema == (KeySchema{}) {
		c.KeySchema = KeySchema{Partition: "PK", Sort: "SK"}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	return c
}

func (c Config) schema(table string) KeySchema {
	if k, ok := c.TableKeys[table]; ok {
		return k
	}
	return c.KeySchema
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// RegisterFlags adds -<prefix>service-time, -<prefix>wcu and
// -<prefix>no-padding to fs, writing into c.
func (c *Config) RegisterFlags(fs *flag.FlagSet, prefix string) {
	fs.DurationVar(&c.ServiceTime, prefix+"service-time", DefaultServiceTime, "modelled TransactWriteItems service time (item occupancy)")
	fs.Float64Var(&c.WCUPerSecond, prefix+"wcu", DefaultWCUPerSecond, "modelled write capacity units per second per partition")
	fs.BoolVar(&c.NoPadding, prefix+"no-padding", false, "do not sleep calls up to the modelled service time")
}

// FromEnv reads EnvServiceTime, EnvWCUPerSecond and EnvNoPadding; unset
// variables keep the defaults.
func FromEnv() (Config, error) {
	var c Config
	if v := os.Getenv(EnvServiceTime); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("contention: %s=%q is not a duration", EnvServiceTime, v)
		}
		c.ServiceTime = d
	}
	if v := os.Getenv(EnvWCUPerSecond); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return c, fmt.Errorf("contention: %s=%q is not a positive number", EnvWCUPerSecond, v)
		}
		c.WCUPerSecond = f
	}
	if v := os.Getenv(EnvNoPadding); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("contention: %s=%q is not a boolean", EnvNoPadding, v)
		}
		c.NoPadding = b
	}
	return c, nil
}
