// Command localstack runs minipay on one machine, with no cloud and no
// Docker: DynamoDB Local plus the emulator of API Gateway, EventBridge
// Scheduler and DynamoDB TTL (localstack/emulator) in front of the very
// handlers the Lambda functions run (shared/wiring/app).
//
//	localstack run    [-addr 127.0.0.1:8080] [-dynamodb-port 8000] [-data .local/dynamodb] [-in-memory] [-table minipay]
//	localstack invoke -function NAME -event FILE [-endpoint http://127.0.0.1:8000] [-table minipay] [-api URL] [-data DIR] [-keep-scheduled-time]
//	localstack audit  [-endpoint http://127.0.0.1:8000] [-table minipay]
//	localstack openapi [-server URL]
//	localstack load   [-api URL | -in-process] [-rate N | -stages 15s:2,30s:2,5s:0] [-knee] ...
//	localstack clock  [-advance 24h] [-api http://127.0.0.1:8080]
//
// run serves the API until SIGINT or SIGTERM, then stops the HTTP server
// and DynamoDB Local. invoke runs one function once with a JSON event (an
// API Gateway v2 request or a scheduler event from events/) against a
// running local DynamoDB and prints its response; it runs on the local
// stack's test clock (the running stack's, else the one kept with the data)
// and a scheduler event fires at that clock's now (-keep-scheduled-time
// keeps the file's time). audit checks the ledger's
// invariants and exits 1 if any fails. openapi prints the OpenAPI document
// (the one run serves at /openapi.json) with -server as its first server.
// load runs the user-journey load test (localstack/load) against -api, the
// local stack on 127.0.0.1:8080 if one runs, or a stack it starts in
// process; it exits 99 when a threshold was crossed (as k6 does) and 1
// when the audit failed.
// clock advances the running stack's test clock, firing every scheduled job
// that falls due on the way.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // schedules name IANA zones; do not depend on the machine's tzdata

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/bench"
	"minipay/localstack/dynamolocal"
	"minipay/localstack/emulator"
	"minipay/localstack/load"
	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
	"minipay/shared/wiring/app"
	"minipay/shared/wiring/openapi"
)

// defaultOperatorToken is the operator token when MINIPAY_OPERATOR_TOKEN is
// unset. It is for this machine only; the cloud stack never sees it.
const defaultOperatorToken = "local-operator-token"

const usage = `usage:
  localstack run    [-addr 127.0.0.1:8080] [-dynamodb-port 8000] [-data .local/dynamodb] [-in-memory] [-table minipay]
  localstack invoke -function NAME -event FILE [-endpoint http://127.0.0.1:8000] [-table minipay] [-api URL] [-data DIR] [-keep-scheduled-time]
  localstack audit  [-endpoint http://127.0.0.1:8000] [-table minipay]
  localstack openapi [-server URL]
  localstack load   [-api URL | -in-process] [-rate 2 | -stages 15s:2,30s:2,5s:0] [-knee] [-p95 500ms] [-p99 1s] [-max-errors 0.01]
  localstack clock  [-advance 24h] [-api http://127.0.0.1:8080]
  localstack bench  [-endpoint URL] [-accounts 100] [-transfers 400] [-hot 100] [-history 100000] [-claimers 3000] [-shares 100] [-savings 100000]
Run "localstack COMMAND -h" for a command's flags.
`

var errAuditFailed = errors.New("audit failed")

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "run":
		err = run(args)
	case "invoke":
		err = invoke(args)
	case "audit":
		err = audit(args)
	case "bench":
		err = benchReport(args)
	case "load":
		err = loadTest(args)
		if errors.Is(err, load.ErrThresholds) {
			fmt.Fprintln(os.Stderr, "localstack:", err)
			os.Exit(99)
		}
	case "openapi":
		err = printOpenAPI(args)
	case "clock":
		err = advanceClock(args)
	case "capacity":
		err = capacityReport(args)
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "localstack: unknown command %q\n%s", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, errAuditFailed) || errors.Is(err, load.ErrAudit) {
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		os.Exit(1)
	}
}

// run starts DynamoDB Local and serves the emulator until a signal.
func run(args []string) error {
	f, err := parseRunFlags(args)
	if err != nil {
		return err
	}
	// Every catchable way of being stopped stops DynamoDB Local the durable
	// way (dynamolocal.Server.Stop); only kill -9 cannot, and then DynamoDB
	// Local gets SIGTERM from the kernel (Pdeathsig).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer stop()
	log := app.Logger(os.Getenv(config.EnvLogLevel))

	ln, err := claimPorts(f)
	if err != nil {
		return err
	}
	defer ln.Close()
	local, dataDir, where, err := startDynamoLocal(ctx, log, f)
	if err != nil {
		return err
	}
	defer func() {
		local.Stop()
		log.Info("DynamoDB Local stopped")
	}()

	token, isDefault := operatorToken()
	if isDefault {
		log.Warn("operator token: using the local default; set " + emulator.EnvOperatorToken + " to choose another")
	}
	cfg, err := localConfig(f.table, local.Endpoint, token)
	if err != nil {
		return err
	}
	apiURL := "http://" + ln.Addr().String()
	em, err := startEmulator(ctx, log, cfg, dataDir, apiURL)
	if err != nil {
		return err
	}

	srv := &http.Server{Handler: localMux(em), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	bg, stopBackground := context.WithCancel(ctx)
	var wg sync.WaitGroup
	runBackground(bg, &wg, em, log)
	printRunBanner(apiURL, local.Endpoint, f, where, token, isDefault)

	err = waitForStop(ctx, log, served, local)
	stop() // a second Ctrl-C kills at once (DynamoDB Local dies with us)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		log.Error("http shutdown", "error", serr.Error())
	}
	stopBackground()
	wg.Wait()
	return err
}

// runFlags are `localstack run`'s flags.
type runFlags struct {
	addr, data, table string
	port              int
	inMemory          bool
}

func parseRunFlags(args []string) (runFlags, error) {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "where the API listens")
	port := fs.Int("dynamodb-port", 8000, "DynamoDB Local's port on 127.0.0.1")
	data := fs.String("data", ".local/dynamodb", "DynamoDB Local's data directory (relative to the repository root)")
	inMemory := fs.Bool("in-memory", false, "keep data in memory only (gone at exit)")
	table := fs.String("table", config.DefaultTable, "table name")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return runFlags{}, fmt.Errorf("run: unexpected arguments %q", fs.Args())
	}
	return runFlags{addr: *addr, data: *data, table: *table, port: *port, inMemory: *inMemory}, nil
}

// claimPorts claims both ports before anything starts, so a busy port
// fails fast and leaves nothing behind. It returns the API's listener.
func claimPorts(f runFlags) (net.Listener, error) {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (is the local stack already running? use -addr): %w", f.addr, err)
	}
	if err := portFree(f.port); err != nil {
		ln.Close()
		return nil, fmt.Errorf("something already listens on 127.0.0.1:%d (another DynamoDB Local, or `make run` still running?); "+
			"stop it or pass -dynamodb-port: %w", f.port, err)
	}
	return ln, nil
}

// startDynamoLocal starts DynamoDB Local on its data directory ("" in
// memory); where says which, for the log and the banner.
func startDynamoLocal(ctx context.Context, log *slog.Logger, f runFlags) (local *dynamolocal.Server, dataDir, where string, err error) {
	root, err := dynamolocal.RepoRoot()
	if err != nil {
		return nil, "", "", err
	}
	where = "in memory, gone at exit"
	if !f.inMemory {
		dataDir = f.data
		if !filepath.IsAbs(dataDir) {
			dataDir = filepath.Join(root, dataDir)
		}
		where = "data in " + dataDir
	}
	log.Info("starting DynamoDB Local", "port", f.port, "data", where)
	local, err = dynamolocal.Start(ctx, dynamolocal.Options{Port: f.port, DataDir: dataDir, RepoRoot: root})
	return local, dataDir, where, err
}

// localConfig is the functions' configuration as the environment sets it
// in the cloud.
func localConfig(table, endpoint, token string) (config.Config, error) {
	cfg := config.Config{Table: table, DynamoDBEndpoint: endpoint, OperatorTokenSHA256: users.TokenHash(token),
		LogLevel: os.Getenv(config.EnvLogLevel), Registration: os.Getenv(config.EnvRegistration),
		WebhookAllowLoopback: true, // local receivers listen on loopback
		DueParallel:          emulator.DueParallel, FoldParallel: emulator.FoldParallel}
	var err error
	if s := os.Getenv(config.EnvTokenTTL); s != "" {
		if cfg.TokenTTL, err = time.ParseDuration(s); err != nil {
			return cfg, fmt.Errorf("%s: %w", config.EnvTokenTTL, err)
		}
	}
	if s := os.Getenv(config.EnvTokenMaxLifetime); s != "" {
		if cfg.TokenMaxLifetime, err = time.ParseDuration(s); err != nil {
			return cfg, fmt.Errorf("%s: %w", config.EnvTokenMaxLifetime, err)
		}
	}
	return cfg, nil
}

// startEmulator creates the table and the emulator over app's handlers. The
// test clock (real time plus an offset that only grows: advance it with
// `localstack clock -advance 24h` or POST /_local/clock/advance) and the
// queued messages are kept beside DynamoDB Local's data.
func startEmulator(ctx context.Context, log *slog.Logger, cfg config.Config, dataDir, apiURL string) (*emulator.Emulator, error) {
	client, err := ddb.NewClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := ddb.CreateTable(ctx, client, cfg.Table); err != nil {
		return nil, err
	}
	clk := emulator.NewOffsetClock(clock.Real{})
	queues := emulator.NewLocalQueues(routes.Queues)
	if dataDir != "" {
		if clk, err = emulator.OpenOffsetClock(clock.Real{}, filepath.Join(dataDir, emulator.ClockFile)); err != nil {
			return nil, err
		}
		if queues, err = emulator.OpenLocalQueues(routes.Queues, filepath.Join(dataDir, queuesDir)); err != nil {
			return nil, err
		}
	}
	deps, err := app.NewServices(cloudModel(ctx, client, cfg.Table, log), cfg, clk, log)
	if err != nil {
		return nil, err
	}
	spec, err := openapi.WithServer(apiURL, "this local stack")
	if err != nil {
		return nil, err
	}
	em, err := newEmulator(deps, client, spec, queues)
	if err != nil {
		return nil, err
	}
	if off := clk.Offset(); off > 0 {
		log.Info("test clock: kept with the data", "offset", off.String(), "now", clk.Now().UTC().Format(time.RFC3339))
	}
	return em, nil
}

// localMux serves the emulated API and, local only (not in the route
// table, never deployed), the test clock.
func localMux(em *emulator.Emulator) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(emulator.TestClockPath, em.TestClockHandler())
	mux.Handle(emulator.TestClockPath+"/", em.TestClockHandler())
	mux.Handle("/", em)
	return mux
}

// runBackground runs the schedules, the TTL sweeper and, if work was
// queued before a crash, delivers it now, as SQS would.
func runBackground(bg context.Context, wg *sync.WaitGroup, em *emulator.Emulator, log *slog.Logger) {
	wg.Go(func() { em.RunSchedules(bg) })
	wg.Go(func() { em.RunSweeper(bg, emulator.DefaultSweepEvery) })
	if st := em.QueueStats(); st.Pending > 0 {
		log.Info("queued work kept from the last run: delivering", "messages", st.Pending)
		wg.Go(func() { em.DrainQueues(bg) })
	}
}

func printRunBanner(apiURL, dynamoEndpoint string, f runFlags, where, token string, isDefault bool) {
	tokenHint := "set by " + emulator.EnvOperatorToken
	if isDefault {
		tokenHint = fmt.Sprintf("%q (local default; set %s to change)", token, emulator.EnvOperatorToken)
	}
	fmt.Printf(`minipay local stack
  API             %s   (%d routes; try: curl -s -X POST %s/users -H 'Content-Type: application/json' -d '{"name":"Kim"}')
  OpenAPI         %s%s   (OpenAPI 3.0.3, every route)
  DynamoDB Local  %s   table %q, %s; it has no bind option and listens on EVERY interface (port %d): keep it off untrusted networks
  operator token  %s
  schedules       %d jobs on the local clock; TTL sweep every %s; work queues in process (%d)
  test clock      the local clock runs with the wall clock; move it forward (never back), firing the jobs due on the way:
                    go run ./localstack clock -advance 24h          (or: make clock ADVANCE=24h)
                    curl -s -X POST %s%s/advance -H 'Content-Type: application/json' -d '{"duration":"24h"}'
                    curl -s %s%s   (what time the stack thinks it is)
Ctrl-C stops everything.
`, apiURL, len(routes.Routes), apiURL, apiURL, emulator.OpenAPIPath, dynamoEndpoint, f.table, where, f.port, tokenHint, len(routes.Schedules), emulator.DefaultSweepEvery,
		len(routes.Queues), apiURL, emulator.TestClockPath, apiURL, emulator.TestClockPath)
}

// waitForStop waits for a signal, the HTTP server's end or DynamoDB
// Local's exit, and says which (nil for a signal).
func waitForStop(ctx context.Context, log *slog.Logger, served <-chan error, local *dynamolocal.Server) error {
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case exit := <-local.Exited():
		// Every request would fail from now on: say so loudly and stop,
		// rather than answer 500 forever.
		log.Error("DynamoDB Local exited; stopping the local stack (restart it with make run)", "error", fmt.Sprint(exit))
		return fmt.Errorf("DynamoDB Local exited: %v", exit)
	}
}

// invoke runs one function once with the JSON event in a file.
func invoke(args []string) error {
	fs := flag.NewFlagSet("invoke", flag.ExitOnError)
	function := fs.String("function", "", "function name (see routes.Functions, e.g. charge)")
	eventFile := fs.String("event", "", "JSON event file (e.g. events/charge.json); - reads stdin")
	api := fs.String("api", localAPI, "the running local stack, whose test clock the function runs on")
	data := fs.String("data", ".local/dynamodb", "the local stack's data directory, whose kept test clock is used when no stack answers at -api")
	keepTime := fs.Bool("keep-scheduled-time", false, "keep a scheduler event's scheduledTime (default: the stack clock's now, as if the job fired now)")
	endpoint, table := dbFlags(fs)
	_ = fs.Parse(args)
	if *function == "" || *eventFile == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("invoke: -function and -event are required")
	}
	payload, err := readEvent(*eventFile)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := reachable(*endpoint); err != nil {
		return err
	}
	clk, where, err := stackClock(*api, *data)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "clock: %s, now %s\n", where, clk.Now().UTC().Format(time.RFC3339))
	if !*keepTime {
		payload = scheduledNow(payload, clk.Now())
	}
	token, _ := operatorToken()
	cfg, err := localConfig(*table, *endpoint, token)
	if err != nil {
		return err
	}
	deps, err := app.Services(ctx, cfg, clk)
	if err != nil {
		return err
	}
	em, err := newEmulator(deps, nil, nil, nil)
	if err != nil {
		return err
	}
	out, err := em.Invoke(ctx, *function, payload)
	if err != nil {
		return err
	}
	// A job that fanned out work: run it to the end, as the queue would.
	em.DrainQueues(ctx)
	if st := em.QueueStats(); st.Sent > 0 {
		fmt.Fprintf(os.Stderr, "queued work: %d messages sent, %d delivered, %d failed deliveries, %d dead-lettered\n", st.Sent, st.Delivered, st.Failed, st.DeadLettered)
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(out)
	}
	fmt.Println(pretty.String())
	return nil
}

// advanceClock moves the running local stack's test clock forward (or,
// without -advance, prints its time).
func advanceClock(args []string) error {
	fs := flag.NewFlagSet("clock", flag.ExitOnError)
	by := fs.Duration("advance", 0, "how far to move the clock forward, e.g. 24h (every job due on the way fires, in time order)")
	api := fs.String("api", "http://127.0.0.1:8080", "the local stack's API")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("clock: unexpected arguments %q", fs.Args())
	}
	var resp *http.Response
	var err error
	c := &http.Client{Timeout: 30 * time.Minute}
	if *by == 0 {
		resp, err = c.Get(*api + emulator.TestClockPath)
	} else {
		body, _ := json.Marshal(map[string]string{"duration": by.String()})
		// JSON, as the clock requires (anything else is refused 415).
		resp, err = c.Post(*api+emulator.TestClockPath+"/advance", "application/json", bytes.NewReader(body))
	}
	if err != nil {
		return fmt.Errorf("clock: is the local stack running (make run)? %w", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Write(out)
	}
	fmt.Println(pretty.String())
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("clock: %s", resp.Status)
	}
	return nil
}

// audit checks the ledger's invariants on a running local DynamoDB.
func audit(args []string) error {
	fs := flag.NewFlagSet("audit", flag.ExitOnError)
	endpoint, table := dbFlags(fs)
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("audit: unexpected arguments %q", fs.Args())
	}
	ctx := context.Background()
	if err := reachable(*endpoint); err != nil {
		return err
	}
	client, err := ddb.NewClient(ctx, config.Config{Table: *table, DynamoDBEndpoint: *endpoint})
	if err != nil {
		return err
	}
	report, err := ledger.Audit(ctx, client, *table)
	if err != nil {
		return err
	}
	fmt.Println(report.String())
	if !report.OK() {
		return errAuditFailed
	}
	return nil
}

// benchReport prints the load report (localstack/bench) against its own
// in-memory DynamoDB Local, or -endpoint's.
func benchReport(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	o := bench.Defaults
	fs.StringVar(&o.Endpoint, "endpoint", "", "DynamoDB Local to use (default: start one in memory)")
	fs.IntVar(&o.Accounts, "accounts", o.Accounts, "accounts that transfers pick random pairs from")
	fs.IntVar(&o.Transfers, "transfers", o.Transfers, "transfers per scenario")
	fs.IntVar(&o.HotSenders, "hot", o.HotSenders, "senders into one account at once")
	fs.IntVar(&o.HistoryEntries, "history", o.HistoryEntries, "entries on the big account for the history comparison")
	fs.IntVar(&o.Claimers, "claimers", o.Claimers, "room members claiming one sprinkle at once")
	fs.IntVar(&o.Shares, "shares", o.Shares, "shares of that sprinkle")
	fs.BoolVar(&o.Contended, "contended", o.Contended, "also run the hot-account scenarios under the contention model")
	fs.IntVar(&o.Payers, "payers", o.Payers, "distinct payers of the merchant-like account (under the model)")
	fs.DurationVar(&o.PayWindow, "pay-window", o.PayWindow, "spread the merchant-like payments over this long")
	o.Model.RegisterFlags(fs, "model-")
	fs.IntVar(&o.Orders, "orders", o.Orders, "merchant orders through place, accept, cook and refund")
	fs.IntVar(&o.SettlementParticipants, "settlement-participants", o.SettlementParticipants, "participants of each settlement request (all pay at once)")
	fs.IntVar(&o.SettlementRounds, "settlement-requests", o.SettlementRounds, "settlement requests")
	fs.IntVar(&o.SavingsAccounts, "savings", o.SavingsAccounts, "savings accounts the 04:00 interest job runs over (0: skip)")
	_ = fs.Parse(args)
	return bench.Run(context.Background(), os.Stdout, o)
}

// EnvLoadRate is the peak arrival rate (journeys per second) of make load
// when -rate is not given.
const EnvLoadRate = "MINIPAY_LOAD_RATE"

// localAPI is where make run serves the API.
const localAPI = "http://127.0.0.1:8080"

// loadTest runs the user-journey load test (localstack/load).
func loadTest(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	o := load.Defaults
	api := fs.String("api", "", "the stack to load: a deployed stack's ApiUrl, or "+localAPI+" (default: the local stack there if one runs, else one started in process)")
	inProcess := fs.Bool("in-process", false, "always start a stack in process (in-memory DynamoDB Local + the emulator + the handlers)")
	rateDefault := 2.0
	if s := os.Getenv(EnvLoadRate); s != "" {
		if _, err := fmt.Sscanf(s, "%g", &rateDefault); err != nil || rateDefault <= 0 {
			return fmt.Errorf("%s=%q is not a positive rate", EnvLoadRate, s)
		}
	}
	rate := fs.Float64("rate", rateDefault, "peak arrival rate, journeys per second: up in 15 s, held 30 s, down in 5 s (env "+EnvLoadRate+")")
	stages := fs.String("stages", "", "the ramp as duration:target stages, e.g. 15s:2,30s:2,5s:0 (overrides -rate)")
	fs.Float64Var(&o.StartRate, "start-rate", 0, "the arrival rate the first stage starts from")
	knee := fs.Bool("knee", false, "find the knee: ramp in steps until the error threshold is crossed")
	k := load.DefaultKnee
	fs.Float64Var(&k.Start, "knee-start", k.Start, "the knee's first rate (journeys/s)")
	fs.Float64Var(&k.Step, "knee-step", k.Step, "the knee's step (journeys/s)")
	fs.Float64Var(&k.Max, "knee-max", k.Max, "the knee's highest rate (journeys/s)")
	fs.DurationVar(&k.Hold, "knee-hold", k.Hold, "how long each rate of the knee is held")
	fs.DurationVar(&k.P99, "knee-p99", k.P99, "a knee stage is held with p99 under this")
	fs.Float64Var(&o.Thresholds.ErrorRate, "max-errors", o.Thresholds.ErrorRate, "threshold: the largest fraction of a step's requests that may fail")
	fs.DurationVar(&o.Thresholds.P95, "p95", o.Thresholds.P95, "threshold: each step's p95 (0: none)")
	fs.DurationVar(&o.Thresholds.P99, "p99", o.Thresholds.P99, "threshold: each step's p99 (0: none)")
	fs.IntVar(&o.MaxInFlight, "max-in-flight", o.MaxInFlight, "journeys running at once at most; arrivals beyond are dropped and counted")
	fs.IntVar(&o.Friends, "friends", o.Friends, "seed users the journeys pick friends from (newcomers join them)")
	fs.IntVar(&o.Stores, "stores", o.Stores, "seed stores the journeys order from")
	fs.DurationVar(&o.Think, "think", 0, "pause between a journey's steps")
	warm := fs.Duration("warmup", -1, "unmeasured journeys at 1/s for this long first (default: 20s for a stack in process, whose fresh DynamoDB Local is slow until warm; 0 otherwise)")
	fs.StringVar(&o.Registration, "registration", os.Getenv(config.EnvRegistration), "how journeys register: open, operator, or empty to ask the stack")
	fs.IntVar(&o.CeilingTransfers, "ceiling-transfers", 400, "bare transfers that measure the DynamoDB Local ceiling (knee runs)")
	fs.BoolVar(&o.OpenAPI, "openapi", false, "also validate every exchange against the OpenAPI document (costs CPU)")
	endpoint, table := dbFlags(fs)
	auditEndpoint := fs.String("audit-endpoint", "", "DynamoDB of a local stack given by -api, for the audit and the ceiling (default: -endpoint when -api is on loopback)")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("load: unexpected arguments %q", fs.Args())
	}
	if *stages != "" {
		st, err := load.ParseStages(*stages)
		if err != nil {
			return err
		}
		o.Stages = st
	} else {
		o.Stages = load.Ramp(*rate)
	}
	if *knee {
		o.Knee = &k
	}
	o.AuditTable = *table
	if err := loadTarget(&o, *api, *inProcess, *endpoint, *auditEndpoint); err != nil {
		return err
	}
	switch {
	case *warm >= 0:
		o.WarmUp = *warm
	case o.API == "":
		o.WarmUp = 20 * time.Second
	}
	_, err := load.Run(context.Background(), os.Stdout, o)
	return err
}

// loadTarget points the load test at its stack: one in process (-in-process,
// or when no stack answers at localAPI), or the stack at api. A loopback
// stack gets the local operator token and, if its DynamoDB Local answers at
// endpoint, the audit; a deployed one gets only the operator token from
// the environment.
func loadTarget(o *load.Options, api string, inProcess bool, endpoint, auditEndpoint string) error {
	token, _ := operatorToken()
	switch {
	case inProcess:
		if api != "" {
			return errors.New("load: -api and -in-process exclude each other")
		}
		o.OperatorToken = "load-operator-token"
		o.StackRegistration = os.Getenv(config.EnvRegistration)
	case api == "" && stackAnswers(localAPI):
		api = localAPI
		fallthrough
	case api != "":
		o.API = api
		u, err := url.Parse(api)
		if err != nil || u.Host == "" {
			return fmt.Errorf("load: -api %q is not a URL", api)
		}
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && ip.IsLoopback() {
			o.OperatorToken = token // the local default unless set
			if auditEndpoint == "" && reachable(endpoint) == nil {
				auditEndpoint = endpoint
			}
		} else {
			o.OperatorToken = os.Getenv(emulator.EnvOperatorToken) // a deployed stack's: never the local default
		}
		o.AuditEndpoint = auditEndpoint
	default:
		o.OperatorToken = "load-operator-token"
		o.StackRegistration = os.Getenv(config.EnvRegistration)
	}
	return nil
}

// stackAnswers: a minipay stack serves its OpenAPI document at base.
func stackAnswers(base string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + emulator.OpenAPIPath)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// printOpenAPI prints the OpenAPI document.
func printOpenAPI(args []string) error {
	fs := flag.NewFlagSet("openapi", flag.ExitOnError)
	server := fs.String("server", openapi.LocalServer, "the first server of the document (e.g. the deployed stack's ApiUrl output)")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("openapi: unexpected arguments %q", fs.Args())
	}
	b, err := openapi.WithServer(*server, "")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(b, '\n'))
	return err
}

// ---- helpers ----

// queuesDir is where run keeps queued messages, inside the data directory.
const queuesDir = "queues"

// stackClock is the local stack's test clock: the running stack's at api
// (asked), else the one kept in the data directory, else the wall clock.
func stackClock(api, data string) (*emulator.OffsetClock, string, error) {
	clk := emulator.NewOffsetClock(clock.Real{})
	c := http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get(api + emulator.TestClockPath); err == nil {
		defer resp.Body.Close()
		var body struct {
			Offset string `json:"offset"`
		}
		if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&body) == nil && body.Offset != "" {
			off, err := time.ParseDuration(body.Offset)
			if err != nil {
				return nil, "", fmt.Errorf("invoke: the stack at %s tells the clock offset %q: %w", api, body.Offset, err)
			}
			clk.Advance(off)
			return clk, "the running stack's test clock (" + api + ", offset " + off.String() + ")", nil
		}
	}
	if !filepath.IsAbs(data) {
		if root, err := dynamolocal.RepoRoot(); err == nil {
			data = filepath.Join(root, data)
		}
	}
	off, err := emulator.ReadClockOffset(filepath.Join(data, emulator.ClockFile))
	if err != nil {
		return nil, "", err
	}
	if off > 0 {
		clk.Advance(off)
		return clk, "the test clock kept in " + data + " (offset " + off.String() + ")", nil
	}
	return clk, "the wall clock (no stack at " + api + ", no test clock kept in " + data + ")", nil
}

// scheduledNow sets a scheduler event's scheduledTime to now (the job runs
// as if it fired now on the stack's clock); any other event is unchanged.
func scheduledNow(payload []byte, now time.Time) []byte {
	var ev map[string]json.RawMessage
	if json.Unmarshal(payload, &ev) != nil {
		return payload
	}
	if _, ok := ev["scheduledTime"]; !ok {
		return payload
	}
	if _, ok := ev["job"]; !ok {
		return payload
	}
	ev["scheduledTime"], _ = json.Marshal(now.UTC().Format(time.RFC3339))
	b, err := json.Marshal(ev)
	if err != nil {
		return payload
	}
	return b
}

func newEmulator(d httpapi.Services, scanner *dynamodb.Client, spec []byte, queues *emulator.LocalQueues) (*emulator.Emulator, error) {
	if queues == nil {
		queues = emulator.NewLocalQueues(routes.Queues)
	}
	d.Queue = queues
	c := emulator.Config{
		Handlers:  app.Handlers(d),
		Routes:    routes.Routes,
		Schedules: routes.Schedules,
		Clock:     d.Clock,
		Log:       d.Log,
		OpenAPI:   spec,
		Queues:    queues,
		// The test clock skips the sweeps' minutes with nothing due.
		NextDue: d.Table.EarliestDue,
	}
	if scanner != nil {
		// Paced (ddb.Sweep): a bounded slice of the table per step, so the
		// sweep stays a small share of DynamoDB Local's time.
		c.Sweeper = &ddb.Sweep{DB: scanner, Table: d.Config.Table, Now: d.Clock.Now}
	}
	return emulator.New(c)
}

// dbFlags are -endpoint and -table, defaulting to the environment.
func dbFlags(fs *flag.FlagSet) (endpoint, table *string) {
	ep := os.Getenv(config.EnvDynamoDBEndpoint)
	if ep == "" {
		ep = "http://127.0.0.1:8000"
	}
	tb := os.Getenv(config.EnvTable)
	if tb == "" {
		tb = config.DefaultTable
	}
	return fs.String("endpoint", ep, "DynamoDB endpoint (the local stack's DynamoDB Local)"),
		fs.String("table", tb, "table name")
}

func operatorToken() (token string, isDefault bool) {
	if t := os.Getenv(emulator.EnvOperatorToken); t != "" {
		return t, false
	}
	return defaultOperatorToken, true
}

func readEvent(name string) ([]byte, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s is not valid JSON", name)
	}
	return b, nil
}

func portFree(port int) error {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	return l.Close()
}

// reachable fails clearly when nothing listens at the DynamoDB endpoint.
func reachable(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-endpoint %q is not a URL", endpoint)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(u.Hostname(), port), 2*time.Second)
	if err != nil {
		return fmt.Errorf("no DynamoDB at %s (start the local stack: go run ./localstack run): %w", endpoint, err)
	}
	return c.Close()
}
