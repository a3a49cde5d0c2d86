package webhooks

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestSignatureIsStripesScheme(t *testing.T) {
	// The HMAC-SHA256 of "<t>.<body>" keyed by the whole secret, hex.
	got := Signature("whsec_test", 1700000000, []byte(`{"id":"evt_1"}`))
	if len(got) != 64 {
		t.Fatalf("signature %q", got)
	}
	h := SignatureHeader(1700000000, []byte(`{}`), "whsec_a", "whsec_b")
	if !strings.HasPrefix(h, "t=1700000000,v1=") || strings.Count(h, "v1=") != 2 {
		t.Fatalf("header %q", h)
	}
	now := time.Unix(1700000000, 0)
	for _, s := range []string{"whsec_a", "whsec_b"} {
		if err := Verify(h, []byte(`{}`), s, now, time.Minute); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, c := range []struct {
		header, secret, body string
		now                  time.Time
	}{
		{h, "whsec_c", `{}`, now},
		{h, "whsec_a", `{ }`, now},
		{h, "whsec_a", `{}`, now.Add(2 * time.Minute)},
		{"v1=" + Signature("whsec_a", 1700000000, []byte(`{}`)), "whsec_a", `{}`, now},
		{"t=1700000000", "whsec_a", `{}`, now},
		{"t=x,v1=00", "whsec_a", `{}`, now},
	} {
		if Verify(c.header, []byte(c.body), c.secret, c.now, time.Minute) == nil {
			t.Errorf("verified: %+v", c)
		}
	}
}

func TestRefusedAddresses(t *testing.T) {
	for _, c := range []struct {
		ip       string
		loopback bool
		refused  bool
	}{
		{"93.184.216.34", false, false}, {"2606:2800:220:1:248:1893:25c8:1946", false, false},
		{"127.0.0.1", false, true}, {"127.0.0.1", true, false}, {"::1", false, true}, {"::1", true, false},
		{"10.1.2.3", true, true}, {"172.16.0.1", false, true}, {"192.168.1.1", false, true},
		{"169.254.169.254", true, true}, {"fe80::1", false, true}, {"fd00:ec2::254", false, true},
		{"0.0.0.0", true, true}, {"::", false, true}, {"224.0.0.1", false, true}, {"ff02::1", false, true},
		{"100.64.0.1", false, true}, {"::ffff:10.0.0.1", false, true}, {"::ffff:127.0.0.1", false, true},
		{"64:ff9b::a00:1", false, true}, {"255.255.255.255", false, true}, {"198.18.0.1", false, true},
	} {
		err := Refused(netip.MustParseAddr(c.ip), c.loopback)
		if (err != nil) != c.refused {
			t.Errorf("%s (loopback allowed %v): %v", c.ip, c.loopback, err)
		}
	}
}

// The check runs on the address dialed, after DNS: a name that resolves
// to loopback is refused though the URL named no address.
func TestDialCheckRefusesTheDialedAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	ctx := context.Background()
	for _, host := range []string{"127.0.0.1", "localhost"} {
		url := "http://" + net.JoinHostPort(host, port) + "/"
		if code, err := post(ctx, NewClient(false), url, []byte(`{}`), nil); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("cloud client to %s: %d %v", url, code, err)
		}
		if code, err := post(ctx, NewClient(true), url, []byte(`{}`), nil); err != nil || code != 204 {
			t.Errorf("local client to %s: %d %v", url, code, err)
		}
	}
}

func TestNoRedirectsAndACappedRead(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/big" {
			w.WriteHeader(200)
			w.Write(make([]byte, 10<<20)) // the client reads 64 KB of it and stops
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	code, err := post(context.Background(), NewClient(true), srv.URL+"/", []byte(`{}`), nil)
	if err != nil || code != 302 || hits != 1 {
		t.Errorf("redirect: %d %v after %d requests", code, err, hits)
	}
	if code, err := post(context.Background(), NewClient(true), srv.URL+"/big", []byte(`{}`), nil); err != nil || code != 200 {
		t.Errorf("big: %d %v", code, err)
	}
}

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://kitchen.example.com/hooks", false, true},
		{"https://kitchen.example.com:8443/hooks?x=1", false, true},
		{"http://kitchen.example.com/hooks", false, false},
		{"http://kitchen.example.com/hooks", true, false}, // plain http only to loopback
		{"http://127.0.0.1:9000/hooks", true, true},
		{"http://localhost:9000/hooks", true, true},
		{"http://127.0.0.1:9000/hooks", false, false},
		{"https://localhost/hooks", false, false},
		{"https://10.0.0.1/", true, false},
		{"https://[fe80::1]/", false, false},
		{"https://user:pw@example.com/", false, false},
		{"https://example.com/#frag", false, false},
		{"//example.com/", false, false},
		{"https://" + strings.Repeat("a", MaxURL) + ".com/", false, false},
	} {
		_, err := CheckURL(c.url, c.loopback)
		if (err == nil) != c.ok {
			t.Errorf("%q (loopback %v): %v", c.url, c.loopback, err)
		}
	}
}

func TestBackoffGrowsWithJitterAndCovers3Days(t *testing.T) {
	lo, hi := func() float64 { return 0 }, func() float64 { return 0.999999 }
	if Backoff(1, lo) != 30*time.Second || Backoff(1, hi) > time.Minute || Backoff(3, lo) != 2*time.Minute {
		t.Errorf("first waits %s %s %s", Backoff(1, lo), Backoff(1, hi), Backoff(3, lo))
	}
	for n := 1; n < 40; n++ {
		if Backoff(n+1, lo) < Backoff(n, lo) || Backoff(n, hi) > MaxBackoff {
			t.Errorf("attempt %d: %s then %s", n, Backoff(n, lo), Backoff(n+1, lo))
		}
	}
	// The most attempts 3 days hold (the shortest waits) stay bounded.
	var sum time.Duration
	n := 0
	for sum < RetryFor {
		n++
		sum += Backoff(n, lo)
	}
	if n > 40 {
		t.Errorf("%d attempts in 3 days", n)
	}
}
