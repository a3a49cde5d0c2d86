package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"minipay/shared/edge/routes"
)

// The payment routes' overload protection is derived from the route table:
// each row's throttle is the stage's RouteSettings for its route key (the
// stage created after those routes), and each row's reserved concurrency is
// its function's ReservedConcurrentExecutions; nothing else has either.
func TestRouteThrottlesAndReservedConcurrency(t *testing.T) {
	f := synth(t)
	raw, err := json.Marshal(f.tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
			DependsOn  []string
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	routeIDs := map[string]string{} // route key -> logical ID
	var settings map[string]any
	var dependsOn []string
	for id, r := range doc.Resources {
		switch r.Type {
		case "AWS::ApiGatewayV2::Route":
			routeIDs[r.Properties["RouteKey"].(string)] = id
		case "AWS::ApiGatewayV2::Stage":
			settings, _ = r.Properties["RouteSettings"].(map[string]any)
			dependsOn = r.DependsOn
		}
	}
	throttled := 0
	for _, r := range routes.Served() {
		key := r.Method + " " + r.Path
		got, ok := settings[key].(map[string]any)
		if r.Throttle == nil {
			if ok {
				t.Errorf("%s: throttled %v, but its row has no throttle", key, got)
			}
			continue
		}
		throttled++
		if !ok || got["ThrottlingRateLimit"] != r.Throttle.Rate || got["ThrottlingBurstLimit"] != float64(r.Throttle.Burst) {
			t.Errorf("%s: route settings %v, want %v", key, got, *r.Throttle)
		}
		if !slices.Contains(dependsOn, routeIDs[key]) {
			t.Errorf("%s: the stage does not depend on route %s", key, routeIDs[key])
		}
	}
	if throttled == 0 || len(settings) != throttled {
		t.Errorf("%d route settings for %d throttled rows", len(settings), throttled)
	}
	reserved := reservedConcurrency(routes.Served())
	// the reservations are the route table's (derived in shared/edge/routes
	// from the capacity model): every row that reserves is in the stack
	if len(reserved) == 0 {
		t.Error("no function reserves concurrency")
	}
	for _, r := range routes.Served() {
		if r.ReservedConcurrency > 0 && reserved[r.Function] != r.ReservedConcurrency {
			t.Errorf("%s: reserved %d, row says %d", r.Function, reserved[r.Function], r.ReservedConcurrency)
		}
	}
	for name, id := range f.fnIDs {
		got, _ := doc.Resources[id].Properties["ReservedConcurrentExecutions"].(float64)
		if int(got) != reserved[name] {
			t.Errorf("%s: reserved concurrency %v, want %d", name, got, reserved[name])
		}
	}
}

func TestOverloadRowsAreValidated(t *testing.T) {
	for _, c := range []struct {
		name string
		row  routes.Route
		want string
	}{
		{"reserved without a throttle", routes.Route{ReservedConcurrency: 5}, "without a route throttle"},
		{"a zero rate", routes.Route{Throttle: &routes.Throttle{Burst: 1}}, "throttle"},
		{"past the account's burst", routes.Route{Throttle: &routes.Throttle{Rate: 1, Burst: routes.GatewayAccountBurst + 1}}, "throttle"},
		{"past the account's rate", routes.Route{Throttle: &routes.Throttle{Rate: routes.GatewayAccountRate + 1, Burst: 1}}, "throttle"},
		{"a burst past reserved", routes.Route{Throttle: &routes.Throttle{Rate: 10, Burst: 20}, ReservedConcurrency: 10}, "exceeds reserved concurrency"},
		{"too much reserved", routes.Route{Throttle: &routes.Throttle{Rate: 1, Burst: 1}, ReservedConcurrency: maxReserved + 1}, "reserved concurrency adds up"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.row
			r.Method, r.Path, r.Function, r.Auth = "POST", "/x", "x", routes.User
			rows := []routes.Route{r}
			err := validate(withDefaults(&StackProps{Routes: rows, Schedules: []routes.Schedule{}}), tableAccess(rows, nil, nil))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}
