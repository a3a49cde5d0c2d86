package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/capabilities/notify"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// QueueName is the delivery queue (routes.Queues).
const QueueName = "webhook-delivery"

// Message is one delivery to make.
type Message struct {
	Store    string `json:"store"`
	Endpoint string `json:"endpoint"`
	Event    string `json:"event"`

	log []types.AttributeValue // the delivery's log as read
	key ddb.Item               // the delivery's key as read
}

// Backoff is the wait before attempt n+1 after n failed attempts:
// FirstBackoff doubling per attempt up to MaxBackoff, with "equal jitter"
// (half fixed, half random) so retries of many deliveries spread out.
func Backoff(n int, random func() float64) time.Duration {
	d := MaxBackoff
	if n >= 1 && n <= 20 {
		d = min(FirstBackoff<<(n-1), MaxBackoff)
	}
	return d/2 + time.Duration(random()*float64(d/2))
}

// SweepSummary is what one sweep did.
type SweepSummary struct {
	httpapi.DueTally
	Events   int `json:"events"`   // events fanned out
	Created  int `json:"created"`  // deliveries they made
	Sent     int `json:"sent"`     // deliveries sent to the queue
	Inline   int `json:"inline"`   // no queue wired: delivered in this invocation
	Failures int `json:"failures"` // items left due for the next sweep

	endpoints map[string]endpointsRead // by store: read once, reused for older events
}

// endpointsRead is a store's endpoints as read at a time. It serves an
// event created at or before that time: the read saw every endpoint the
// store had when the event happened. A newer event reads them again, so
// an endpoint added during a long pass (a worker's 40 s) gets every event
// made after it.
type endpointsRead struct {
	eps []endpoint
	at  time.Time
}

// SweepParallel is how many of a bucket's items a due worker takes at
// once. Every order change is an event, 7 per order (issue 24's mix b:
// 7,000 a second at 1,000 orders/s); one at a time, a bucket's worker
// takes 30 to 50 a second. Events and deliveries are independent items
// (each its own transaction; one order's events are not delivered in
// order anyway: the README says to order them by sequence).
const SweepParallel = 8

// SweepJob is the webhook-sweep job: every due event is fanned out to a
// delivery per enabled, subscribed endpoint of its store (one transaction:
// the event's due attributes removed, the deliveries put), and every due
// delivery is leased (its due time moved Lease ahead, conditioned on the
// due time read, so two sweeps never both send it) and sent to the queue.
// It is a due job (httpapi.DueJob).
func SweepJob(d httpapi.Services) httpapi.DueJob[SweepSummary] {
	return httpapi.DueJob[SweepSummary]{
		Services: d,
		Name:     "webhook sweep",
		Passes: []httpapi.DuePass[SweepSummary]{{Kinds: DueKinds(), Fetch: true, Parallel: SweepParallel,
			Each: func(ctx context.Context, item ddb.Item, now time.Time, sum *SweepSummary) error {
				return sweepItem(ctx, d, item, now, sum)
			}}},
		Tally: func(sum *SweepSummary, run ddb.DueRun) { sum.Failures = run.Failed },
		Counts: func(sum *SweepSummary) []any {
			return []any{"events", sum.Events, "created", sum.Created, "sent", sum.Sent, "inline", sum.Inline}
		},
	}
}

// sweepItem fans a due event out, or leases a due delivery, and sends the
// messages.
func sweepItem(ctx context.Context, d httpapi.Services, item ddb.Item, now time.Time, sum *SweepSummary) error {
	var msgs []Message
	var err error
	if sk := ddb.Decode(item).S(ddb.AttrSK); sk == skEvent {
		msgs, err = fanOut(ctx, d, item, now, sum)
		if err == nil {
			sum.Events++
			sum.Created += len(msgs)
		}
	} else if strings.HasPrefix(sk, skDelivery) {
		var m *Message
		m, err = lease(ctx, d, item, now)
		if m != nil {
			msgs = append(msgs, *m)
		}
	}
	for _, m := range msgs {
		if serr := send(ctx, d, m); serr != nil {
			// Leased: due again when the lease ends.
			err = errors.Join(err, serr)
			continue
		}
		if d.Queue == nil {
			sum.Inline++
		} else {
			sum.Sent++
		}
	}
	return err
}

// send puts m on the queue (none wired: delivers it here).
func send(ctx context.Context, d httpapi.Services, m Message) error {
	if d.Queue == nil {
		_, err := deliver(ctx, d, m)
		return err
	}
	b, _ := json.Marshal(m)
	return d.Queue.Send(ctx, QueueName, string(b))
}

// endpoint is an endpoint item.
type endpoint struct {
	ID, Store, Owner, URL, Status, Description string
	Types                                      []string
	Secret, PrevSecret                         string
	PrevUntil, FailingSince, CreatedAt         time.Time
	DisabledReason                             string
	DisabledAt, RotatedAt, UpdatedAt           time.Time
	Version                                    int64 // +1 a change (0: made before versions)
}

func endpointFromItem(item ddb.Item) (endpoint, error) {
	d := ddb.Decode(item)
	e := endpoint{ID: d.MustS("endpointId"), Store: d.MustS("storeId"), Owner: d.MustS("owner"), URL: d.MustS("url"),
		Status: d.MustS("status"), Description: d.S("description"), Secret: d.MustS("secret"), PrevSecret: d.S("prevSecret"),
		CreatedAt: d.MustTime("createdAt"), DisabledReason: d.S("disabledReason")}
	if d.Has("prevSecretUntilMs") {
		e.PrevUntil = d.Millis("prevSecretUntilMs")
	}
	for name, t := range map[string]*time.Time{"failingSince": &e.FailingSince, "disabledAt": &e.DisabledAt,
		"rotatedAt": &e.RotatedAt, "updatedAt": &e.UpdatedAt} {
		if d.Has(name) {
			*t = d.Time(name)
		}
	}
	e.Version = d.N("version")
	if l, ok := item["types"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				e.Types = append(e.Types, s.Value)
			}
		}
	}
	return e, d.Err()
}

// wants says whether e takes events of type typ.
func (e endpoint) wants(typ string) bool {
	if typ == Test {
		return true
	}
	if len(e.Types) == 0 {
		return true
	}
	for _, t := range e.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// secrets are the secrets a delivery at now is signed with.
func (e endpoint) secrets(now time.Time) []string {
	out := []string{e.Secret}
	if e.PrevSecret != "" && now.Before(e.PrevUntil) {
		out = append(out, e.PrevSecret)
	}
	return out
}

// storeEndpoints reads a store's endpoints (one Query).
func storeEndpoints(ctx context.Context, t *ddb.Table, store string) ([]endpoint, error) {
	var out []endpoint
	q := t.Query(&dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :sk)"),
		ExpressionAttributeNames:  map[string]string{"#pk": ddb.AttrPK, "#sk": ddb.AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pkStore + store), ":sk": ddb.S(skEndpoint)},
		ConsistentRead:            aws.Bool(true),
	})
	for q.Next(ctx) {
		e, err := endpointFromItem(q.Item())
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, q.Err()
}

// fanOut makes the event's deliveries: ONE transaction of the event's due
// attributes removed (conditioned on their being there: once) and a
// delivery per enabled endpoint that takes the type, each leased (due
// Lease from now) and returned to be sent; an event with no delivery, the
// event's update alone.
func fanOut(ctx context.Context, d httpapi.Services, item ddb.Item, now time.Time, sum *SweepSummary) ([]Message, error) {
	dec := ddb.Decode(item)
	id, store, typ, owner := dec.MustS("eventId"), dec.MustS("storeId"), dec.MustS("type"), dec.MustS("owner")
	body, orderID, seq, created := dec.MustS("body"), dec.S("orderId"), dec.N("sequence"), dec.MustTime("createdAt")
	if err := dec.Err(); err != nil {
		return nil, err
	}
	read, ok := sum.endpoints[store]
	if !ok || created.After(read.at) {
		at := d.Clock.Now()
		eps, err := storeEndpoints(ctx, d.Table, store)
		if err != nil {
			return nil, err
		}
		if sum.endpoints == nil {
			sum.endpoints = map[string]endpointsRead{}
		}
		read = endpointsRead{eps: eps, at: at}
		sum.endpoints[store] = read
	}
	var dels []ddb.Item
	var msgs []Message
	for _, e := range read.eps {
		if e.Status != EndpointEnabled || !e.wants(typ) {
			continue
		}
		dels = append(dels, newDelivery(e, id, typ, orderID, body, seq, created, now, now.Add(Lease)))
		msgs = append(msgs, Message{Store: store, Endpoint: e.ID, Event: id})
	}
	_ = owner
	if len(dels) == 0 {
		// Nothing to deliver (a store without endpoints, the common case):
		// the event's own conditional update, not a transaction of one
		// item (half the write units, and no transaction at all for
		// DynamoDB Local, which runs them one at a time).
		return nil, markFannedOut(ctx, d.Table, id, now)
	}
	tx := &ledger.Tx{}
	tx.Update(eventKey(id), fannedOutUpdate, ledger.Cond{Expr: fannedOutCond, Names: fannedOutNames(), Values: ddb.Item{":now": ddb.Time(now)}},
		func(ddb.Item) error { return errFannedOut })
	for _, del := range dels {
		tx.Put(del, ledger.Cond{Expr: "attribute_not_exists(PK)"}, nil)
	}
	err := d.Ledger.Commit(ctx, tx)
	if errors.Is(err, errFannedOut) {
		return nil, nil // another sweep did it (the index lags)
	}
	if err != nil {
		return nil, err
	}
	return msgs, nil
}

// An event is fanned out once: its due attributes are removed on the
// condition that they are there.
const (
	fannedOutUpdate = "REMOVE #b, #d SET fannedOutAt = :now"
	fannedOutCond   = "attribute_exists(#d)"
)

// fannedOutNames is a new map each time: the sweep's items run at once.
func fannedOutNames() map[string]string {
	return map[string]string{"#b": ddb.AttrDuePK, "#d": ddb.AttrDueSK}
}

// markFannedOut fans out an event that has no delivery; an event another
// sweep fanned out already is no error.
func markFannedOut(ctx context.Context, t *ddb.Table, id string, now time.Time) error {
	_, err := t.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(t.Name), Key: eventKey(id),
		UpdateExpression: aws.String(fannedOutUpdate), ConditionExpression: aws.String(fannedOutCond),
		ExpressionAttributeNames: fannedOutNames(), ExpressionAttributeValues: ddb.Item{":now": ddb.Time(now)},
	})
	var done *types.ConditionalCheckFailedException
	if errors.As(err, &done) {
		return nil
	}
	return err
}

var errFannedOut = errors.New("webhooks: fanned out already")

// newDelivery is a pending delivery item of event id to e, due at due.
func newDelivery(e endpoint, id, typ, orderID, body string, seq int64, created, now, due time.Time) ddb.Item {
	item := deliveryKey(e.ID, id)
	item["endpointId"] = ddb.S(e.ID)
	item["storeId"] = ddb.S(e.Store)
	item["eventId"] = ddb.S(id)
	item["type"] = ddb.S(typ)
	item["sequence"] = ddb.N(seq)
	item["body"] = ddb.S(body)
	item["eventCreatedAt"] = ddb.Time(created)
	item["createdAt"] = ddb.Time(now)
	item["retryFrom"] = ddb.Time(now)
	item["status"] = ddb.S(DeliveryPending)
	item["attempts"] = ddb.N(0)
	item["nextAttemptAt"] = ddb.Time(now)
	item["log"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	ddb.SetStrings(item, map[string]string{"orderId": orderID})
	item[ddb.AttrTTL] = ttl(now)
	dueWebhook.Set(item, due, id)
	return item
}

// lease moves a due delivery's due time Lease ahead (conditioned on the
// due time read: one sweep sends it) and answers its message.
func lease(ctx context.Context, d httpapi.Services, item ddb.Item, now time.Time) (*Message, error) {
	dec := ddb.Decode(item)
	if dec.S("status") != DeliveryPending {
		return nil, nil
	}
	m := Message{Store: dec.MustS("storeId"), Endpoint: dec.MustS("endpointId"), Event: dec.MustS("eventId")}
	if err := dec.Err(); err != nil {
		return nil, err
	}
	read, _ := item[ddb.AttrDueSK].(*types.AttributeValueMemberS)
	if read == nil {
		return nil, nil
	}
	tx := &ledger.Tx{}
	tx.Update(ddb.Key(dec.S(ddb.AttrPK), dec.S(ddb.AttrSK)), "SET #d = :d", ledger.Cond{
		Expr: "#d = :read AND #s = :pending", Names: map[string]string{"#d": ddb.AttrDueSK, "#s": "status"},
		Values: ddb.Item{":d": ddb.S(ddb.DueAt(now.Add(Lease), m.Event)), ":read": read, ":pending": ddb.S(DeliveryPending)},
	}, func(ddb.Item) error { return errFannedOut })
	if err := d.Ledger.Commit(ctx, tx); err != nil {
		if errors.Is(err, errFannedOut) {
			return nil, nil // recorded or leased meanwhile
		}
		return nil, err
	}
	return &m, nil
}

// WorkSummary is what a worker invocation did.
type WorkSummary struct {
	Delivered int `json:"delivered"`
	Retrying  int `json:"retrying"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"` // not pending any more (a duplicate message)
}

// Worker is the webhook-worker: each message is one delivery attempt. An
// error (the attempt could not be recorded) fails the message, which the
// queue delivers again; the delivery also stays due for the sweep.
func Worker(d httpapi.Services) func(context.Context, events.SQSEvent) (WorkSummary, error) {
	return func(ctx context.Context, ev events.SQSEvent) (WorkSummary, error) {
		var sum WorkSummary
		var errs []error
		for _, rec := range ev.Records {
			var m Message
			if err := json.Unmarshal([]byte(rec.Body), &m); err != nil || !ValidEndpointID(m.Endpoint) || !ValidEventID(m.Event) {
				d.Log.ErrorContext(ctx, "webhook worker: a message that is no delivery (dropped)", "message", rec.MessageId, "body", rec.Body)
				continue
			}
			out, err := deliver(ctx, d, m)
			if err != nil {
				errs = append(errs, fmt.Errorf("delivery %s to %s: %w", m.Event, m.Endpoint, err))
				continue
			}
			switch out {
			case DeliveryDelivered:
				sum.Delivered++
			case DeliveryPending:
				sum.Retrying++
			case DeliveryFailed:
				sum.Failed++
			default:
				sum.Skipped++
			}
		}
		d.Log.InfoContext(ctx, "webhook worker", "records", len(ev.Records), "delivered", sum.Delivered, "retrying", sum.Retrying,
			"failed", sum.Failed, "skipped", sum.Skipped)
		return sum, errors.Join(errs...)
	}
}

var (
	clientsMu sync.Mutex
	clients   = map[bool]*http.Client{}
)

func clientFor(allowLoopback bool) *http.Client {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	c := clients[allowLoopback]
	if c == nil {
		c = NewClient(allowLoopback)
		clients[allowLoopback] = c
	}
	return c
}

// attempt is one entry of a delivery's log.
type attempt struct {
	At        time.Time
	Status    int
	LatencyMs int64
	Error     string
}

// deliver makes one attempt of m's delivery and records it; it answers the
// delivery's status after it ("" when there was nothing to do).
func deliver(ctx context.Context, d httpapi.Services, m Message) (string, error) {
	item, key, err := getDelivery(ctx, d.Table, m.Endpoint, m.Event)
	if err != nil || item == nil {
		return "", err
	}
	m.key = key
	dec := ddb.Decode(item)
	status, attempts, body := dec.S("status"), dec.N("attempts"), dec.S("body")
	retryFrom, typ, orderID := dec.Time("retryFrom"), dec.S("type"), dec.S("orderId")
	var log []types.AttributeValue
	if l, ok := item["log"].(*types.AttributeValueMemberL); ok {
		log = l.Value
	}
	m.log = log
	if err := dec.Err(); err != nil {
		return "", err
	}
	if status != DeliveryPending {
		return "", nil
	}
	// The endpoint as it is now (its shard's copy, strongly consistent):
	// never a stale status or secret.
	ep, found, err := settings(ctx, d, m.Store, m.Endpoint, deliveryShard(m.Event))
	if err != nil {
		return "", err
	}
	now := d.Clock.Now()
	if !found || ep.Status != EndpointEnabled {
		// Deleted or disabled: the delivery ends (resend it once enabled).
		reason := "endpoint deleted"
		if found {
			reason = "endpoint disabled"
		}
		return DeliveryFailed, record(ctx, d, m, attempts, attempt{At: now, Error: reason}, DeliveryFailed, time.Time{}, nil)
	}
	t := now.Unix()
	headers := map[string]string{
		HeaderSignature: SignatureHeader(t, []byte(body), ep.secrets(now)...),
		HeaderEventID:   m.Event,
		HeaderEventType: typ,
	}
	start := time.Now()
	code, perr := post(ctx, clientFor(d.Config.WebhookAllowLoopback), ep.URL, []byte(body), headers)
	a := attempt{At: now, Status: code, LatencyMs: time.Since(start).Milliseconds()}
	if perr != nil {
		a.Error = shortError(perr)
	} else if code < 200 || code > 299 {
		a.Error = fmt.Sprintf("HTTP %d", code)
	}
	if a.Error == "" {
		if err := record(ctx, d, m, attempts, a, DeliveryDelivered, time.Time{}, nil); err != nil {
			return "", err
		}
		if !ep.FailingSince.IsZero() { // the streak ends
			clearFailing(ctx, d, ep)
		}
		return DeliveryDelivered, nil
	}
	next := now.Add(Backoff(int(attempts)+1, rand.Float64))
	outcome := DeliveryPending
	var notice *notify.Notification
	if next.After(retryFrom.Add(RetryFor)) {
		outcome, next = DeliveryFailed, time.Time{}
		notice = &notify.Notification{UserID: ep.Owner, Type: NotifDeliveryFailed, At: now.UTC(), Data: map[string]any{
			"storeId": ep.Store, "endpointId": ep.ID, "url": ep.URL, "eventId": m.Event, "eventType": typ, "orderId": orderID,
			"attempts": attempts + 1, "lastError": a.Error}}
	}
	if err := record(ctx, d, m, attempts, a, outcome, next, notice); err != nil {
		return "", err
	}
	failing(ctx, d, ep, now)
	return outcome, nil
}

func shortError(err error) string {
	var s string
	switch {
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") || strings.Contains(err.Error(), "timeout"):
		s = "timeout after " + DeliveryTimeout.String()
	default:
		s = err.Error()
		if i := strings.Index(s, "webhooks: refused: "); i >= 0 {
			s = "refused: " + s[i+len("webhooks: refused: "):]
		}
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// record writes attempt a into the delivery, conditioned on the attempts
// read (a duplicate message's attempt is not recorded twice) and on the
// delivery still pending: delivered, failed (with the owner's notice), or
// pending and due at next.
func record(ctx context.Context, d httpapi.Services, m Message, attempts int64, a attempt, outcome string, next time.Time, notice *notify.Notification) error {
	// The log as read plus this attempt, the oldest dropped past MaxLog
	// (the condition on attempts makes the read the item's current log).
	entry := map[string]types.AttributeValue{"at": ddb.Time(a.At), "status": ddb.N(int64(a.Status)), "latencyMs": ddb.N(a.LatencyMs)}
	if a.Error != "" {
		entry["error"] = ddb.S(a.Error)
	}
	log := append(append([]types.AttributeValue{}, m.log...), &types.AttributeValueMemberM{Value: entry})
	if len(log) > MaxLog {
		log = log[len(log)-MaxLog:]
	}
	vals := ddb.Item{":n": ddb.N(attempts), ":n1": ddb.N(attempts + 1), ":pending": ddb.S(DeliveryPending),
		":out": ddb.S(outcome), ":log": &types.AttributeValueMemberL{Value: log}, ":at": ddb.Time(a.At), ":code": ddb.N(int64(a.Status)),
		":ms": ddb.N(a.LatencyMs)}
	set := "SET #s = :out, attempts = :n1, lastAttemptAt = :at, lastStatus = :code, lastLatencyMs = :ms, #l = :log"
	remove := []string{}
	names := map[string]string{"#s": "status", "#l": "log"}
	if a.Error != "" {
		set += ", lastError = :err"
		vals[":err"] = ddb.S(a.Error)
	} else {
		remove = append(remove, "lastError")
	}
	switch outcome {
	case DeliveryPending:
		set += ", nextAttemptAt = :next, #d = :due"
		vals[":next"], vals[":due"] = ddb.Time(next), ddb.S(ddb.DueAt(next, m.Event))
		names["#d"] = ddb.AttrDueSK
	case DeliveryDelivered:
		set += ", deliveredAt = :at"
		remove = append(remove, "#b", "#d", "nextAttemptAt")
		names["#b"], names["#d"] = ddb.AttrDuePK, ddb.AttrDueSK
	case DeliveryFailed:
		set += ", failedAt = :at"
		remove = append(remove, "#b", "#d", "nextAttemptAt")
		names["#b"], names["#d"] = ddb.AttrDuePK, ddb.AttrDueSK
	}
	expr := set
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	key := m.key
	if key == nil {
		key = deliveryKey(m.Endpoint, m.Event)
	}
	tx := &ledger.Tx{}
	tx.Update(key, expr, ledger.Cond{
		Expr: "attempts = :n AND #s = :pending", Names: names, Values: vals,
	}, func(ddb.Item) error { return errRecorded })
	if notice != nil {
		notify.Add(tx, *notice)
	}
	err := d.Ledger.Commit(ctx, tx)
	if errors.Is(err, errRecorded) {
		return nil // a duplicate's attempt was recorded first (or a resend reset it)
	}
	return err
}

var errRecorded = errors.New("webhooks: attempt recorded already")

// failing starts an endpoint's failure streak, or disables the endpoint
// (and notifies its owner) once the streak has lasted DisableAfter. ep is
// the copy the attempt read: the endpoint is read again (strongly) only
// when the streak starts or disables it. Best effort: the change is
// re-checked on what is read, so a concurrent attempt's does not repeat.
func failing(ctx context.Context, d httpapi.Services, ep endpoint, now time.Time) {
	if !ep.FailingSince.IsZero() && now.Sub(ep.FailingSince) < DisableAfter {
		return
	}
	_, _, err := modifyEndpoint(ctx, d, nil, ep.Store, ep.ID, func(e *endpoint, tx *ledger.Tx) error {
		switch {
		case e.Status != EndpointEnabled:
			return errUnchanged
		case e.FailingSince.IsZero():
			e.FailingSince = now
		case now.Sub(e.FailingSince) >= DisableAfter:
			e.Status, e.DisabledReason, e.DisabledAt = EndpointDisabled, "failing", now
			notify.Add(tx, notify.Notification{UserID: e.Owner, Type: NotifEndpointDisabled, At: now.UTC(), Data: map[string]any{
				"storeId": e.Store, "endpointId": e.ID, "url": e.URL, "failingSince": e.FailingSince}})
		default:
			return errUnchanged
		}
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) && !errors.Is(err, errChanged) {
		d.Log.WarnContext(ctx, "webhook worker: endpoint failure streak not recorded", "endpoint", ep.ID, "error", err.Error())
	}
}

// clearFailing ends an endpoint's failure streak after a success.
func clearFailing(ctx context.Context, d httpapi.Services, ep endpoint) {
	_, _, err := modifyEndpoint(ctx, d, nil, ep.Store, ep.ID, func(e *endpoint, _ *ledger.Tx) error {
		if e.FailingSince.IsZero() {
			return errUnchanged
		}
		e.FailingSince = time.Time{}
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) && !errors.Is(err, errChanged) {
		d.Log.WarnContext(ctx, "webhook worker: endpoint failure streak not cleared", "endpoint", ep.ID, "error", err.Error())
	}
}
