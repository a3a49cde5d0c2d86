package load

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/localstack/dynamolocal"
	"minipay/localstack/emulator"
	"minipay/shared/capabilities/users"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
	"minipay/shared/wiring/app"
	"minipay/shared/wiring/openapi"
)

// inProcess is the local stack this package starts itself, as `make run`
// runs it (the emulator with its route throttles, reserved concurrency,
// function timeout, schedules, work queues and TTL sweep in front of
// app.Handlers), on
// its own DynamoDB Local in memory (or Options.Endpoint's) and a fresh
// table, served on a loopback port.
type inProcess struct {
	url    string
	db     *dynamodb.Client
	inst   *ddbtest.Instrumented // counts the handlers' DynamoDB requests
	table  string
	ledger *ledger.Ledger

	local  *dynamolocal.Server // nil: Options.Endpoint's
	srv    *http.Server
	served chan error
	stopBG context.CancelFunc
	bg     sync.WaitGroup
}

func startInProcess(ctx context.Context, o Options) (_ *inProcess, err error) {
	s := &inProcess{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	endpoint := o.Endpoint
	if endpoint == "" {
		if s.local, err = dynamolocal.Start(ctx, dynamolocal.Options{}); err != nil {
			return nil, err
		}
		endpoint = s.local.Endpoint
	}
	if s.db, err = ddb.NewClient(ctx, config.Config{DynamoDBEndpoint: endpoint}); err != nil {
		return nil, err
	}
	s.table = fmt.Sprintf("load_%d", time.Now().UnixNano())
	if err = ddb.CreateTable(ctx, s.db, s.table); err != nil {
		return nil, err
	}
	s.inst = &ddbtest.Instrumented{Client: s.db}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	d, err := app.NewServices(s.inst, config.Config{Table: s.table, OperatorTokenSHA256: users.TokenHash(o.OperatorToken),
		Registration: o.StackRegistration, DueParallel: emulator.DueParallel, FoldParallel: emulator.FoldParallel}, clock.Real{}, log)
	if err != nil {
		return nil, err
	}
	s.ledger = d.Ledger
	spec, err := openapi.JSON()
	if err != nil {
		return nil, err
	}
	queues := emulator.NewLocalQueues(routes.Queues)
	d.Queue = queues
	em, err := emulator.New(emulator.Config{Handlers: app.Handlers(d), Routes: routes.Routes, Schedules: routes.Schedules,
		Clock: clock.Real{}, Log: log, Sweeper: &ddb.Sweep{DB: s.db, Table: s.table, Now: time.Now}, OpenAPI: spec, Queues: queues, FunctionTimeout: o.FunctionTimeout})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback, a free port
	if err != nil {
		return nil, err
	}
	s.srv = &http.Server{Handler: em, ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan error, 1)
	go func() { s.served <- s.srv.Serve(ln) }()
	s.url = "http://" + ln.Addr().String()
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopBG = stop
	s.bg.Go(func() { em.RunSchedules(bg) })
	s.bg.Go(func() { em.RunSweeper(bg, emulator.DefaultSweepEvery) })
	return s, nil
}

// quiesce stops the HTTP server (it waits for every request in flight,
// each bounded by the function timeout) and the background jobs, so the
// audit reads a table nothing writes to.
func (s *inProcess) quiesce() {
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		if s.srv.Shutdown(ctx) != nil {
			_ = s.srv.Close()
		}
		cancel()
		<-s.served
		s.srv = nil
	}
	if s.stopBG != nil {
		s.stopBG()
		s.bg.Wait()
		s.stopBG = nil
	}
}

func (s *inProcess) close() {
	s.quiesce()
	if s.db != nil && s.table != "" && s.local == nil {
		// A DynamoDB Local we did not start keeps no load tables behind.
		_, _ = s.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &s.table})
	}
	if s.local != nil {
		s.local.Stop()
		s.local = nil
	}
}
