// Package contention wraps a DynamoDB client with what the cloud does and
// DynamoDB Local does not: transaction conflicts and per-partition write
// throttling. Tests and benchmarks use it; production code never imports it.
//
// What it models:
//
//   - Occupancy. An admitted TransactWriteItems occupies each of its items
//     (table + primary key) for Config.ServiceTime from the moment it is
//     admitted (with NoPadding, only until it answers if that is sooner),
//     whatever DynamoDB Local answers: real DynamoDB finds a
//     failed condition by running the transaction, so a refused transaction
//     did occupy its items. A TransactWriteItems touching an occupied item is
//     cancelled (*types.TransactionCanceledException, one reason per item in
//     request order: "TransactionConflict" on the occupied items, "None" on
//     the others, the message "Transaction cancelled, please refer
//     cancellation reasons for specific reasons [None, TransactionConflict]").
//     PutItem, UpdateItem and DeleteItem on an occupied item fail with
//     *types.TransactionConflictException. Standard writes occupy nothing
//     (DynamoDB lists no conflict of a transaction with an ongoing PutItem).
//     Reads (GetItem, Query, Scan) pass through: GetItem is serializable with
//     transactions and "both operations can succeed", Query and Scan are
//     read-committed (developer guide, "Isolation levels" and "Transaction
//     conflict handling").
//   - Latency. An admitted write takes at least its modelled service time
//     (ServiceTime for transactions, StandardServiceTime for standard writes):
//     the model sleeps the remainder after DynamoDB Local answers. Rejections
//     are answered at once.
//   - Write capacity. Each partition, (table, partition-key value), has a
//     token bucket of Config.WCUPerSecond (1,000) holding at most
//     Config.BurstWCU. A transactional write costs 2 WCU per started KB per
//     item, a standard write 1; sizes follow DynamoDB's rules (attribute name
//     lengths + UTF-8 strings, raw binary, numbers at 1 byte per 2
//     significant digits + 1, 3 bytes per list or map). The stored item is
//     unknown, so an Update is sized as its key + expression values + the
//     length of its update expression, and a Delete as its key: both round
//     up to 1 KB, which is right for small items and low for big ones. A
//     ConditionCheck occupies its item but costs no WCU (DynamoDB charges it
//     as a read; reads are not modelled). A throttled transaction is cancelled
//     with reason "ThrottlingError" (the on-demand message) on the throttled
//     items; a throttled standard write fails with *types.ThrottlingException
//     (reason TableWriteKeyRangeThroughputExceeded), which the SDK's default
//     retryer retries like the cloud's; a throttled BatchWriteItem request goes
//     to UnprocessedItems, or the whole call fails with ThrottlingException
//     when no request fits (decided once per call, so the SDK does not retry
//     that one). A rejected call consumes nothing and occupies nothing.
//   - The SDK. By default the checks run inside the client's middleware
//     stack, after its retry middleware, so each SDK attempt meets the model
//     and the errors reach the caller exactly as the cloud's would (wrapped in
//     an HTTP 400 *awshttp.ResponseError, retried or not by the client's own
//     retryer). Config.OutsideSDK checks around the call instead, for inner
//     clients that ignore option functions; then nothing is retried.
//
// What it does not model: adaptive capacity and partition splits (one key is
// one partition, forever), table- and account-level limits, GSI write
// capacity and back-pressure, read capacity, TransactGetItems, conflicts of
// BatchWriteItem with transactions, ClientRequestToken semantics (passed
// through to DynamoDB Local: a replayed token is a new transaction here),
// TransactionInProgressException, network latency. The clock is the real
// monotonic clock unless Config.Now is set.
package contention
