package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/localstack/ddbtest"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/wiring/app"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

// The function directories, the handler map and the tables name the same set.
func TestFunctionsMatchTheTables(t *testing.T) {
	dirs, _ := filepath.Glob("../../../functions/*/main.go")
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	sort.Strings(names)
	want := routes.Functions()
	if len(names) != len(want) {
		t.Fatalf("functions/ has %v; tables name %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("functions/ has %v; tables name %v", names, want)
		}
	}
	h := app.Handlers(httpapi.Services{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	for _, f := range want {
		if h[f] == nil {
			t.Errorf("no handler for %s", f)
		}
	}
}

// Every sample event in events/ is what API Gateway sends for its route, and
// the real handler, invoked through aws-lambda-go's JSON path against DynamoDB
// Local, answers it with a 2xx or a problem+json 4xx (the sample ids name
// nothing in a fresh table), never a 500.
func TestSampleEventsThroughTheLambdaJSONPath(t *testing.T) {
	e := ddbtest.New(t)
	d, err := app.NewServices(e.DB, config.Config{Table: e.Name}, e.Clock, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	handlers := app.Handlers(d)
	for _, r := range append([]routes.Route{routes.Fallback}, routes.Routes...) {
		t.Run(r.Function, func(t *testing.T) {
			raw, err := os.ReadFile("../../../events/" + r.Function + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			if key := r.Method + " " + r.Path; r.Function == routes.Fallback.Function && ev.RouteKey != "$default" ||
				r.Function != routes.Fallback.Function && (ev.RouteKey != key || ev.RequestContext.HTTP.Method != r.Method) {
				t.Fatalf("event route %q, want %s %s", ev.RouteKey, r.Method, r.Path)
			}
			out, err := lambda.NewHandler(handlers[r.Function]).Invoke(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode >= 500 || resp.StatusCode >= 400 && resp.Headers["content-type"] != "application/problem+json" {
				t.Fatalf("%d %v %s", resp.StatusCode, resp.Headers, resp.Body)
			}
		})
	}
	// Every schedule's sample event (what `make invoke FN=<job>
	// EVENT=events/<job>.json` sends) runs its job through the same path.
	for _, sc := range routes.Schedules {
		t.Run(sc.Name, func(t *testing.T) {
			raw, err := os.ReadFile("../../../events/" + sc.Function + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var ev routes.ScheduledEvent
			if err := json.Unmarshal(raw, &ev); err != nil || ev.Job != sc.Name {
				t.Fatalf("event %s: job %q, want %q (%v)", raw, ev.Job, sc.Name, err)
			}
			if _, err := lambda.NewHandler(handlers[sc.Function]).Invoke(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Every queue worker's sample event (an SQS event, what `make invoke
	// FN=<worker>` sends) runs through the same path.
	for _, q := range routes.Queues {
		t.Run(q.Worker, func(t *testing.T) {
			raw, err := os.ReadFile("../../../events/" + q.Worker + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var ev events.SQSEvent
			if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Records) == 0 {
				t.Fatalf("event %s: %v", raw, err)
			}
			if _, err := lambda.NewHandler(handlers[q.Worker]).Invoke(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
		})
	}
	raw, err := os.ReadFile("../../../events/authorizer.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(handlers[routes.AuthorizerFunction]).Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayV2CustomAuthorizerSimpleResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.Context[httpapi.CtxRole] != httpapi.RoleAnonymous {
		t.Fatalf("authorizer on the sample token: %s %v", out, err)
	}
}

// The edge's one table and the codes the packages register are the same
// set: a domain error without a row would be a 500, a row without a code
// is stale (and the OpenAPI enum would list it).
func TestEveryDomainCodeHasAProblemRow(t *testing.T) {
	app.Handlers(httpapi.Services{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}) // every capability package is linked in
	codes := map[string]bool{}
	for _, c := range domainerr.Codes() {
		codes[c] = true
		if _, ok := httpapi.Problems[c]; !ok {
			t.Errorf("code %q has no row in httpapi.Problems", c)
		}
	}
	for c, p := range httpapi.Problems {
		if !codes[c] {
			t.Errorf("httpapi.Problems row %q: no package registers the code", c)
		}
		if p.Status < 400 || p.Status > 599 || p.Title == "" {
			t.Errorf("row %q: %+v", c, p)
		}
	}
}
