package oidcrp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testsign"
)

const (
	testClient = "site"
	testSecret = "site-secret-0123456789"
)

// testProvider is a small OpenID provider for the RP's unit tests: discovery, JWKS, and a token
// endpoint that checks the client, the code (once), the redirect URI and the PKCE verifier, and
// answers with an ID token that idToken may spoil. The integration tests use a real provider
// (oidc-provider); this one exists to make the hostile ID tokens no real provider would issue.
type testProvider struct {
	srv *httptest.Server
	mu  sync.Mutex
	// codes are the codes handed out: the authorization request's challenge, nonce and
	// redirect URI, and whether the code was used.
	codes map[string]*testCode
	// idToken edits the ID token's claims before signing.
	idToken func(claims map[string]any)
}

type testCode struct {
	challenge, nonce, redirectURI string
	used                          bool
}

func newTestProvider(t *testing.T) *testProvider {
	p := &testProvider{codes: map[string]*testCode{}}
	key := testsign.RSA(2048)
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.srv.URL,
			"authorization_endpoint":                p.srv.URL + "/auth",
			"token_endpoint":                        p.srv.URL + "/token",
			"jwks_uri":                              p.srv.URL + "/jwks",
			"end_session_endpoint":                  p.srv.URL + "/session/end",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported":      []string{"S256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(testsign.JWKS(testsign.JWK(&key.PublicKey, map[string]any{"kid": "k1", "alg": "RS256", "use": "sig"}))))
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		fail := func(code string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": code})
		}
		id, secret, ok := r.BasicAuth()
		if !ok || id != testClient || secret != testSecret {
			fail("invalid_client")
			return
		}
		r.ParseForm()
		p.mu.Lock()
		c := p.codes[r.PostForm.Get("code")]
		valid := c != nil && !c.used
		if c != nil {
			c.used = true
		}
		p.mu.Unlock()
		if !valid || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("redirect_uri") != c.redirectURI {
			fail("invalid_grant")
			return
		}
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			fail("invalid_grant")
			return
		}
		now := time.Now().Unix()
		claims := map[string]any{"iss": p.srv.URL, "aud": testClient, "sub": "alice", "email": "alice@example.com",
			"iat": now, "exp": now + 300, "nonce": c.nonce}
		if p.idToken != nil {
			p.idToken(claims)
		}
		w.Header().Set("Content-Type", "application/json")
		resp := map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300}
		if _, drop := claims["-drop"]; !drop {
			resp["id_token"] = testsign.Mint("RS256", key, map[string]any{"kid": "k1"}, claims)
		}
		json.NewEncoder(w).Encode(resp)
	})
	return p
}

// authorize plays the provider's authorization endpoint for the Location the RP sent the
// browser to: it records a code for the request and returns the callback query.
func (p *testProvider) authorize(t *testing.T, location string) url.Values {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, p.srv.URL+"/auth?") {
		t.Fatalf("login redirect %q is not to the provider's authorization endpoint", location)
	}
	q := u.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != testClient || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" || !strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("authorization request %v lacks code flow, PKCE S256, state, nonce or openid", q)
	}
	code := testsign.B64(testsign.Random(16))
	p.mu.Lock()
	p.codes[code] = &testCode{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirectURI: q.Get("redirect_uri")}
	p.mu.Unlock()
	return url.Values{"code": {code}, "state": {q.Get("state")}}
}

func newTestRP(t *testing.T, p *testProvider) *RP {
	t.Helper()
	rp, err := New(Config{Issuer: p.srv.URL, ClientID: testClient, ClientSecret: testSecret,
		PostLogoutRedirect: "http://localhost:8080/", AccessTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// browser is the cookies one browser holds for the site.
type browser map[string]string

func (b browser) send(r *http.Request) {
	for name, v := range b {
		r.AddCookie(&http.Cookie{Name: name, Value: v})
	}
}

// flows is a copy of the flow cookies b holds.
func (b browser) flows(rp *RP) browser {
	out := browser{}
	for name, v := range b {
		if strings.HasPrefix(name, rp.flowPrefix()) {
			out[name] = v
		}
	}
	return out
}

func (b browser) keep(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b, c.Name)
		} else {
			b[c.Name] = c.Value
		}
	}
}

// login starts a login at the site for path and returns the callback query the provider gives.
func login(t *testing.T, rp *RP, p *testProvider, b browser, path string) url.Values {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://localhost:8080"+path, nil)
	b.send(r)
	w := httptest.NewRecorder()
	rp.Login(w, r)
	if w.Code != http.StatusFound {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	b.keep(t, w)
	if len(b.flows(rp)) == 0 {
		t.Fatalf("login set no flow cookie: %v", w.Header())
	}
	return p.authorize(t, w.Header().Get("Location"))
}

// callback sends the provider's answer q to the site's callback.
func callback(t *testing.T, rp *RP, b browser, q url.Values) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://localhost:8080/oidc/callback?"+q.Encode(), nil)
	b.send(r)
	w := httptest.NewRecorder()
	rp.ServeCallback(w, r)
	b.keep(t, w)
	return w
}

func expectRefusal(t *testing.T, what string, w *httptest.ResponseRecorder, status int, reason, text string) {
	t.Helper()
	if w.Code != status || !strings.Contains(w.Body.String(), `<code id="reason">`+reason+`</code>`) || !strings.Contains(w.Body.String(), text) {
		t.Errorf("%s: %d\n%s\nwant %d %s %q", what, w.Code, w.Body, status, reason, text)
	}
	if loc := w.Header().Get("Location"); loc != "" {
		t.Errorf("%s: a refusal redirects to %q", what, loc)
	}
}

func TestCodeFlow(t *testing.T) {
	p := newTestProvider(t)
	rp := newTestRP(t, p)
	b := browser{}
	q := login(t, rp, p, b, "/private/page?x=1")
	w := callback(t, rp, b, q)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/private/page?x=1" {
		t.Fatalf("callback: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if f := b.flows(rp); len(f) != 0 {
		t.Fatalf("the flow cookie outlived the callback: %v", f)
	}
	r := httptest.NewRequest(http.MethodGet, "http://localhost:8080/private/", nil)
	b.send(r)
	claims, found, err := rp.Session(r)
	if !found || err != nil {
		t.Fatalf("session after login: found %v, %v", found, err)
	}
	for name, want := range map[string]string{"sub": "alice", "email": "alice@example.com", "idp": p.srv.URL} {
		if v, _ := claims.Get(name); v.Text != want {
			t.Errorf("session claim %s = %q, want %q", name, v.Text, want)
		}
	}
	// The session ends with its cookie's token: AccessTTL later it no longer verifies.
	rp.now = func() time.Time { return time.Now().Add(time.Minute + time.Second) }
	if _, _, err := rp.Session(r); err == nil {
		t.Fatal("the session token still verifies after access_ttl")
	}
}

func TestCallbackHostile(t *testing.T) {
	p := newTestProvider(t)
	rp := newTestRP(t, p)

	t.Run("bad state", func(t *testing.T) {
		b := browser{}
		q := login(t, rp, p, b, "/")
		q.Set("state", "forged")
		expectRefusal(t, "bad state", callback(t, rp, b, q), 400, ReasonInvalidState, "state does not match")
	})
	t.Run("no flow cookie", func(t *testing.T) {
		q := login(t, rp, p, browser{}, "/")
		expectRefusal(t, "another browser's answer", callback(t, rp, browser{}, q), 400, ReasonInvalidRequest, "No sign-in is in progress")
	})
	t.Run("flow cookie of another key", func(t *testing.T) {
		b := browser{}
		q := login(t, rp, p, b, "/")
		other, err := New(Config{Issuer: p.srv.URL, ClientID: testClient, ClientSecret: "another-secret-0123456789"})
		if err != nil {
			t.Fatal(err)
		}
		expectRefusal(t, "flow cookie of another key", callback(t, other, b, q), 400, ReasonInvalidRequest, "No sign-in is in progress")
	})
	t.Run("replayed code", func(t *testing.T) {
		b := browser{}
		q := login(t, rp, p, b, "/")
		saved := b.flows(rp)
		if w := callback(t, rp, b, q); w.Code != http.StatusSeeOther {
			t.Fatalf("first use: %d %s", w.Code, w.Body)
		}
		// The browser no longer has the flow; one that kept a copy gets the provider's refusal.
		expectRefusal(t, "replay without the flow", callback(t, rp, b, q), 400, ReasonInvalidRequest, "No sign-in is in progress")
		expectRefusal(t, "replay with a saved flow", callback(t, rp, saved, q), 400, ReasonInvalidGrant, "refused the code: invalid_grant")
	})
	t.Run("wrong nonce", func(t *testing.T) {
		p.idToken = func(c map[string]any) { c["nonce"] = "another" }
		defer func() { p.idToken = nil }()
		b := browser{}
		expectRefusal(t, "wrong nonce", callback(t, rp, b, login(t, rp, p, b, "/")), 401, ReasonInvalidNonce, "nonce does not match")
	})
	t.Run("no nonce", func(t *testing.T) {
		p.idToken = func(c map[string]any) { delete(c, "nonce") }
		defer func() { p.idToken = nil }()
		b := browser{}
		expectRefusal(t, "no nonce", callback(t, rp, b, login(t, rp, p, b, "/")), 401, ReasonInvalidNonce, "nonce does not match")
	})
	t.Run("wrong audience", func(t *testing.T) {
		p.idToken = func(c map[string]any) { c["aud"] = "another-client" }
		defer func() { p.idToken = nil }()
		b := browser{}
		expectRefusal(t, "wrong aud", callback(t, rp, b, login(t, rp, p, b, "/")), 401, ReasonInvalidIDToken, "its audience is another client")
	})
	t.Run("several audiences without azp", func(t *testing.T) {
		p.idToken = func(c map[string]any) { c["aud"] = []string{testClient, "another-client"} }
		defer func() { p.idToken = nil }()
		b := browser{}
		expectRefusal(t, "aud without azp", callback(t, rp, b, login(t, rp, p, b, "/")), 401, ReasonInvalidIDToken, "issued to another client (azp)")
	})
	t.Run("wrong issuer", func(t *testing.T) {
		p.idToken = func(c map[string]any) { c["iss"] = "https://evil.example" }
		defer func() { p.idToken = nil }()
		b := browser{}
		expectRefusal(t, "wrong iss", callback(t, rp, b, login(t, rp, p, b, "/")), 401, ReasonInvalidIDToken, "its issuer is another provider")
	})
	t.Run("expired ID token", func(t *testing.T) {
		p.idToken = func(c map[string]any) { c["exp"] = time.Now().Unix() - 600 }
		defer func() { p.idToken = nil }()
		b := browser{}
		expectRefusal(t, "expired", callback(t, rp, b, login(t, rp, p, b, "/")), 401, ReasonInvalidIDToken, "it has expired")
	})
	t.Run("no ID token", func(t *testing.T) {
		p.idToken = func(c map[string]any) { c["-drop"] = true }
		defer func() { p.idToken = nil }()
		b := browser{}
		expectRefusal(t, "no id_token", callback(t, rp, b, login(t, rp, p, b, "/")), 401, ReasonInvalidIDToken, "gave no ID token")
	})
	t.Run("missing parameters", func(t *testing.T) {
		for name, edit := range map[string]func(url.Values){
			"no code":     func(q url.Values) { q.Del("code") },
			"no state":    func(q url.Values) { q.Del("state") },
			"state twice": func(q url.Values) { q.Add("state", q.Get("state")) },
			"code twice":  func(q url.Values) { q.Add("code", "x") },
		} {
			b := browser{}
			q := login(t, rp, p, b, "/")
			edit(q)
			want := map[string]string{"no code": "has no code", "no state": "has no state", "state twice": "state more than once", "code twice": "code more than once"}[name]
			expectRefusal(t, name, callback(t, rp, b, q), 400, ReasonInvalidRequest, want)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		b := browser{}
		q := login(t, rp, p, b, "/")
		q.Del("code")
		q.Set("error", "access_denied")
		q.Set("error_description", "<script>alert(1)</script>")
		w := callback(t, rp, b, q)
		expectRefusal(t, "access_denied", w, 403, ReasonProviderError, "refused: access_denied")
		if strings.Contains(w.Body.String(), "<script>") {
			t.Errorf("the provider's error_description reached the page: %s", w.Body)
		}
	})
	t.Run("provider error with a bad state", func(t *testing.T) {
		b := browser{}
		q := login(t, rp, p, b, "/")
		expectRefusal(t, "error, forged state", callback(t, rp, b, url.Values{"error": {"access_denied"}, "state": {"forged"}}), 400, ReasonInvalidState, "state does not match")
		_ = q
	})
	t.Run("iss of another provider", func(t *testing.T) {
		b := browser{}
		q := login(t, rp, p, b, "/")
		q.Set("iss", "https://evil.example")
		expectRefusal(t, "iss", callback(t, rp, b, q), 400, ReasonInvalidIssuer, "iss does not match")
	})
	t.Run("callback on another host", func(t *testing.T) {
		b := browser{}
		q := login(t, rp, p, b, "/")
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/oidc/callback?"+q.Encode(), nil)
		b.send(r)
		w := httptest.NewRecorder()
		rp.ServeCallback(w, r)
		expectRefusal(t, "other host", w, 400, ReasonInvalidRequest, "came to another site")
	})
	t.Run("POST and HEAD", func(t *testing.T) {
		for _, m := range []string{http.MethodPost, http.MethodHead} {
			b := browser{}
			q := login(t, rp, p, b, "/")
			r := httptest.NewRequest(m, "http://localhost:8080/oidc/callback?"+q.Encode(), nil)
			b.send(r)
			w := httptest.NewRecorder()
			rp.ServeCallback(w, r)
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET" || w.Header().Get("Location") != "" {
				t.Errorf("%s callback: %d %v", m, w.Code, w.Header())
			}
			// The code was not used: the GET still logs in.
			if w := callback(t, rp, b, q); w.Code != http.StatusSeeOther {
				t.Errorf("GET after %s: %d %s", m, w.Code, w.Body)
			}
		}
	})
	t.Run("forged flow cookie of the right name", func(t *testing.T) {
		b := browser{}
		q := login(t, rp, p, b, "/")
		for name := range b.flows(rp) {
			b[name] = "AAAA" + b[name][4:]
		}
		expectRefusal(t, "forged flow cookie", callback(t, rp, b, q), 400, ReasonInvalidRequest, "No sign-in is in progress")
	})
}

// TestParallelLogins: logins started in several tabs of one browser at once (the session expired
// and the tabs reload together) each come back, in any order, and only abandoned ones linger,
// at most maxFlows of them.
func TestParallelLogins(t *testing.T) {
	p := newTestProvider(t)
	rp := newTestRP(t, p)
	b := browser{}
	q1 := login(t, rp, p, b, "/one")
	q2 := login(t, rp, p, b, "/two")
	for _, c := range []struct {
		q    url.Values
		next string
	}{{q2, "/two"}, {q1, "/one"}} {
		if w := callback(t, rp, b, c.q); w.Code != http.StatusSeeOther || w.Header().Get("Location") != c.next {
			t.Fatalf("callback of %s: %d %q %s", c.next, w.Code, w.Header().Get("Location"), w.Body)
		}
	}
	for range maxFlows + 3 {
		login(t, rp, p, b, "/abandoned")
	}
	if n := len(b.flows(rp)); n > maxFlows {
		t.Fatalf("%d flow cookies after abandoned logins, want at most %d", n, maxFlows)
	}
}

func TestLoginNext(t *testing.T) {
	p := newTestProvider(t)
	rp := newTestRP(t, p)
	for path, want := range map[string]string{
		"/private/x?y=1":     "/private/x?y=1",
		"//evil.example/":    "/",
		"/oidc/callback?x=1": "/",
		"/oidc/logout":       "/",
	} {
		b := browser{}
		q := login(t, rp, p, b, path)
		w := callback(t, rp, b, q)
		if got := w.Header().Get("Location"); w.Code != http.StatusSeeOther || got != want {
			t.Errorf("login from %s: %d to %q, want %q", path, w.Code, got, want)
		}
	}
}

func TestSessionToken(t *testing.T) {
	p := newTestProvider(t)
	rp := newTestRP(t, p)
	now := time.Now().Unix()
	for name, tok := range map[string]string{
		// What the provider could sign: an HS256 ID token keyed with the client secret.
		"provider's HS256 ID token": testsign.Mint("HS256", []byte(testSecret), nil, map[string]any{"iss": sessionIssuer, "aud": testClient, "sub": "mallory", "token_type": sessionType, "exp": now + 60, "iat": now}),
		"right claims, another key": testsign.Mint("HS256", testsign.Random(32), nil, map[string]any{"iss": sessionIssuer, "aud": testClient, "sub": "mallory", "token_type": sessionType, "exp": now + 60, "iat": now}),
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: rp.Cookie(), Value: tok})
		if _, found, err := rp.Session(r); !found || err == nil {
			t.Errorf("%s: found %v, err %v; want refused", name, found, err)
		}
	}
}

func TestLogout(t *testing.T) {
	p := newTestProvider(t)
	rp := newTestRP(t, p)
	w := httptest.NewRecorder()
	rp.ServeLogout(w, httptest.NewRequest(http.MethodGet, "http://localhost:8080/oidc/logout", nil))
	expectRefusal(t, "GET logout", w, 405, ReasonMethod, "POST")

	r := httptest.NewRequest(http.MethodPost, "http://localhost:8080/oidc/logout", nil)
	r.Header.Set("Origin", "https://evil.example")
	w = httptest.NewRecorder()
	rp.ServeLogout(w, r)
	expectRefusal(t, "cross-site logout", w, 403, ReasonCrossSite, "another site")

	r = httptest.NewRequest(http.MethodPost, "http://localhost:8080/oidc/logout?post_logout_redirect_uri=https://evil.example/", nil)
	r.Header.Set("Origin", "http://localhost:8080")
	w = httptest.NewRecorder()
	rp.ServeLogout(w, r)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), p.srv.URL+"/session/end?") ||
		loc.Query().Get("client_id") != testClient || loc.Query().Get("post_logout_redirect_uri") != "http://localhost:8080/" {
		t.Fatalf("logout: %d to %q", w.Code, w.Header().Get("Location"))
	}
	if c := w.Header().Get("Set-Cookie"); !strings.HasPrefix(c, DefaultCookie+"=; Path=/; Max-Age=0") {
		t.Fatalf("logout did not delete the session cookie: %q", c)
	}
}

func TestConfigErrors(t *testing.T) {
	ok := Config{Issuer: "https://id.example.com", ClientID: "c", ClientSecret: testSecret}
	for name, edit := range map[string]func(*Config){
		"plain http issuer": func(c *Config) { c.Issuer = "http://id.example.com" },
		"no client id":      func(c *Config) { c.ClientID = "" },
		"short secret":      func(c *Config) { c.ClientSecret = "short" },
		"callback path":     func(c *Config) { c.CallbackPath = "oidc/cb" },
		"same paths":        func(c *Config) { c.LogoutPath = DefaultCallbackPath },
		"post logout":       func(c *Config) { c.PostLogoutRedirect = "/after" },
		"ttl":               func(c *Config) { c.AccessTTL = 48 * time.Hour },
		"reserved claim":    func(c *Config) { c.Claims = []Claim{{From: "email", To: "sub"}} },
		"cookie name":       func(c *Config) { c.Cookie = "a b" },
	} {
		c := ok
		edit(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
}

// downFirst is a transport that fails until up is set: the provider is not listening yet.
type downFirst struct {
	mu sync.Mutex
	up bool
}

func (d *downFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	d.mu.Lock()
	up := d.up
	d.mu.Unlock()
	if !up {
		return nil, errProviderNotListening
	}
	return http.DefaultTransport.RoundTrip(r)
}

var errProviderNotListening = &url.Error{Op: "Get", URL: "provider", Err: http.ErrServerClosed}

// TestDiscoverFailureNotRemembered: the discovery fetched ahead of the first login (Caddy's
// provision, when the provider may be the same Caddy, not listening yet) fails without
// refusing the first login that follows, which asks again; a login's own failure is remembered.
func TestDiscoverFailureNotRemembered(t *testing.T) {
	p := newTestProvider(t)
	tr := &downFirst{}
	rp, err := New(Config{Issuer: p.srv.URL, ClientID: testClient, ClientSecret: testSecret,
		AccessTTL: time.Minute, HTTPClient: &http.Client{Transport: tr, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rp.Discover(t.Context()); err == nil {
		t.Fatal("Discover with the provider down: no error")
	}
	tr.mu.Lock()
	tr.up = true
	tr.mu.Unlock()
	login(t, rp, p, browser{}, "/private/")

	// A login's failure, by contrast, is remembered for discoveryRetry.
	tr2 := &downFirst{}
	rp2, err := New(Config{Issuer: p.srv.URL, ClientID: testClient, ClientSecret: testSecret,
		AccessTTL: time.Minute, HTTPClient: &http.Client{Transport: tr2, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	loginStatus := func() int {
		r := httptest.NewRequest(http.MethodGet, "http://localhost:8080/private/", nil)
		w := httptest.NewRecorder()
		rp2.Login(w, r)
		return w.Code
	}
	if code := loginStatus(); code != http.StatusServiceUnavailable {
		t.Fatalf("login with the provider down: %d, want 503", code)
	}
	tr2.mu.Lock()
	tr2.up = true
	tr2.mu.Unlock()
	if code := loginStatus(); code != http.StatusServiceUnavailable {
		t.Fatalf("login just after a failed one: %d, want the remembered 503", code)
	}
}
