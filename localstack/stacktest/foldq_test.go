package stacktest_test

// The fold worker (issue 24 (c)): a receiver the fold job leaves with
// postings is handed to the fold-work queue, whose worker folds it until it
// is caught up.

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"minipay/localstack/stacktest"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// foldWorkerEvent is the SQS event the fold-work queue delivers for one
// account (what the fold job sends for a hot one).
func foldWorkerEvent(t *testing.T, owner, account string) []byte {
	return sqsEvent(t, ledger.FoldWork{Owner: owner, Account: account})
}

// sqsEvent is a queue worker's event: one record whose body is msg as JSON.
func sqsEvent(t *testing.T, msg any) []byte {
	t.Helper()
	body, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: ddb.NewID("m_"), Body: string(body), EventSource: "aws:sqs"}}})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// The fold job, fired by the emulator, folds a receiver up to its bound,
// sends it to the fold-work queue, and the in-process queue's worker folds
// the rest: the receiver's item holds every credit and GET /accounts shows
// it, with no posting left; the next pass has nothing hot.
func TestTheFoldJobHandsAHotReceiverToTheFoldWorker(t *testing.T) {
	s := stacktest.New(t, config.Config{})
	ctx := context.Background()
	s.Services.Ledger.SetFoldPerAccount(10) // a pass folds 10 of one (unpromoted) account's postings
	receiver := s.Register(t, "popular")
	var payers []ledger.AccountRef
	for i := range 20 {
		p := s.Register(t, fmt.Sprint("payer ", i))
		s.Fund(t, p, 1_000)
		payers = append(payers, ledger.MainAccount(p.ID))
	}
	if _, err := s.Emulator.Fire(ctx, "ledger-fold", s.Clock.Now()); err != nil { // the payers' funds
		t.Fatal(err)
	}
	var credited int64
	for range 15 { // 300 credits, 20 a transaction
		tx := &ledger.Tx{}
		at := s.Clock.Now()
		for _, p := range payers {
			tx.Move(ledger.Movement{ID: ledger.NewMovementID(at), Type: "test", Amount: 3, At: at,
				From: p, FromKind: ledger.KindMain, To: ledger.MainAccount(receiver.ID), ToKind: ledger.KindMain})
		}
		if err := s.Ledger.Commit(ctx, tx); err != nil {
			t.Fatal(err)
		}
		credited += 3 * int64(len(payers))
	}
	before := s.Emulator.QueueStats()
	if _, err := s.Emulator.Fire(ctx, "ledger-fold", s.Clock.Now()); err != nil { // and drains the queue
		t.Fatal(err)
	}
	st := s.Emulator.QueueStats()
	if st.Sent == before.Sent || st.Delivered == before.Delivered || st.DeadLettered > 0 || st.Pending > 0 {
		t.Fatalf("queue after the fold job: %+v (before %+v)", st, before)
	}
	item, err := s.Table.Get(ctx, ledger.MainAccount(receiver.ID).Key())
	if err != nil || ddb.Decode(item).N("balance") != credited {
		t.Fatalf("the receiver's item after the job and its worker: %v %v, want balance %d", item, err, credited)
	}
	if balance, _, _ := s.Account(t, receiver, receiver.Main); balance != credited {
		t.Fatalf("GET balance %d, want %d", balance, credited)
	}
	out, err := s.Emulator.Fire(ctx, "ledger-fold", s.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var run ledger.FoldRun
	if err := json.Unmarshal(out.Output, &run); err != nil || run.Bounded != 0 || len(run.Hot) != 0 || s.Emulator.QueueStats().Sent != st.Sent {
		t.Fatalf("the next pass: %s (%v)", out.Output, err)
	}
}
