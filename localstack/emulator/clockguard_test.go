package emulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.0.0.1:8080": true, "localhost": true, "LOCALHOST:8080": true, "[::1]": true, "[::1]:8080": true,
		"::1": true, "": false, "example.com": false, "example.com:8080": false, "localhost.example.com": false,
		"10.0.0.1:8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "127.0.0.1.nip.io": false,
	} {
		if got := LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// Issue 22 item 13: the clock's guard refuses a foreign Host (DNS
// rebinding), a foreign Origin, and a POST body that is not JSON.
func TestClockGuard(t *testing.T) {
	h := localOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	for _, c := range []struct {
		name, method, host, origin, ctype string
		want                              int
	}{
		{"get", "GET", "127.0.0.1:8080", "", "", 200},
		{"post json", "POST", "localhost:8080", "", "application/json", 200},
		{"post json charset", "POST", "[::1]:8080", "", "application/json; charset=utf-8", 200},
		{"loopback origin", "POST", "127.0.0.1:8080", "http://localhost:3000", "application/json", 200},
		{"rebound name", "POST", "evil.example:8080", "", "application/json", 403},
		{"rebound name get", "GET", "evil.example:8080", "", "", 403},
		{"cross-site origin", "POST", "127.0.0.1:8080", "https://evil.example", "application/json", 403},
		{"null origin", "POST", "127.0.0.1:8080", "null", "application/json", 403},
		{"text/plain", "POST", "127.0.0.1:8080", "", "text/plain", 415},
		{"form", "POST", "127.0.0.1:8080", "", "application/x-www-form-urlencoded", 415},
		{"no content type", "POST", "127.0.0.1:8080", "", "", 415},
	} {
		r := httptest.NewRequest(c.method, "http://x"+TestClockPath+"/advance", strings.NewReader(`{"duration":"1h"}`))
		r.Host = c.host
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.ctype != "" {
			r.Header.Set("Content-Type", c.ctype)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.name, w.Code, c.want, w.Body)
		}
		if c.want != 200 && w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: content type %q", c.name, w.Header().Get("Content-Type"))
		}
	}
}
