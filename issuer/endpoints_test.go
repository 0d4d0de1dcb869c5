package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/limit"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/users"
)

// The bodies of the contract (shared/reference/simplejwt-http-contract.md).
const (
	bodyNoAccount   = `{"detail":"No active account found with the given credentials"}`
	bodyInvalid     = `{"detail":"Token is invalid or expired","code":"token_not_valid"}`
	bodyWrongType   = `{"detail":"Token has wrong type","code":"token_not_valid"}`
	bodyBlacklisted = `{"detail":"Token is blacklisted","code":"token_not_valid"}`
	bodyNoID        = `{"detail":"Token has no id","code":"token_not_valid"}`
	bodyUnavailable = `{"detail":"Service temporarily unavailable, try again later.","code":"service_unavailable"}`
	bodyRequired    = `{"username":["This field is required."],"password":["This field is required."]}`
)

// TestRouting checks which paths and methods reach an endpoint, under a base path and without.
func TestRouting(t *testing.T) {
	const (
		notFound  = `{"detail":"Not found."}`
		refreshRq = `{"refresh":["This field is required."]}`
		tokenRq   = `{"token":["This field is required."]}`
	)
	tests := []struct {
		base, method, path string
		status             int
		body, allow        string
	}{
		{"/api/token", "POST", "/api/token/", 400, bodyRequired, ""},
		{"/api/token", "POST", "/api/token", 400, bodyRequired, ""},
		{"/api/token", "POST", "/api/token/refresh/", 400, refreshRq, ""},
		{"/api/token", "POST", "/api/token/refresh", 400, refreshRq, ""},
		{"/api/token", "POST", "/api/token/verify/", 400, tokenRq, ""},
		{"/api/token", "POST", "/api/token/blacklist", 400, refreshRq, ""},
		{"/api/token", "GET", "/api/token/jwks.json", 200, `{"keys":[]}`, ""},
		{"/api/token/", "POST", "/api/token/refresh/", 400, refreshRq, ""},
		{"", "POST", "/", 400, bodyRequired, ""},
		{"", "POST", "/refresh/", 400, refreshRq, ""},
		{"", "GET", "/jwks.json", 200, `{"keys":[]}`, ""},
		{"/", "POST", "/verify", 400, tokenRq, ""},
		{"/api/token", "POST", "/", 404, notFound, ""},
		{"/api/token", "POST", "/api/tokens/", 404, notFound, ""},
		{"/api/token", "POST", "/api/token/refresh//", 404, notFound, ""},
		{"/api/token", "POST", "/api/token//refresh", 404, notFound, ""},
		{"/api/token", "POST", "/api/token/Refresh/", 404, notFound, ""},
		{"/api/token", "POST", "/api/token/refresh/x", 404, notFound, ""},
		{"/api/token", "GET", "/api/token/obtain", 404, notFound, ""},
		{"", "POST", "/api/token/", 404, notFound, ""},
		{"/api/token", "GET", "/api/token/", 405, `{"detail":"Method \"GET\" not allowed."}`, "POST"},
		{"/api/token", "PUT", "/api/token/refresh/", 405, `{"detail":"Method \"PUT\" not allowed."}`, "POST"},
		{"/api/token", "OPTIONS", "/api/token/verify/", 405, `{"detail":"Method \"OPTIONS\" not allowed."}`, "POST"},
		{"/api/token", "DELETE", "/api/token/blacklist/", 405, `{"detail":"Method \"DELETE\" not allowed."}`, "POST"},
		{"/api/token", "POST", "/api/token/jwks.json", 405, `{"detail":"Method \"POST\" not allowed."}`, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.base+" "+tt.method+" "+tt.path, func(t *testing.T) {
			f := newFixture(t, basePath(tt.base))
			w := f.do(tt.method, tt.path, ctJSON, "")
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Fatalf("got %d %s, want %d %s", w.Code, w.Body, tt.status, tt.body)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
			}
		})
	}
}

// TestObtain checks login answers: the contract's rows, every body format, and failures of the
// credential check.
func TestObtain(t *testing.T) {
	form := url.Values{"username": {"alice"}, "password": {alicePassword}}.Encode()
	mpCT, mpBody := multipartBody(t, "username", "alice", "password", alicePassword)
	tests := []struct {
		name     string
		ct, body string
		usersErr error
		status   int
		want     string // "" for a token pair
	}{
		{"json", ctJSON, `{"username":"alice","password":"alice's s3cret"}`, nil, 200, ""},
		{"form", ctForm, form, nil, 200, ""},
		{"multipart", mpCT, string(mpBody), nil, 200, ""},
		{"surrounding whitespace trimmed", ctJSON, `{"username":" alice ","password":"alice's s3cret\n"}`, nil, 200, ""},
		{"wrong password", ctJSON, `{"username":"alice","password":"nope"}`, nil, 401, bodyNoAccount},
		{"unknown user", ctJSON, `{"username":"mallory","password":"alice's s3cret"}`, nil, 401, bodyNoAccount},
		{"empty object", ctJSON, `{}`, nil, 400, bodyRequired},
		{"no body", "", ``, nil, 400, bodyRequired},
		{"password missing", ctForm, `username=alice`, nil, 400, `{"password":["This field is required."]}`},
		{"malformed json", ctJSON, `{"username":`, nil, 400, `{"detail":"JSON parse error - unexpected end of input"}`},
		{"text/plain", "text/plain", `alice`, nil, 415, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{"credential check down", ctJSON, `{"username":"alice","password":"x"}`, users.ErrUnavailable, 503, bodyUnavailable},
		{"wrapped unavailable", ctJSON, `{"username":"alice","password":"x"}`, fmt.Errorf("credentials_url: %w", users.ErrUnavailable), 503, bodyUnavailable},
		{"deadline", ctJSON, `{"username":"alice","password":"x"}`, context.DeadlineExceeded, 503, bodyUnavailable},
		{"unexpected error", ctJSON, `{"username":"alice","password":"x"}`, errors.New("boom"), 503, bodyUnavailable},
		{"claims cannot make a token", ctJSON, `{"username":"broken","password":"x"}`, nil, 500, `{"detail":"A server error occurred."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.users.setErr(tt.usersErr)
			w := f.do(http.MethodPost, "/", tt.ct, tt.body)
			if tt.want != "" {
				f.expect(w, tt.status, tt.want)
				return
			}
			if w.Code != http.StatusOK {
				t.Fatalf("got %d %s", w.Code, w.Body)
			}
			f.jsonHeaders(w)
			var out map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out) != 2 {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if !strings.HasPrefix(w.Body.String(), `{"refresh":"`) {
				t.Errorf("body %s: simplejwt answers refresh first", w.Body)
			}
			access, refresh := payload(t, out["access"]), payload(t, out["refresh"])
			if access["token_type"] != "access" || refresh["token_type"] != "refresh" {
				t.Errorf("token types %v, %v", access["token_type"], refresh["token_type"])
			}
			if access["user_id"] != 7.0 || refresh["user_id"] != 7.0 {
				t.Errorf("user ids %v, %v", access["user_id"], refresh["user_id"])
			}
			if _, ok := access[mint.FamilyClaim]; ok || refresh[mint.FamilyClaim] != refresh["jti"] {
				t.Errorf("family: access %v, refresh %v (jti %v)", access[mint.FamilyClaim], refresh[mint.FamilyClaim], refresh["jti"])
			}
			f.noSecretsLogged(alicePassword, out["access"], out["refresh"])
		})
	}
}

// TestLoginUsernameIsIdentity checks that a user without a user_id claim gets the username.
func TestLoginUsernameIsIdentity(t *testing.T) {
	f := newFixture(t)
	w := f.post("/", "username", "bob", "password", bobPassword)
	var out map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if got := payload(t, out["access"])["user_id"]; got != "bob" {
		t.Fatalf("user_id %v", got)
	}
}

// TestRealm checks the challenge of a configured realm.
func TestRealm(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Realm = "gatehouse" })
	f.expect(f.post("/", "username", "alice", "password", "nope"), 401, bodyNoAccount)
}

// TestRefresh checks the refresh endpoint without rotation.
func TestRefresh(t *testing.T) {
	f := newFixture(t)
	access, refresh := f.login()
	expired := func() string {
		m, err := mint.NewMinter(mint.Config{Now: func() time.Time { return time.Now().Add(-25 * time.Hour) }}, f.cfg.Ring)
		if err != nil {
			t.Fatal(err)
		}
		_, r, err := m.Pair(users.Identity{Username: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Raw
	}()
	other, err := mint.NewHMAC([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Sign([]byte(fmt.Sprintf(`{"token_type":"refresh","exp":%.0f,"jti":"x","user_id":7}`, unixNow()+60)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ct, body string
		status         int
		want           string
	}{
		{"access token", ctJSON, `{"refresh":"` + access + `"}`, 401, bodyWrongType},
		{"garbage", ctJSON, `{"refresh":"xx"}`, 401, bodyInvalid},
		{"expired", ctJSON, `{"refresh":"` + expired + `"}`, 401, bodyInvalid},
		{"other key", ctJSON, `{"refresh":"` + forged + `"}`, 401, bodyInvalid},
		{"tampered", ctJSON, `{"refresh":"` + refresh[:len(refresh)-2] + `AA"}`, 401, bodyInvalid},
		{"no jti", ctJSON, `{"refresh":"` + f.sign(fmt.Sprintf(`{"token_type":"refresh","exp":%.0f,"user_id":7}`, unixNow()+60)) + `"}`, 401, bodyNoID},
		{"bad fam", ctJSON, `{"refresh":"` + f.sign(fmt.Sprintf(`{"token_type":"refresh","exp":%.0f,"jti":"j","fam":1,"user_id":7}`, unixNow()+60)) + `"}`, 401, bodyInvalid},
		{"jti with a slash", ctJSON, `{"refresh":"` + f.sign(fmt.Sprintf(`{"token_type":"refresh","exp":%.0f,"jti":"../x","user_id":7}`, unixNow()+60)) + `"}`, 401, bodyInvalid},
		{"fam with a dot", ctJSON, `{"refresh":"` + f.sign(fmt.Sprintf(`{"token_type":"refresh","exp":%.0f,"jti":"j","fam":"a.b","user_id":7}`, unixNow()+60)) + `"}`, 401, bodyInvalid},
		{"no user id", ctJSON, `{"refresh":"` + f.sign(fmt.Sprintf(`{"token_type":"refresh","exp":%.0f,"jti":"j"}`, unixNow()+60)) + `"}`, 401, bodyInvalid},
		{"no token_type", ctJSON, `{"refresh":"` + f.sign(fmt.Sprintf(`{"exp":%.0f,"jti":"j","user_id":7}`, unixNow()+60)) + `"}`, 401, bodyWrongType},
		{"blank", ctJSON, `{"refresh":" "}`, 400, `{"refresh":["This field may not be blank."]}`},
		{"not a string", ctJSON, `{"refresh":{}}`, 400, `{"refresh":["Not a valid string."]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.expect(f.do(http.MethodPost, "/refresh/", tt.ct, tt.body), tt.status, tt.want)
		})
	}

	t.Run("valid", func(t *testing.T) {
		for _, body := range []struct{ ct, body string }{
			{ctJSON, `{"refresh":"` + refresh + `"}`},
			{ctForm, "refresh=" + refresh},
		} {
			w := f.do(http.MethodPost, "/refresh/", body.ct, body.body)
			var out map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 200 || len(out) != 1 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			f.jsonHeaders(w)
			a, r := payload(t, out["access"]), payload(t, refresh)
			if a["token_type"] != "access" || a["user_id"] != 7.0 || a["jti"] == r["jti"] || a[mint.FamilyClaim] != nil {
				t.Fatalf("access claims %v from refresh %v", a, r)
			}
			if fmt.Sprint(a["roles"]) != "[admin]" {
				t.Fatalf("user claims not copied: %v", a)
			}
		}
		// Without rotation a refresh token stays usable until it expires.
		if w := f.post("/refresh", "refresh", refresh); w.Code != 200 {
			t.Fatalf("second refresh: %d %s", w.Code, w.Body)
		}
	})
	f.noSecretsLogged(access, refresh, expired, forged)
}

// refreshed answers a refresh request and decodes the body of a 200.
func (f *fixture) refreshed(refresh string) (int, map[string]string) {
	w := f.post("/refresh/", "refresh", refresh)
	var out map[string]string
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			f.t.Fatal(err)
		}
	}
	return w.Code, out
}

// TestRotation checks rotation and reuse detection: a rotated token used again revokes its
// whole family, including the successor that was issued for it.
func TestRotation(t *testing.T) {
	f := newFixture(t, rotating)
	_, r0 := f.login()
	w := f.post("/refresh/", "refresh", r0)
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), `{"access":"`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	f.jsonHeaders(w)
	var out map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	r1 := out["refresh"]
	if len(out) != 2 || r1 == "" || out["access"] == "" {
		t.Fatalf("body %s", w.Body)
	}
	p0, p1 := payload(t, r0), payload(t, r1)
	if p1["jti"] == p0["jti"] || p1[mint.FamilyClaim] != p0[mint.FamilyClaim] || p1["exp"] != p0["exp"] || p1["token_type"] != "refresh" {
		t.Fatalf("successor %v of %v: new jti, same family and exp expected", p1, p0)
	}
	// r1 rotates in turn.
	code, out2 := f.refreshed(r1)
	if code != 200 {
		t.Fatalf("r1: %d", code)
	}
	r2 := out2["refresh"]

	// r0 is used again: reuse. The family is revoked, r2 (never used) with it.
	f.expect(f.post("/refresh/", "refresh", r0), 401, bodyBlacklisted)
	f.expect(f.post("/refresh/", "refresh", r2), 401, bodyBlacklisted)
	f.expect(f.post("/verify/", "token", r2), 401, bodyBlacklisted)
	f.expect(f.post("/blacklist/", "refresh", r2), 401, bodyBlacklisted)

	// Another login is another family, untouched.
	_, other := f.login()
	if code, _ := f.refreshed(other); code != 200 {
		t.Fatalf("other family: %d", code)
	}
	f.noSecretsLogged(r0, r1, r2, other)
}

// TestConcurrentRotation sends 64 refreshes of one token at once: exactly one wins, the others
// are reuse, which revokes the family, the winner's successor included.
func TestConcurrentRotation(t *testing.T) {
	f := newFixture(t, rotating)
	_, refresh := f.login()
	const n = 64
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		codes = make([]int, n)
		outs  = make([]map[string]string, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/refresh/", strings.NewReader(`{"refresh":"`+refresh+`"}`))
			r.Header.Set("Content-Type", ctJSON)
			f.h.ServeHTTP(w, r)
			codes[i] = w.Code
			if w.Code == http.StatusOK {
				_ = json.Unmarshal(w.Body.Bytes(), &outs[i])
			} else if w.Code != http.StatusUnauthorized || w.Body.String() != bodyBlacklisted {
				t.Errorf("loser %d: %d %s", i, w.Code, w.Body)
			}
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	var next string
	for i, c := range codes {
		if c == http.StatusOK {
			winners++
			next = outs[i]["refresh"]
		}
	}
	if winners != 1 {
		t.Fatalf("%d refreshes succeeded, want exactly 1 (codes %v)", winners, codes)
	}
	f.expect(f.post("/refresh/", "refresh", next), 401, bodyBlacklisted)
}

// TestVerify checks the verify endpoint: any valid token type, simplejwt's refusals, and a
// blacklisted refresh token reported as such.
func TestVerify(t *testing.T) {
	f := newFixture(t)
	access, refresh := f.login()
	exp := unixNow() + 60
	tests := []struct {
		name, token string
		status      int
		want        string
	}{
		{"access", access, 200, `{}`},
		{"refresh", refresh, 200, `{}`},
		{"other type", f.sign(fmt.Sprintf(`{"token_type":"sliding","exp":%.0f,"jti":"j"}`, exp)), 200, `{}`},
		{"garbage", "xx", 401, bodyInvalid},
		{"alg none", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(access, ".")[1] + ".", 401, bodyInvalid},
		{"expired", f.sign(fmt.Sprintf(`{"token_type":"access","exp":%.0f,"jti":"j"}`, unixNow()-1)), 401, bodyInvalid},
		{"no exp", f.sign(`{"token_type":"access","jti":"j"}`), 401, bodyInvalid},
		{"no jti", f.sign(fmt.Sprintf(`{"token_type":"access","exp":%.0f}`, exp)), 401, bodyNoID},
		{"refresh with a bad jti", f.sign(fmt.Sprintf(`{"token_type":"refresh","exp":%.0f,"jti":"a/b"}`, exp)), 401, bodyInvalid},
		{"foreign refresh without fam", f.sign(fmt.Sprintf(`{"token_type":"refresh","exp":%.0f,"jti":"0123456789abcdef"}`, exp)), 200, `{}`},
		{"numeric jti", f.sign(fmt.Sprintf(`{"token_type":"access","exp":%.0f,"jti":5}`, exp)), 401, bodyInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.expect(f.post("/verify/", "token", tt.token), tt.status, tt.want)
		})
	}
	t.Run("blacklisted", func(t *testing.T) {
		f.expect(f.post("/blacklist/", "refresh", refresh), 200, `{}`)
		f.expect(f.post("/verify/", "token", refresh), 401, bodyBlacklisted)
		// Access tokens are not checked against the store (nor are they by jwt_auth).
		f.expect(f.post("/verify/", "token", access), 200, `{}`)
	})
}

// TestBlacklist checks logout: the token and its family are revoked, a second logout is
// refused as simplejwt refuses it, and access tokens cannot be blacklisted.
func TestBlacklist(t *testing.T) {
	f := newFixture(t, rotating)
	access, r0 := f.login()
	_, out := f.refreshed(r0)
	r1 := out["refresh"]

	f.expect(f.post("/blacklist/", "refresh", access), 401, bodyWrongType)
	f.expect(f.post("/blacklist/", "refresh", "xx"), 401, bodyInvalid)
	f.expect(f.do(http.MethodPost, "/blacklist/", ctForm, "refresh="+r1), 200, `{}`)
	f.expect(f.post("/refresh/", "refresh", r1), 401, bodyBlacklisted)
	f.expect(f.post("/blacklist/", "refresh", r1), 401, bodyBlacklisted)

	// Logging out with the old (rotated) token of a family ends it too.
	_, s0 := f.login()
	_, out = f.refreshed(s0)
	s1 := out["refresh"]
	f.expect(f.post("/blacklist/", "refresh", s0), 200, `{}`)
	f.expect(f.post("/refresh/", "refresh", s1), 401, bodyBlacklisted)
}

// TestBlacklistWithoutRotation checks that a blacklisted refresh token is refused when rotation
// is off (the contract's last row).
func TestBlacklistWithoutRotation(t *testing.T) {
	f := newFixture(t)
	_, refresh := f.login()
	f.expect(f.post("/blacklist/", "refresh", refresh), 200, `{}`)
	f.expect(f.post("/refresh/", "refresh", refresh), 401, bodyBlacklisted)
}

// TestJWKS checks the key set for an HMAC key (empty: the secret is never published) and for a
// generated key, on GET and HEAD.
func TestJWKS(t *testing.T) {
	es, err := mint.Generate("ES256")
	if err != nil {
		t.Fatal(err)
	}
	esRing := mint.StaticRing(es)
	esMinter, err := mint.NewMinter(mint.Config{}, esRing)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opt  option
		want string
	}{
		{"hmac", func(*Config) {}, `{"keys":[]}`},
		{"es256", func(c *Config) { c.Ring, c.Minter = esRing, esMinter }, string(esRing.JWKS())},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opt)
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				w := f.do(method, "/jwks.json", "", "")
				if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" ||
					w.Header().Get("Cache-Control") != "public, max-age=300" {
					t.Fatalf("%s: %d %v", method, w.Code, w.Header())
				}
				if method == http.MethodGet && w.Body.String() != tt.want {
					t.Fatalf("body %s, want %s", w.Body, tt.want)
				}
			}
			if tt.name == "es256" {
				var set struct{ Keys []map[string]any }
				if err := json.Unmarshal([]byte(tt.want), &set); err != nil || len(set.Keys) != 1 || set.Keys[0]["kid"] != es.Kid || set.Keys[0]["d"] != nil {
					t.Fatalf("set %s", tt.want)
				}
				// The tokens it signs verify through the ring.
				_, refresh := f.login()
				f.expect(f.post("/verify/", "token", refresh), 200, `{}`)
			}
		})
	}
}

// TestRateLimit checks the login limits: per client IP and per username, counted before the
// password check, answered with DRF's 429.
func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.IPLimit = limit.Local{Limiter: limit.NewLimiter(3, time.Hour, 0)}
		c.UserLimit = limit.Local{Limiter: limit.NewLimiter(2, time.Hour, 0)}
		c.ClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-IP") }
	})
	attempt := func(ip, username, password string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"username":"`+username+`","password":"`+password+`"}`))
		r.Header.Set("Content-Type", ctJSON)
		r.Header.Set("X-Test-IP", ip)
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w
	}
	// A bucket of n per hour refills one attempt every hour/n: 20 minutes for the IP limit, 30
	// for the username limit.
	const ipWait, userWait = "1200", "1800"
	check := func(w *httptest.ResponseRecorder, status int, wait ...string) {
		t.Helper()
		if w.Code != status {
			t.Fatalf("got %d %s, want %d", w.Code, w.Body, status)
		}
		if status == http.StatusTooManyRequests {
			f.expect(w, status, `{"detail":"Request was throttled. Expected available in `+wait[0]+` seconds."}`)
			if ra := w.Header().Get("Retry-After"); ra != wait[0] {
				t.Fatalf("Retry-After %q, want %s", ra, wait[0])
			}
		}
	}
	// Username limit: two attempts at bob, from different IPs; the third is refused whatever
	// the password, and without asking the credential check.
	check(attempt("10.0.0.1", "bob", "wrong"), 401)
	check(attempt("10.0.0.2", "bob", "wrong"), 401)
	calls := f.users.calls.Load()
	check(attempt("10.0.0.3", "bob", bobPassword), 429, userWait)
	check(attempt("10.0.0.3", "BOB", bobPassword), 429, userWait) // case variants share the budget
	if got := f.users.calls.Load(); got != calls {
		t.Fatalf("the credential check ran %d times while throttled", got-calls)
	}
	// IP limit: 10.0.0.3 has made two attempts; one more is allowed, then none, for any user.
	check(attempt("10.0.0.3", "alice", alicePassword), 200)
	check(attempt("10.0.0.3", "alice", alicePassword), 429, ipWait)
	check(attempt("10.0.0.4", "alice", alicePassword), 200)
	// Malformed attempts count against the IP too.
	for range 2 {
		w := f.do(http.MethodPost, "/", ctJSON, `{}`)
		check(w, 400)
	}
	check(attempt("", "carol", "x"), 401)
	check(attempt("", "carol", "x"), 429, ipWait)
	f.noSecretsLogged(alicePassword, bobPassword)
}

// TestDefaultClientIP checks that without ClientIP the limit is keyed by r.RemoteAddr's host.
func TestDefaultClientIP(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.IPLimit = limit.Local{Limiter: limit.NewLimiter(1, time.Hour, 0)} })
	send := func(addr string) int {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"username":"bob","password":"x"}`))
		r.Header.Set("Content-Type", ctJSON)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w.Code
	}
	if got := []int{send("192.0.2.1:1000"), send("192.0.2.1:2000"), send("192.0.2.2:1000")}; fmt.Sprint(got) != "[401 429 401]" {
		t.Fatalf("codes %v", got)
	}
}

// TestStorageFailure checks that refresh, verify (of refresh tokens) and blacklist fail closed
// with 503 while the storage is down, that login and access tokens keep working, and that
// nothing is lost: once the storage is back, the same tokens work and revocations hold.
func TestStorageFailure(t *testing.T) {
	for _, rotate := range []bool{false, true} {
		t.Run(fmt.Sprintf("rotate=%v", rotate), func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.RotateRefresh = rotate })
			access, refresh := f.login()
			_, revoked := f.login()
			f.expect(f.post("/blacklist/", "refresh", revoked), 200, `{}`)

			f.storage.down.Store(true)
			f.expect(f.post("/refresh/", "refresh", refresh), 503, bodyUnavailable)
			f.expect(f.post("/blacklist/", "refresh", refresh), 503, bodyUnavailable)
			f.expect(f.post("/verify/", "token", refresh), 503, bodyUnavailable)
			// Never "valid" for a token the store cannot vouch for.
			f.expect(f.post("/refresh/", "refresh", revoked), 503, bodyUnavailable)
			f.expect(f.post("/verify/", "token", access), 200, `{}`)
			if _, r := f.login(); r == "" {
				t.Fatal("no login while storage is down")
			}

			// Reads work, writes fail: the refresh that would use the token up (with rotation)
			// and the blacklist fail, and leave the token as it was.
			f.storage.down.Store(false)
			f.storage.readOnly.Store(true)
			if rotate {
				f.expect(f.post("/refresh/", "refresh", refresh), 503, bodyUnavailable)
			}
			f.expect(f.post("/blacklist/", "refresh", refresh), 503, bodyUnavailable)
			f.expect(f.post("/verify/", "token", refresh), 200, `{}`)

			f.storage.readOnly.Store(false)
			f.expect(f.post("/refresh/", "refresh", revoked), 401, bodyBlacklisted)
			code, out := f.refreshed(refresh)
			if code != 200 {
				t.Fatalf("refresh after recovery: %d", code)
			}
			if rotate {
				refresh = out["refresh"]
			}
			f.expect(f.post("/blacklist/", "refresh", refresh), 200, `{}`)
			f.expect(f.post("/refresh/", "refresh", refresh), 401, bodyBlacklisted)
		})
	}
}

// TestNew checks the configuration errors.
func TestNew(t *testing.T) {
	f := newFixture(t)
	good := f.cfg
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no users", func(c *Config) { c.Users = nil }, "no users"},
		{"no ring", func(c *Config) { c.Ring = nil }, "no key ring"},
		{"no minter", func(c *Config) { c.Minter = nil }, "no minter"},
		{"no store", func(c *Config) { c.Store = nil }, "no revocation store"},
		{"relative base", func(c *Config) { c.BasePath = "api/token" }, "clean absolute path"},
		{"unclean base", func(c *Config) { c.BasePath = "/api/../token" }, "clean absolute path"},
		{"double slash base", func(c *Config) { c.BasePath = "/api//token" }, "clean absolute path"},
		{"quote in realm", func(c *Config) { c.Realm = `a"b` }, "realm"},
		{"control in realm", func(c *Config) { c.Realm = "a\nb" }, "realm"},
		{"empty audience", func(c *Config) { c.Audience = []string{""} }, "audience"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mod(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// TestIssuerAudience checks that presented tokens must carry the configured iss and aud.
func TestIssuerAudience(t *testing.T) {
	f := newFixture(t)
	m, err := mint.NewMinter(mint.Config{Issuer: "https://auth.example", Audience: []string{"api"}}, f.cfg.Ring)
	if err != nil {
		t.Fatal(err)
	}
	g := newFixture(t, func(c *Config) {
		c.Minter, c.Issuer, c.Audience = m, "https://auth.example", []string{"api"}
	})
	_, good := g.login()
	_, plain := f.login() // same key, no iss/aud
	if code, _ := g.refreshed(good); code != 200 {
		t.Fatalf("token with iss and aud: %d", code)
	}
	g.expect(g.post("/refresh/", "refresh", plain), 401, bodyInvalid)
	g.expect(g.post("/verify/", "token", plain), 401, bodyInvalid)
}

// TestOverHTTP drives the handler through a real (loopback) server: a form login as a browser
// sends it, a body over the limit, and HEAD of jwks.json.
func TestOverHTTP(t *testing.T) {
	f := newFixture(t, basePath("/api/token"))
	srv := httptest.NewServer(f.h)
	defer srv.Close()

	resp, err := http.PostForm(srv.URL+"/api/token/", url.Values{"username": {"alice"}, "password": {alicePassword}})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || out["access"] == "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login: %d %v %v", resp.StatusCode, out, err)
	}

	big := `{"refresh":"` + strings.Repeat("a", maxBody) + `"}`
	resp, err = http.Post(srv.URL+"/api/token/refresh/", ctJSON, strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	_, _ = io.Copy(&body, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || body.String() != `{"detail":"Request body too large: the limit is 65536 bytes."}` {
		t.Fatalf("large body: %d %s", resp.StatusCode, body.String())
	}

	resp, err = http.Head(srv.URL + "/api/token/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(`{"keys":[]}`)) {
		t.Fatalf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
}
