package emulator

import (
	"reflect"
	"testing"

	"minipay/shared/edge/routes"
)

func TestRouterMatch(t *testing.T) {
	table := append([]routes.Route{
		{Method: "GET", Path: "/accounts/mine", Function: "mine"},
		{Method: "ANY", Path: "/files/{path+}", Function: "files"},
		{Method: "GET", Path: "/files/{path+}", Function: "files-get"},
		{Method: "GET", Path: "/", Function: "root"},
	}, routes.Routes...)
	r, err := newRouter(table)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		key          string // "" = not found
		params       map[string]string
	}{
		{"POST", "/users", "POST /users", nil},
		{"GET", "/users", "", nil}, // path exists, method does not: 404 like HTTP APIs
		{"GET", "/accounts", "GET /accounts", nil},
		{"POST", "/accounts", "POST /accounts", nil},
		{"GET", "/accounts/m_123", "GET /accounts/{id}", map[string]string{"id": "m_123"}},
		{"GET", "/accounts/mine", "GET /accounts/mine", nil}, // a literal beats {id}
		{"POST", "/accounts/s_9/charges", "POST /accounts/{id}/charges", map[string]string{"id": "s_9"}},
		{"GET", "/accounts/s_9/entries", "GET /accounts/{id}/entries", map[string]string{"id": "s_9"}},
		{"GET", "/accounts/a%20b/entries", "GET /accounts/{id}/entries", map[string]string{"id": "a b"}},
		{"GET", "/accounts/a%2Fb", "GET /accounts/{id}", map[string]string{"id": "a/b"}},
		{"POST", "/operator/deposits", "POST /operator/deposits", nil},
		{"GET", "/files/a/b/c", "GET /files/{path+}", map[string]string{"path": "a/b/c"}}, // exact method beats ANY
		{"PUT", "/files/a/b/c", "ANY /files/{path+}", map[string]string{"path": "a/b/c"}},
		{"GET", "/", "GET /", nil},
		{"GET", "/accounts/", "", nil}, // an empty {id}
		{"GET", "/accounts/x/y", "", nil},
		{"POST", "/accounts/x/charges/extra", "", nil},
		{"GET", "/nope", "", nil},
		{"POST", "/users/", "", nil},
		{"GET", "/files", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rt, params, ok := r.match(tt.method, tt.path)
			if tt.key == "" {
				if ok {
					t.Fatalf("matched %s, want no match", rt.key)
				}
				return
			}
			if !ok {
				t.Fatalf("no match, want %s", tt.key)
			}
			if rt.key != tt.key {
				t.Errorf("route %s, want %s", rt.key, tt.key)
			}
			if !reflect.DeepEqual(params, tt.params) {
				t.Errorf("params %v, want %v", params, tt.params)
			}
		})
	}
}

func TestRouterRejectsBadTables(t *testing.T) {
	for _, rs := range [][]routes.Route{
		{{Method: "GET", Path: "/a"}, {Method: "get", Path: "/a"}},
		{{Method: "GET", Path: "a"}},
		{{Method: "GET", Path: "/{p+}/x"}},
		{{Method: "GET", Path: "/a{id}"}},
	} {
		if _, err := newRouter(rs); err == nil {
			t.Errorf("newRouter(%v) accepted a bad table", rs)
		}
	}
}
