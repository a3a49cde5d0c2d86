package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/edge/httpapi"
)

// The SDK's capacity errors carry an ErrorCode, as domain errors do: a
// throttled read or write is still the retryable 503, never a 500 for an
// unknown code (a throttled GetItem under the cloud model was answered 500).
func TestThrottledCallsAre503NotUnknownCodes(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("ddb: get USER#u/ACCOUNT#m: %w", &types.ThrottlingException{Message: new(string)}),
		fmt.Errorf("ddb: query: %w", &types.ProvisionedThroughputExceededException{}),
		fmt.Errorf("ddb: put: %w", &types.RequestLimitExceeded{}),
	} {
		t.Run(fmt.Sprintf("%T", err), func(t *testing.T) {
			p, ok := httpapi.ProblemOf(err)
			if !ok || p.Status != 503 || p.Code != "contention" {
				t.Errorf("%v: %+v %v", err, p, ok)
			}
		})
	}
}
