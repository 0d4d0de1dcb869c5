package issuer

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/cors"
	"github.com/gatehouse-dev/gatehouse/internal/limit"
	"github.com/gatehouse-dev/gatehouse/internal/users"
)

// loginFrom posts a JSON login as a client at ip (the fixture's ClientIP reads X-Test-IP).
func (f *fixture) loginFrom(ip, username, password string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"username":"`+username+`","password":"`+password+`"}`))
	r.Header.Set("Content-Type", ctJSON)
	r.Header.Set("X-Test-IP", ip)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func testIP(c *Config) {
	c.ClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-IP") }
}

// TestOneAddressCannotLockAUserOut: wrong passwords from one address use up that address's budget for the
// user, not the user's: the user still logs in from another address. Before, one address at
// about one wrong password a second kept the real user refused (429). A guess spread over many
// addresses still stops at the per-user ceiling, and logins that succeed count for nothing.
func TestOneAddressCannotLockAUserOut(t *testing.T) {
	f := newFixture(t, testIP, func(c *Config) {
		c.IPLimit = limit.Local{Limiter: limit.NewLimiter(100, time.Hour, 0)}
		c.UserIPLimit = limit.Local{Limiter: limit.NewLimiter(3, time.Hour, 0)}
		c.UserLimit = limit.Local{Limiter: limit.NewLimiter(9, time.Hour, 0)}
	})
	codes := func(ip, user, pw string, n int) string {
		var out []string
		for range n {
			out = append(out, strconv.Itoa(f.loginFrom(ip, user, pw).Code))
		}
		return strings.Join(out, " ")
	}
	// The attacker's address: three guesses, then refused, with the wait of the pair's bucket.
	if got := codes("198.51.100.66", "bob", "guess", 6); got != "401 401 401 429 429 429" {
		t.Fatalf("attacker: %s", got)
	}
	if w := f.loginFrom("198.51.100.66", "bob", "guess"); w.Header().Get("Retry-After") != "1200" {
		t.Fatalf("attacker's Retry-After %q, want 1200 (3 per hour)", w.Header().Get("Retry-After"))
	}
	// The real user, elsewhere: not locked out; case variants of the name share the pair's budget.
	if got := codes("203.0.113.7", "bob", bobPassword, 5); got != "200 200 200 200 200" {
		t.Fatalf("real user from another address: %s", got)
	}
	if got := codes("198.51.100.66", "BOB", bobPassword, 1); got != "429" {
		t.Fatalf("attacker with a case variant: %s", got)
	}
	// Successes do not count: alice logs in more often than any limit allows failures.
	if got := codes("203.0.113.8", "alice", alicePassword, 12); strings.Contains(got, "429") {
		t.Fatalf("successful logins were throttled: %s", got)
	}
	// Spread over addresses: bob has 3 failures; two more addresses at 3 each reach the
	// ceiling of 9, and then bob is refused from every address, the right password too.
	for _, ip := range []string{"198.51.100.67", "198.51.100.68"} {
		if got := codes(ip, "bob", "guess", 3); got != "401 401 401" {
			t.Fatalf("guesses from %s: %s", ip, got)
		}
	}
	if got := codes("203.0.113.9", "bob", bobPassword, 1); got != "429" {
		t.Fatalf("after 9 failures from 3 addresses: %s, want the per-user ceiling's 429", got)
	}
	// Other users are not affected, from that address either.
	if got := codes("203.0.113.9", "alice", "guess", 3); got != "401 401 401" {
		t.Fatalf("another user from the same address: %s", got)
	}
	f.noSecretsLogged(alicePassword, bobPassword)
}

// TestLoginLimitsRefundUnchecked: a login that was never checked (the gate was busy, the
// credential check was down) counts against no user's budget.
func TestLoginLimitsRefundUnchecked(t *testing.T) {
	f := newFixture(t, testIP, func(c *Config) {
		c.UserIPLimit = limit.Local{Limiter: limit.NewLimiter(1, time.Hour, 0)}
		c.UserLimit = limit.Local{Limiter: limit.NewLimiter(1, time.Hour, 0)}
	})
	for _, err := range []error{limit.ErrQueueFull, limit.ErrShareExceeded, users.ErrUnavailable, context.Canceled} {
		f.users.setErr(err)
		for range 3 {
			if w := f.loginFrom("192.0.2.1", "bob", "x"); w.Code == http.StatusUnauthorized {
				t.Fatalf("%v: 401", err)
			}
		}
	}
	f.users.setErr(nil)
	if w := f.loginFrom("192.0.2.1", "bob", bobPassword); w.Code != http.StatusOK {
		t.Fatalf("after unchecked attempts: %d %s", w.Code, w.Body)
	}
}

// TestLoginGateRefusals: the hashing gate's refusals reach the client at once, as 429 (this
// client's share of the queue) and 503 (the queue), both with Retry-After, in simplejwt's
// bodies; the Authenticator is told the client, for its share.
func TestLoginGateRefusals(t *testing.T) {
	f := newFixture(t, testIP)
	f.users.setErr(limit.ErrShareExceeded)
	w := f.loginFrom("192.0.2.1", "bob", "x")
	f.expect(w, http.StatusTooManyRequests, `{"detail":"Request was throttled. Expected available in 1 second."}`)
	if ra := w.Header().Get("Retry-After"); ra != "1" {
		t.Fatalf("429 Retry-After %q", ra)
	}
	f.users.setErr(limit.ErrQueueFull)
	w = f.loginFrom("192.0.2.1", "bob", "x")
	f.expect(w, http.StatusServiceUnavailable, string(problemUnavailable.body))
	if ra := w.Header().Get("Retry-After"); ra != "1" {
		t.Fatalf("503 Retry-After %q", ra)
	}

	// The client address travels in the context to the Authenticator.
	got := &clientRecorder{}
	g := newFixture(t, testIP, func(c *Config) { c.Users = got })
	g.loginFrom("192.0.2.44", "bob", "x")
	if got.client != "192.0.2.44" {
		t.Fatalf("Authenticator saw client %q", got.client)
	}
}

// clientRecorder is an Authenticator that records the client of the context it gets.
type clientRecorder struct {
	mu     sync.Mutex
	client string
}

func (c *clientRecorder) Authenticate(ctx context.Context, _, _ string) (users.Identity, error) {
	c.mu.Lock()
	c.client = limit.Client(ctx)
	c.mu.Unlock()
	return users.Identity{}, users.ErrInvalid
}

// TestLoginGateFlood runs the JSON login over a real Local with a gate of one place: many
// logins of one client at once are refused (429) beyond its share, without hashing, and the
// rest of the queue stays for others.
func TestLoginGateFlood(t *testing.T) {
	gate := limit.NewSizedGate(limit.GateSize{Places: 1, Queue: 8, PerKey: 2})
	slow := &slowComparer{release: make(chan struct{})}
	local, err := users.NewLocal(users.LocalConfig{
		Users:      []users.User{{Name: "bob", Hash: "$2a$04$By8wSEr6u4E8tE9POQqOqeqWAZEOFdep1yl7lRzxx9euHMHwdGvnW"}},
		Algorithms: []users.Algorithm{{Name: "bcrypt", Prefixes: []string{"$2a$"}, Comparer: slow, FakeHash: []byte("$2a$04$By8wSEr6u4E8tE9POQqOqeqWAZEOFdep1yl7lRzxx9euHMHwdGvnW")}},
		Gate:       gate,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, testIP, func(c *Config) { c.Users = local })
	results := make(chan int, 10)
	for range 10 {
		go func() { results <- f.loginFrom("198.51.100.66", "nobody", "x").Code }()
	}
	// Two are in the gate (one hashing, one waiting); the other eight are answered at once.
	for range 8 {
		select {
		case code := <-results:
			if code != http.StatusTooManyRequests {
				t.Fatalf("a login over the client's share: %d, want 429", code)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("logins over the client's share were not answered at once")
		}
	}
	// Another client still gets into the queue.
	other := make(chan int, 1)
	go func() { other <- f.loginFrom("203.0.113.7", "bob", "x").Code }()
	close(slow.release)
	for range 2 {
		if code := <-results; code != http.StatusUnauthorized {
			t.Fatalf("a login within the share: %d, want 401", code)
		}
	}
	if code := <-other; code != http.StatusUnauthorized {
		t.Fatalf("the other client: %d, want 401", code)
	}
	if n := slow.calls(); n != 3 {
		t.Fatalf("%d hashes, want 3 (the refused logins hash nothing)", n)
	}
}

// slowComparer blocks every comparison until release is closed, and never matches.
type slowComparer struct {
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (s *slowComparer) Compare(_, _ []byte) (bool, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	<-s.release
	return false, nil
}

func (s *slowComparer) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// TestCrossSiteLoginFormRefused: a body a browser sends to any site without a CORS preflight (a form,
// multipart, text/plain, none at all) with an Origin that is not the site's own nor a trusted
// one is refused with 403 before anything is counted or checked; JSON bodies, requests
// without Origin, and the site's own pages go on.
func TestCrossSiteLoginFormRefused(t *testing.T) {
	f := newFixture(t, testIP, withSession, func(c *Config) {
		c.IPLimit = limit.Local{Limiter: limit.NewLimiter(1, time.Hour, 0)}
		var err error
		if c.CORS, err = cors.New(cors.Config{Origins: []string{"https://*.app.example"}}); err != nil {
			t.Fatal(err)
		}
		c.Session.Origins = []string{"https://admin.example"}
	})
	multipart := "--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nbob\r\n--b\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" + bobPassword + "\r\n--b--\r\n"
	formBody := "username=bob&password=" + bobPassword
	send := func(ip, host string, useTLS bool, origins []string, ct, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/api/token/", strings.NewReader(body))
		r.Host = host
		if useTLS {
			r.TLS = &tls.ConnectionState{}
		}
		for _, o := range origins {
			r.Header.Add("Origin", o)
		}
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		r.Header.Set("X-Test-IP", ip)
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w
	}
	refused := []struct {
		name    string
		origins []string
		ct      string
		body    string
	}{
		{"form from another site", []string{"https://evil.example"}, ctForm, formBody},
		{"multipart from another site", []string{"https://evil.example"}, "multipart/form-data; boundary=b", multipart},
		{"text/plain from another site", []string{"https://evil.example"}, "text/plain", `{"username":"bob","password":"` + bobPassword + `"}`},
		{"no content type from another site", []string{"https://evil.example"}, "", formBody},
		{"an opaque origin", []string{"null"}, ctForm, formBody},
		{"another port of the host", []string{"http://site.example:8081"}, ctForm, formBody},
		{"two origins", []string{"http://site.example", "https://evil.example"}, ctForm, formBody},
		{"garbage origin", []string{"evil"}, ctForm, formBody},
		{"an origin CORS does not allow", []string{"https://app.example"}, ctForm, formBody},
	}
	for i, tt := range refused {
		// Each from its own address: a refusal counts against no limit, so a second try
		// from the same address would show it too.
		ip := "198.51.100." + strconv.Itoa(i+1)
		for range 2 {
			w := send(ip, "site.example", false, tt.origins, tt.ct, tt.body)
			if w.Code != http.StatusForbidden || !strings.HasPrefix(w.Body.String(), `{"detail":"CSRF Failed: Origin checking failed - `) {
				t.Fatalf("%s: %d %s, want 403", tt.name, w.Code, w.Body)
			}
			f.jsonHeaders(w)
		}
	}
	w := send("198.51.100.99", "site.example", false, []string{"https://evil.example"}, ctForm, formBody)
	f.expect(w, http.StatusForbidden, `{"detail":"CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins."}`)
	if n := f.users.calls.Load(); n != 0 {
		t.Fatalf("the credential check ran %d times for refused posts", n)
	}
	allowed := []struct {
		name    string
		tls     bool
		origins []string
		ct      string
		body    string
	}{
		{"JSON from another site (CORS decides)", false, []string{"https://evil.example"}, ctJSON + "; charset=utf-8", `{"username":"bob","password":"` + bobPassword + `"}`},
		{"form without Origin (curl)", false, nil, ctForm, formBody},
		{"form from the site itself", false, []string{"http://site.example"}, ctForm, formBody},
		{"form from the site's https pages, TLS ended before", false, []string{"https://SITE.example:443"}, ctForm, formBody},
		{"multipart from the site itself over TLS", true, []string{"https://site.example"}, "multipart/form-data; boundary=b", multipart},
		{"form from an origin CORS allows", false, []string{"https://spa.app.example"}, ctForm, formBody},
		{"form from a session origin", false, []string{"https://admin.example"}, ctForm, formBody},
	}
	for i, tt := range allowed {
		w := send("203.0.113."+strconv.Itoa(i+1), "site.example", tt.tls, tt.origins, tt.ct, tt.body)
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d %s, want 200", tt.name, w.Code, w.Body)
		}
	}
	// http://site.example's form is not trusted by an https request.
	if w := send("203.0.113.50", "site.example", true, []string{"http://site.example"}, ctForm, formBody); w.Code != http.StatusForbidden {
		t.Errorf("http origin on an https request: %d, want 403", w.Code)
	}
}
