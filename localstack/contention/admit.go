package contention

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// ItemKey identifies an item: its table and primary key values (binary
// values in base64, a missing sort key as "").
type ItemKey struct{ Table, Partition, Sort string }

func (k ItemKey) String() string {
	if k.Sort == "" {
		return k.Table + " " + k.Partition
	}
	return k.Table + " " + k.Partition + " / " + k.Sort
}

// partition is what one token bucket serves: the worst case of one hot
// partition-key value per partition.
type partition struct{ table, key string }

func (k ItemKey) partition() partition { return partition{k.Table, k.Partition} }

// write is one item of a write request as the model sees it.
type write struct {
	key ItemKey
	wcu float64
}

type bucket struct {
	tokens float64
	at     time.Time
}

// level refills b up to now and returns its tokens.
func (m *Model) level(p partition, now time.Time) *bucket {
	b, ok := m.buckets[p]
	if !ok {
		b = &bucket{tokens: m.cfg.BurstWCU, at: now}
		m.buckets[p] = b
		return b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(m.cfg.BurstWCU, b.tokens+d.Seconds()*m.cfg.WCUPerSecond)
		b.at = now
	}
	return b
}

// occupied reports whether a transaction admitted earlier still holds k.
func (m *Model) occupied(k ItemKey, now time.Time) bool {
	until, ok := m.busy[k]
	if !ok {
		return false
	}
	if now.Before(until) {
		return true
	}
	delete(m.busy, k)
	return false
}

// fits reports, for each write in order, whether its partition still has
// the capacity for it after the writes before it; nothing is consumed.
func (m *Model) fits(ws []write, skip []bool, now time.Time) (ok []bool, all, none bool) {
	ok = make([]bool, len(ws))
	all, none = true, true
	if m.cfg.NoCapacity {
		for i := range ok {
			ok[i] = true
		}
		return ok, true, len(ws) == 0
	}
	need := map[partition]float64{}
	for i, w := range ws {
		if skip != nil && skip[i] {
			continue
		}
		p := w.key.partition()
		if m.level(p, now).tokens >= need[p]+w.wcu {
			need[p] += w.wcu
			ok[i], none = true, false
		} else {
			all = false
		}
	}
	return ok, all, none
}

func (m *Model) consume(ws []write, now time.Time) {
	for _, w := range ws {
		if !m.cfg.NoCapacity {
			m.level(w.key.partition(), now).tokens -= w.wcu
		}
		m.wcu += w.wcu
	}
}

// admitTransaction decides one TransactWriteItems attempt at now: nil when
// admitted (capacity consumed, items occupied until now + ServiceTime),
// else the cancellation.
func (m *Model) admitTransaction(ws []write, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	m.total.Attempts++
	codes := make([]string, len(ws))
	conflict := make([]bool, len(ws))
	anyConflict := false
	for i, w := range ws {
		m.counts(w.key).Attempts++
		codes[i] = CodeNone
		if !m.cfg.NoOccupancy && m.occupied(w.key, now) {
			codes[i], conflict[i], anyConflict = CodeConflict, true, true
		}
	}
	ok, all, _ := m.fits(ws, conflict, now)
	if !anyConflict && all {
		m.consume(ws, now)
		if !m.cfg.NoOccupancy {
			for _, w := range ws {
				m.busy[w.key] = now.Add(m.cfg.ServiceTime)
			}
		}
		return nil
	}
	m.total.Rejected++
	if anyConflict {
		m.total.Conflicts++
	}
	anyThrottle := false
	for i, w := range ws {
		c := m.counts(w.key)
		c.Rejected++
		switch {
		case conflict[i]:
			c.Conflicts++
		case !ok[i]:
			codes[i], anyThrottle = CodeThrottling, true
			c.Throttles++
		}
	}
	if anyThrottle {
		m.total.Throttles++
	}
	return canceled(codes)
}

// admitStandard decides one PutItem, UpdateItem or DeleteItem attempt.
func (m *Model) admitStandard(w write, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	m.total.Attempts++
	c := m.counts(w.key)
	c.Attempts++
	var err error
	if !m.cfg.NoOccupancy && m.occupied(w.key, now) {
		m.total.Conflicts++
		c.Conflicts++
		err = itemConflict()
	} else if ok, _, _ := m.fits([]write{w}, nil, now); !ok[0] {
		m.total.Throttles++
		c.Throttles++
		err = throttled(w.key.Table)
	} else {
		m.consume([]write{w}, now)
		return nil
	}
	m.total.Rejected++
	c.Rejected++
	return err
}

// admitBatch decides a BatchWriteItem: which requests fit (consumed) and
// which are throttled (left unprocessed). Batches do not meet occupancy.
func (m *Model) admitBatch(ws []write, now time.Time) (ok []bool, none bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	ok, _, none = m.fits(ws, nil, now)
	m.total.Attempts++
	var admitted []write
	for i, w := range ws {
		c := m.counts(w.key)
		c.Attempts++
		if ok[i] {
			admitted = append(admitted, w)
			continue
		}
		c.Rejected++
		c.Throttles++
	}
	m.consume(admitted, now)
	if len(admitted) < len(ws) {
		m.total.Throttles++
	}
	if none && len(ws) > 0 {
		m.total.Rejected++
	}
	return ok, none
}

// finish records what DynamoDB Local answered an admitted request.
func (m *Model) finish(ws []write, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		m.total.Successes++
	} else {
		m.total.Failed++
		m.failures[failure(err)]++
	}
	for _, w := range ws {
		if err == nil {
			m.counts(w.key).Successes++
		} else {
			m.counts(w.key).Failed++
		}
	}
}

// release frees the items a transaction occupied until until, unless
// another transaction has occupied them since.
func (m *Model) release(ws []write, until time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range ws {
		if u, ok := m.busy[w.key]; ok && u.Equal(until) {
			delete(m.busy, w.key)
		}
	}
}

// failure names what DynamoDB Local refused a request with: the error
// code, and for a cancelled transaction its distinct reasons.
func failure(err error) string {
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		var codes []string
		for _, r := range tc.CancellationReasons {
			if c := aws.ToString(r.Code); c != CodeNone && !slices.Contains(codes, c) {
				codes = append(codes, c)
			}
		}
		return "TransactionCanceledException " + strings.Join(codes, "+")
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "other"
}

// sweep forgets, now and then, occupancy that has ended and buckets that
// have refilled, so the maps hold only what is live.
func (m *Model) sweep(now time.Time) {
	m.ops++
	if m.ops%4096 != 0 {
		return
	}
	for k, until := range m.busy {
		if !now.Before(until) {
			delete(m.busy, k)
		}
	}
	for p := range m.buckets {
		if m.level(p, now).tokens >= m.cfg.BurstWCU {
			delete(m.buckets, p)
		}
	}
}

// KeyOf is the ItemKey of item (or key) in table, by the table's key schema.
func (m *Model) KeyOf(table string, item map[string]types.AttributeValue) ItemKey {
	s := m.cfg.schema(table)
	k := ItemKey{Table: table, Partition: keyValue(item[s.Partition])}
	if s.Sort != "" {
		k.Sort = keyValue(item[s.Sort])
	}
	return k
}

func keyValue(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	case *types.AttributeValueMemberB:
		return base64.StdEncoding.EncodeToString(v.Value)
	}
	return ""
}

// transactWrites are the items of a TransactWriteItems with their cost.
func (m *Model) transactWrites(in *dynamodb.TransactWriteItemsInput) []write {
	ws := make([]write, 0, len(in.TransactItems))
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			t := aws.ToString(it.Put.TableName)
			ws = append(ws, write{m.KeyOf(t, it.Put.Item), writeUnits(ItemSize(it.Put.Item), 2)})
		case it.Update != nil:
			t := aws.ToString(it.Update.TableName)
			size := updateSize(it.Update.Key, it.Update.UpdateExpression, it.Update.ExpressionAttributeValues)
			ws = append(ws, write{m.KeyOf(t, it.Update.Key), writeUnits(size, 2)})
		case it.Delete != nil:
			t := aws.ToString(it.Delete.TableName)
			ws = append(ws, write{m.KeyOf(t, it.Delete.Key), writeUnits(ItemSize(it.Delete.Key), 2)})
		case it.ConditionCheck != nil:
			t := aws.ToString(it.ConditionCheck.TableName)
			ws = append(ws, write{m.KeyOf(t, it.ConditionCheck.Key), 0})
		default:
			ws = append(ws, write{})
		}
	}
	return ws
}

// updateSize estimates an updated item's size without the stored item: its
// key, the values the expression writes and the expression's length (a
// proxy for the attribute names it sets).
func updateSize(key map[string]types.AttributeValue, expr *string, values map[string]types.AttributeValue) int {
	n := ItemSize(key) + len(strings.TrimSpace(aws.ToString(expr)))
	for _, v := range values {
		n += ValueSize(v)
	}
	return n
}
