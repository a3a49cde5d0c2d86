// Package capacity is a partition-level model of DynamoDB's capacity: what
// every request the handlers make costs, in read and write units, on which
// partition of the table or of a global secondary index, by the rules of
// the DynamoDB developer guide (see cost_test.go for each rule beside the
// guide's statement). It has three parts:
//
//   - Recorder (record.go) wraps a DynamoDB client and charges every call
//     from the real items: it reads each written item before and after the
//     call (on the bare client, unrecorded), so an update costs the larger
//     of its sizes and the index writes are the ones the change causes.
//   - Footprints (footprint.go): the charges of one request of every route
//     and one run of every job, recorded from real runs of the handlers
//     (localstack/stacktest's TestFootprints writes footprints.json), with every
//     partition key classified generically (USER#<payer>, DUE#fold#<n>,
//     ORDER#<id>) so that traffic mixes can scale them.
//   - Mixes (mix.go): the load per partition of a traffic mix, its hottest
//     partitions and the highest rate it sustains with every partition at
//     most 80 % of its limit (`make capacity`).
//
// Enforcer (enforce.go) applies the same charges to a running stack (make
// run with MINIPAY_CLOUD_MODEL=1): a partition over its limit throttles.
//
// Like localstack/contention it is local tooling: no product code imports it.
package capacity

import (
	"math"

	"minipay/localstack/contention"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The per-partition limits (of the table and of each global secondary
// index, in either capacity mode).
const (
	PartitionWCU = 1000.0
	PartitionRCU = 3000.0
	// Headroom is the share of a partition's limit a sustainable rate may use.
	Headroom = 0.8
)

// ItemSize is an item's size by DynamoDB's rules (attribute names plus
// values); see contention.ItemSize.
func ItemSize(item map[string]types.AttributeValue) int { return contention.ItemSize(item) }

// WriteUnits is what writing an item of size bytes costs: one unit per
// started KB (at least one), twice that inside a transaction.
func WriteUnits(size int, transactional bool) float64 {
	kb := math.Max(1, math.Ceil(float64(size)/1024))
	if transactional {
		return 2 * kb
	}
	return kb
}

// ReadUnits is what reading size bytes costs (one item of a GetItem, or
// every item a Query read, summed first): one unit per started 4 KB (at
// least one), half for an eventually consistent read.
func ReadUnits(size int, strong bool) float64 {
	u := math.Max(1, math.Ceil(float64(size)/4096))
	if !strong {
		return u / 2
	}
	return u
}

// UpdateSize is the size an update (or a put replacing an item) is charged
// for: the larger of the item before and after.
func UpdateSize(before, after map[string]types.AttributeValue) int {
	return max(ItemSize(before), ItemSize(after))
}
