package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/emulator"
	"minipay/shared/capabilities/savings"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
	"minipay/shared/wiring/app"
)

// savingsInterest seeds n free savings accounts (BatchWriteItem: the
// kernel's account item with its principal, the product item) and runs
// the 04:00 interest job over them through the emulator: the scheduled
// function fans out one message per shard, the in-process queue delivers
// them to the worker. Then it runs the job again, which must pay nothing.
func (s *stack) savingsInterest(ctx context.Context, d httpapi.Services, n int) {
	fmt.Fprintf(s.out, "\n## Savings interest at 04:00: %d accounts, %d shards through the work queue (%d deliveries at once)\n", n, savings.Shards, savingsConcurrency)
	opened := time.Date(2026, 11, 22, 10, 0, 0, 0, clock.KST)
	clk := clock.NewManual(opened)
	var work []routes.Queue // only the savings queue: the bench starts no other worker
	for _, q := range routes.Queues {
		if q.Worker == "savings-worker" {
			work = append(work, q)
		}
	}
	queues := emulator.NewLocalQueues(work)
	queues.Concurrency = savingsConcurrency
	d.Clock, d.Queue = clk, queues
	d.Ledger = ledger.New(d.Table, clk)
	d.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	all, handlers := app.Handlers(d), map[string]any{}
	for _, fn := range []string{"savings-interest", "savings-worker"} {
		handlers[fn] = all[fn]
	}
	var job routes.Schedule
	for _, sc := range routes.Schedules {
		if sc.Name == "savings-interest" {
			job = sc
		}
	}
	emu, err := emulator.New(emulator.Config{Handlers: handlers, Schedules: []routes.Schedule{job}, Clock: clk, Log: d.Log, Queues: queues})
	if err != nil {
		s.note(err)
		return
	}
	start := time.Now()
	owed, err := seedSavings(ctx, s.bare, s.ledger, s.table, n, opened)
	if err != nil {
		s.note(err)
		return
	}
	fmt.Fprintf(s.out, "(seeded %d accounts in %s; the first day owes %d won in all)\n", n, time.Since(start).Round(time.Millisecond), owed)

	clk.Set(time.Date(2026, 11, 23, 4, 0, 0, 0, clock.KST))
	var rows []row
	for i, label := range []string{"first run (pays the day)", "second run (nothing due)"} {
		before := s.interestExpense(ctx)
		s.inst.Reset()
		t := time.Now()
		if _, err := emu.Fire(ctx, "savings-interest", clk.Now()); err != nil {
			s.note(err)
		}
		took := time.Since(t)
		use := s.inst.Reset()
		paid := before - s.interestExpense(ctx)
		st := emu.QueueStats()
		perAccount := float64(use.Total()) / float64(n)
		fmt.Fprintf(s.out, "%s: %s, %.0f accounts/s, paid %d won; DynamoDB requests %d (%.3f per account) %v; queue: %d sent, %d delivered, %d dead-lettered\n",
			label, took.Round(time.Millisecond), float64(n)/took.Seconds(), paid, use.Total(), perAccount, use.Requests, st.Sent, st.Delivered, st.DeadLettered)
		rows = append(rows, row{label, result{n: n, perSecond: float64(n) / took.Seconds(), p50: took, p99: took}})
		switch {
		case i == 0 && paid != owed:
			s.note(fmt.Errorf("savings bench: the first run paid %d, %d owed", paid, owed))
		case i == 1 && paid != 0:
			s.note(fmt.Errorf("savings bench: the second run paid %d again", paid))
		}
	}
}

const savingsConcurrency = 48

// interestExpense is what the interest-expense accounts hold (negative:
// what they have paid). They are outside accounts, whose changes are
// postings: each is folded first (outside the measured run).
func (s *stack) interestExpense(ctx context.Context) int64 {
	var sum int64
	for shard := 0; shard < savings.Shards; shard++ {
		if _, err := s.ledger.FoldAccount(ctx, savings.InterestAccount(shard)); err != nil {
			s.note(err)
			return 0
		}
		item, err := ddb.NewTable(s.bare, s.table).Get(ctx, savings.InterestAccount(shard).Key())
		if err != nil {
			s.note(err)
			return 0
		}
		if item != nil {
			sum += ddb.Decode(item).N("balance")
		}
	}
	return sum
}

// seedSavings writes n savings accounts opened at opened, each holding a
// random principal, and the outside account their money came from, and
// returns the interest their first day owes. Each kernel account item's
// checkpoint is its balance, so the audit's balance = checkpoint + entries
// holds with no seeded entries.
func seedSavings(ctx context.Context, db *dynamodb.Client, l *ledger.Ledger, table string, n int, opened time.Time) (int64, error) {
	r := rand.New(rand.NewPCG(13, 13))
	var puts []types.WriteRequest
	var total, owed int64
	for i := 0; i < n; i++ {
		owner := ddb.NewID("u_")
		id := ddb.NewID("s_")
		principal := 10_000 + r.Int64N(10_000_000)
		tx := &ledger.Tx{}
		tx.CreateAccount(ledger.Account{ID: id, Owner: owner, Kind: savings.KindSavings, Name: "bench", CreatedAt: opened}, nil)
		acct := l.Input(tx).TransactItems[0].Put.Item
		for _, k := range []string{"balance", "available", "ckBalance"} {
			acct[k] = ddb.N(principal)
		}
		puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: acct}},
			types.WriteRequest{PutRequest: &types.PutRequest{Item: savings.SeedItem(id, owner, principal, opened)}})
		total += principal
		pay, _, err := savings.AccrueDay(principal, savings.Products[savings.ProductFree].RateBP, 0)
		if err != nil {
			return 0, err
		}
		owed += pay
	}
	src := ddb.Key("SYSTEM#sys_bench_savings", "ACCOUNT#sys_bench_savings")
	src["accountId"] = ddb.S("sys_bench_savings")
	src["kind"] = ddb.S(string(ledger.KindOutside))
	src["createdAt"] = ddb.Time(opened)
	src["held"] = ddb.N(0)
	for _, k := range []string{"balance", "available", "ckBalance"} {
		src[k] = ddb.N(-total)
	}
	puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: src}})
	errs := make(chan error, 1)
	parallel(8, (len(puts)+24)/25, func(b int) {
		pending := map[string][]types.WriteRequest{table: puts[b*25 : min(b*25+25, len(puts))]}
		for len(pending) > 0 {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				select {
				case errs <- fmt.Errorf("bench: seed savings: %w", err):
				default:
				}
				return
			}
			pending = out.UnprocessedItems
		}
	})
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return owed, nil
}
