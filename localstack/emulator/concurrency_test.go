package emulator_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/localstack/emulator"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
)

// Concurrent requests to one function each get their own response: the
// emulator gives each in-flight request its own instance, as Lambda does
// (aws-lambda-go reuses a response buffer within an instance).
func TestConcurrentRequestsGetTheirOwnResponses(t *testing.T) {
	echo := func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		time.Sleep(time.Millisecond) // overlap the invocations
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: strings.Repeat(e.PathParameters["n"], 200)}, nil
	}
	em, err := emulator.New(emulator.Config{
		Handlers: map[string]any{"echo": echo},
		Routes:   []routes.Route{{Method: "GET", Path: "/echo/{n}", Function: "echo", Auth: routes.Public}},
		Clock:    clock.Real{}, Log: quietLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			n := fmt.Sprint(i % 10)
			rec := httptest.NewRecorder()
			em.ServeHTTP(rec, httptest.NewRequest("GET", "/echo/"+n, nil))
			if rec.Code != 200 || rec.Body.String() != strings.Repeat(n, 200) {
				t.Errorf("request %s got %d %.40s", n, rec.Code, rec.Body.String())
			}
		}(i)
	}
	wg.Wait()
}
