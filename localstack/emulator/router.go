package emulator

import (
	"fmt"
	"net/url"
	"strings"

	"minipay/shared/edge/routes"
)

// segment kinds, in API Gateway's order of preference: a literal segment
// beats a {param}, which beats a greedy {proxy+}.
const (
	segLiteral = iota
	segParam
	segGreedy
)

type segment struct {
	kind int
	text string // the literal, or the parameter name
}

type route struct {
	routes.Route
	key  string // the routeKey: "POST /accounts/{id}/charges"
	segs []segment
}

type router struct{ routes []route }

func newRouter(rs []routes.Route) (*router, error) {
	r := &router{}
	seen := map[string]bool{}
	for _, rt := range rs {
		if !strings.HasPrefix(rt.Path, "/") {
			return nil, fmt.Errorf("emulator: route path %q must start with /", rt.Path)
		}
		method := strings.ToUpper(rt.Method)
		key := method + " " + rt.Path
		if seen[key] {
			return nil, fmt.Errorf("emulator: route %s is listed twice", key)
		}
		seen[key] = true
		c := route{Route: rt, key: key}
		c.Method = method
		parts := strings.Split(rt.Path[1:], "/")
		for i, p := range parts {
			switch {
			case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}"):
				if i != len(parts)-1 {
					return nil, fmt.Errorf("emulator: route %s: a greedy variable must be the last segment", key)
				}
				c.segs = append(c.segs, segment{segGreedy, p[1 : len(p)-2]})
			case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
				c.segs = append(c.segs, segment{segParam, p[1 : len(p)-1]})
			case strings.ContainsAny(p, "{}"):
				return nil, fmt.Errorf("emulator: route %s: a variable must be a whole segment", key)
			default:
				c.segs = append(c.segs, segment{segLiteral, p})
			}
		}
		r.routes = append(r.routes, c)
	}
	return r, nil
}

// match finds the most specific route for a method and an escaped path
// (URL.EscapedPath), with its decoded path parameters. A path that matches
// no route with that method is not found (HTTP APIs answer 404 then, not 405).
func (r *router) match(method, escapedPath string) (*route, map[string]string, bool) {
	if !strings.HasPrefix(escapedPath, "/") {
		return nil, nil, false
	}
	parts := strings.Split(escapedPath[1:], "/")
	var best *route
	var bestParams map[string]string
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.Method != method && rt.Method != "ANY" {
			continue
		}
		params, ok := rt.bind(parts)
		if !ok {
			continue
		}
		if best == nil || rt.moreSpecific(best) {
			best, bestParams = rt, params
		}
	}
	return best, bestParams, best != nil
}

func (rt *route) bind(parts []string) (map[string]string, bool) {
	var params map[string]string
	set := func(name, escaped string) bool {
		v, err := url.PathUnescape(escaped)
		if err != nil || v == "" {
			return false
		}
		if params == nil {
			params = map[string]string{}
		}
		params[name] = v
		return true
	}
	for i, s := range rt.segs {
		if i >= len(parts) {
			return nil, false
		}
		switch s.kind {
		case segLiteral:
			if parts[i] != s.text {
				return nil, false
			}
		case segParam:
			if !set(s.text, parts[i]) {
				return nil, false
			}
		case segGreedy:
			return params, set(s.text, strings.Join(parts[i:], "/"))
		}
	}
	return params, len(parts) == len(rt.segs)
}

// moreSpecific compares segment by segment (literal before variable before
// greedy), then an exact method before ANY.
func (rt *route) moreSpecific(other *route) bool {
	for i := 0; i < len(rt.segs) && i < len(other.segs); i++ {
		if a, b := rt.segs[i].kind, other.segs[i].kind; a != b {
			return a < b
		}
	}
	if len(rt.segs) != len(other.segs) {
		return len(rt.segs) > len(other.segs)
	}
	return rt.Method != "ANY" && other.Method == "ANY"
}
