package emulator

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The test clock moves the whole stack's time, so only the developer's own
// tools may reach it, not a web page open in their browser:
//
//   - the Host must be a loopback name (127.0.0.1, localhost, [::1], any
//     port): a page on a rebound DNS name (DNS rebinding) sends its own
//     name as Host and is refused;
//   - an Origin, if sent, must be a loopback origin too (a cross-site
//     request carries the page's);
//   - a POST must be application/json: a browser sends that cross-site only
//     after a CORS preflight, which the clock never grants, while a
//     text/plain or form body (a "simple" request) would go without one.
//
// Refusals are problem+json: 403 for the Host or Origin, 415 for the body.

// localOnly wraps the test clock's handler with those checks.
func localOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !LoopbackHost(r.Host) {
			clockProblem(w, http.StatusForbidden, "the test clock answers only a loopback Host (127.0.0.1, localhost, [::1])")
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !LoopbackHost(u.Host) {
				clockProblem(w, http.StatusForbidden, "the test clock answers no cross-site request")
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				clockProblem(w, http.StatusUnsupportedMediaType, `send the body as Content-Type: application/json`)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// LoopbackHost reports whether a Host header (a name or address, with or
// without a port) names this machine's loopback interface.
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
