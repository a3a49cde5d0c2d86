package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// NewSecret is a fresh signing secret (160 random bits).
func NewSecret() string { return SecretPrefix + ddb.RandomString(32) }

// Signature is the HMAC-SHA256 of "<t>.<body>" keyed by the whole secret
// (prefix included), hex: Stripe's v1 scheme.
func Signature(secret string, t int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(t, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// SignatureHeader is the Minipay-Signature value: t=<unix>,v1=<hex> for
// each secret (the current one first; the previous one during a
// rotation's grace period).
func SignatureHeader(t int64, body []byte, secrets ...string) string {
	parts := []string{"t=" + strconv.FormatInt(t, 10)}
	for _, s := range secrets {
		parts = append(parts, "v1="+Signature(s, t, body))
	}
	return strings.Join(parts, ",")
}

// Verify checks a Minipay-Signature header against secret: one of its v1
// signatures matches and its timestamp is within tolerance of now.
func Verify(header string, body []byte, secret string, now time.Time, tolerance time.Duration) error {
	var t int64 = -1
	var sigs []string
	for _, p := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("webhooks: bad timestamp %q", v)
			}
			t = n
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if t < 0 || len(sigs) == 0 {
		return errors.New("webhooks: no timestamp or no v1 signature")
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhooks: timestamp %d is %s from now", t, d.Round(time.Second))
	}
	want := Signature(secret, t, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhooks: no signature matches")
}

// ---- SSRF ----

// extra blocks beyond the net/netip predicates: shared address space
// (CGNAT), the IETF protocol block, benchmarking, documentation, reserved,
// the IPv4 "this network" block, NAT64 and 6to4 (which embed IPv4).
var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
		"64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001:db8::/32", "100::/64", "2001::/32"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Refused says why a webhook may not be sent to ip (nil: it may): private,
// loopback (unless allowLoopback), link-local (the cloud's metadata
// service), unspecified, multicast and reserved addresses are refused.
func Refused(ip netip.Addr, allowLoopback bool) error {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return errors.New("not an IP address")
	case ip.IsLoopback():
		if allowLoopback {
			return nil
		}
		return fmt.Errorf("%s is a loopback address", ip)
	case ip.IsPrivate():
		return fmt.Errorf("%s is a private address", ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return fmt.Errorf("%s is a link-local address", ip)
	case ip.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address", ip)
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("%s is a multicast address", ip)
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return fmt.Errorf("%s is in the reserved block %s", ip, p)
		}
	}
	return nil
}

// dialControl refuses a connection to a refused address: it runs on the
// address really dialed (after DNS), so a name that resolves (or
// re-resolves) to an internal address is refused too.
func dialControl(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("webhooks: dial %s: %w", address, err)
		}
		if err := Refused(ip, allowLoopback); err != nil {
			return fmt.Errorf("webhooks: refused: %w", err)
		}
		return nil
	}
}

// NewClient is the delivery HTTP client: the dial check, no proxy, no
// redirects (a 3xx is a failed attempt), DeliveryTimeout per request.
func NewClient(allowLoopback bool) *http.Client {
	dialer := &net.Dialer{Timeout: DeliveryTimeout, Control: dialControl(allowLoopback)}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   DeliveryTimeout,
			ResponseHeaderTimeout: DeliveryTimeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			DisableCompression:    true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CheckURL validates an endpoint URL as given at creation: https (http
// only to a loopback host when allowLoopback), a host, no user info or
// fragment; an IP literal must not be refused. A host name is checked
// again, on the address it resolves to, at every delivery.
func CheckURL(raw string, allowLoopback bool) (string, error) {
	bad := func(format string, args ...any) error {
		return domainerr.Field("url", "url "+format, args...)
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", bad("is required: the https URL to POST events to")
	}
	if len(raw) > MaxURL {
		return "", bad("must be at most %d characters", MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() {
		return "", bad("must be an absolute https URL")
	}
	if u.User != nil || u.Fragment != "" {
		return "", bad("must have no user info and no fragment")
	}
	host := u.Hostname()
	loopback := host == "localhost"
	ip, ipErr := netip.ParseAddr(host)
	if ipErr == nil {
		loopback = ip.Unmap().IsLoopback()
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowLoopback && loopback:
	default:
		return "", bad("must be https")
	}
	if loopback && !allowLoopback {
		return "", bad("must not point at a loopback address")
	}
	if ipErr == nil {
		if err := Refused(ip, allowLoopback); err != nil {
			return "", bad("must point at a public address: %s", err.Error())
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", bad("has a bad port")
		}
	}
	return u.String(), nil
}

// post sends one delivery and answers its status (0: none) and error.
func post(ctx context.Context, c *http.Client, url string, body []byte, headers map[string]string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "minipay-webhooks/1")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Read what the receiver sends (capped) so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	return resp.StatusCode, nil
}
