package contention

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Cancellation reason codes and messages, as the DynamoDB API reference
// lists them for TransactionCanceledException ("Transaction Conflict",
// "Throttling Error": the message returned when writes are throttled on an
// on-demand table).
const (
	CodeNone        = "None"
	CodeConflict    = "TransactionConflict"
	CodeThrottling  = "ThrottlingError"
	msgConflict     = "Transaction is ongoing for the item."
	msgThrottled    = "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html."
	msgItemConflict = "Operation was rejected because there is an ongoing transaction for the item."

	// ReasonKeyRange is the ThrottlingReason of a hot partition's write
	// throttle (both capacity modes).
	ReasonKeyRange = "TableWriteKeyRangeThroughputExceeded"
)

// canceled is the cancellation of a transaction: one reason per item, in
// request order, and DynamoDB's message listing them.
func canceled(codes []string) *types.TransactionCanceledException {
	reasons := make([]types.CancellationReason, len(codes))
	for i, c := range codes {
		reasons[i].Code = aws.String(c)
		switch c {
		case CodeConflict:
			reasons[i].Message = aws.String(msgConflict)
		case CodeThrottling:
			reasons[i].Message = aws.String(msgThrottled)
		}
	}
	return &types.TransactionCanceledException{
		Message:             aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]"),
		CancellationReasons: reasons,
	}
}

func itemConflict() *types.TransactionConflictException {
	return &types.TransactionConflictException{Message: aws.String(msgItemConflict)}
}

func throttled(table string) *types.ThrottlingException {
	return &types.ThrottlingException{
		Message: aws.String(msgThrottled),
		ThrottlingReasons: []types.ThrottlingReason{{
			Reason:   aws.String(ReasonKeyRange),
			Resource: aws.String("arn:aws:dynamodb:local:000000000000:table/" + table),
		}},
	}
}

// response wraps an API error the way the SDK's deserializer does: an HTTP
// 400 response error with a request id.
func (m *Model) response(apiErr error) error {
	id := fmt.Sprintf("CONTENTIONMODEL%017d", m.reqID.Add(1))
	resp := &http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request",
		Header: http.Header{"X-Amzn-Requestid": []string{id}}}
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: apiErr},
		RequestID:     id,
	}
}

// operation adds what the SDK adds around every operation's error.
func operation(op string, err error) error {
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: op, Err: err}
}
