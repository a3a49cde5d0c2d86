package dynamolocal

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

// durableRuns is how many kill-and-restart rounds the durability tests
// run (MINIPAY_DURABLE_RUNS overrides: each round restarts the JVM).
func durableRuns() int {
	if n, err := strconv.Atoi(os.Getenv("MINIPAY_DURABLE_RUNS")); err == nil && n > 0 {
		return n
	}
	return 2
}

// ackThenStop writes one item with TransactWriteItems into a DynamoDB Local
// on dir, stops it with stop the moment the write is acknowledged, starts
// it again and reports whether the acknowledged item is there.
func ackThenStop(t *testing.T, dir string, round int, stop func(*Server)) bool {
	t.Helper()
	ctx := context.Background()
	s, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	db, err := ddb.NewClient(ctx, config.Config{DynamoDBEndpoint: s.Endpoint})
	if err != nil {
		s.Stop()
		t.Fatal(err)
	}
	if err := ddb.CreateTable(ctx, db, "durable"); err != nil {
		s.Stop()
		t.Fatal(err)
	}
	key := ddb.Key("ROUND#"+strconv.Itoa(round), "X")
	item := ddb.Item{"v": ddb.N(int64(round))}
	for k, v := range key {
		item[k] = v
	}
	_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("durable"), Item: item}},
	}})
	if err != nil {
		s.Stop()
		t.Fatal(err)
	}
	stop(s) // acknowledged: stop at once
	s, err = Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	db, err = ddb.NewClient(ctx, config.Config{DynamoDBEndpoint: s.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("durable"), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item != nil
}

func hardKill(s *Server) {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	waitExit(s)
}

func termNow(s *Server) {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	waitExit(s)
}

func waitExit(s *Server) {
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(30 * time.Second):
	}
}

// underLoad runs writers TransactWriteItems into a DynamoDB Local on dir
// for a while, stops it with stop while they write (quiesce first stops
// the writers, as the local stack's graceful path stops its HTTP server
// before DynamoDB Local), starts it again and counts the acknowledged
// writes that are gone.
func underLoad(t *testing.T, dir string, round, writers int, quiesce bool, stop func(*Server)) (acked, lost int) {
	t.Helper()
	ctx := context.Background()
	s, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	db, err := ddb.NewClient(ctx, config.Config{DynamoDBEndpoint: s.Endpoint})
	if err != nil {
		s.Stop()
		t.Fatal(err)
	}
	if err := ddb.CreateTable(ctx, db, "durable"); err != nil {
		s.Stop()
		t.Fatal(err)
	}
	var mu sync.Mutex
	var keys []ddb.Item
	halt := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-halt:
					return
				default:
				}
				key := ddb.Key(fmt.Sprintf("R%d#W%d", round, w), fmt.Sprint(i))
				item := ddb.Item{"v": ddb.N(int64(i))}
				for k, v := range key {
					item[k] = v
				}
				_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					{Put: &types.Put{TableName: aws.String("durable"), Item: item}},
				}})
				if err != nil {
					return // stopped under us
				}
				mu.Lock()
				keys = append(keys, key)
				mu.Unlock()
			}
		})
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(keys)
		mu.Unlock()
		if n >= 300 {
			break
		}
	}
	if quiesce {
		close(halt)
		wg.Wait()
		stop(s)
	} else {
		stop(s)
		close(halt)
		wg.Wait()
	}
	s, err = Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	db, err = ddb.NewClient(ctx, config.Config{DynamoDBEndpoint: s.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("durable"), Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Item == nil {
			lost++
		}
	}
	return len(keys), lost
}

// TestMeasureKillAfterAck measures what each way of stopping DynamoDB
// Local loses of the writes it acknowledged just before.
//
//	MINIPAY_MEASURE_DURABLE=1 MINIPAY_DURABLE_RUNS=3 go test -count=1 -v ./localstack/dynamolocal/ -run TestMeasureKillAfterAck
func TestMeasureKillAfterAck(t *testing.T) {
	if os.Getenv("MINIPAY_MEASURE_DURABLE") == "" {
		t.Skip("a measurement: set MINIPAY_MEASURE_DURABLE=1")
	}
	n := durableRuns()
	for _, way := range []struct {
		name    string
		quiesce bool
		stop    func(*Server)
	}{
		{"kill -9 while 8 writers write (the old Pdeathsig)", false, hardKill},
		{"SIGTERM at once while 8 writers write (Pdeathsig SIGTERM)", false, termNow},
		{"writers stopped, then Stop (flush, SIGTERM, wait)", true, (*Server).Stop},
		{"writers stopped, then kill -9 at once", true, hardKill},
	} {
		dir := t.TempDir()
		acked, lost, hit := 0, 0, 0
		for i := range n {
			a, l := underLoad(t, dir, i, 8, way.quiesce, way.stop)
			acked += a
			lost += l
			if l > 0 {
				hit++
			}
		}
		t.Logf("%-60s %d runs: %d of %d acknowledged writes lost (runs losing any: %d)", way.name, n, lost, acked, hit)
	}
}
