package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/capacity"
	"minipay/localstack/contention"
	"minipay/shared/kernel/ddb"
)

// EnvCloudModel, when true, runs the local stack under the cloud's
// conflicts (localstack/contention) and per-partition throttling
// (localstack/capacity): MINIPAY_CLOUD_MODEL=1 make run.
const EnvCloudModel = "MINIPAY_CLOUD_MODEL"

// EnvCloudModelScale scales the modelled partition limits (e.g. 0.05: 50
// WCU/s and 150 RCU/s), so that local traffic meets the hot spots.
const EnvCloudModelScale = "MINIPAY_CLOUD_MODEL_SCALE"

// capacityReport prints the cloud capacity of the traffic mixes from the
// recorded footprints (make capacity).
func capacityReport(args []string) error {
	fs := flag.NewFlagSet("capacity", flag.ExitOnError)
	file := fs.String("footprints", "", "a footprint table to read instead of the recorded one (localstack/capacity/footprints.json)")
	top := fs.Int("top", 6, "partitions shown per mix, hottest first")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("capacity: unexpected arguments %q", fs.Args())
	}
	t, err := capacity.Recorded()
	if *file != "" {
		var b []byte
		if b, err = os.ReadFile(*file); err == nil {
			t, err = capacity.ParseTable(b)
		}
	}
	if err != nil {
		return err
	}
	capacity.Report(os.Stdout, t, *top)
	return nil
}

// cloudModel wraps the local stack's client in the cloud model when
// EnvCloudModel says so: transaction conflicts and service time
// (contention.Model, its capacity off) under the partition capacity model
// (capacity.Enforcer: table and index partitions, reads and writes).
func cloudModel(ctx context.Context, db *dynamodb.Client, table string, log *slog.Logger) ddb.Client {
	on, _ := strconv.ParseBool(os.Getenv(EnvCloudModel))
	if !on {
		return db
	}
	s, err := capacity.DescribeSchema(ctx, db, table)
	if err != nil {
		log.Error("cloud model: cannot describe the table", "error", err.Error())
		os.Exit(1)
	}
	cfg, err := contention.FromEnv()
	if err != nil {
		log.Error("cloud model", "error", err.Error())
		os.Exit(1)
	}
	cfg.NoCapacity = true // the Enforcer charges capacity, from the real items
	e := capacity.Enforce(contention.Wrap(db, cfg), db, s)
	if v := os.Getenv(EnvCloudModelScale); v != "" {
		if e.Scale, err = strconv.ParseFloat(v, 64); err != nil || e.Scale <= 0 {
			log.Error("cloud model: "+EnvCloudModelScale+" is not a positive number", "value", v)
			os.Exit(1)
		}
	}
	scale := max(e.Scale, 0)
	if scale == 0 {
		scale = 1
	}
	log.Info("cloud model on: transaction conflicts, and every table and index partition throttled at its limits",
		"wcu", scale*capacity.PartitionWCU, "rcu", scale*capacity.PartitionRCU)
	return e
}
