package issuer

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/revoke"
)

const (
	webSecret   = "grafana-client-secret"
	webRedirect = "https://grafana.example/login/generic_oauth"
	spaRedirect = "https://spa.example/cb"
	webLogout   = "https://grafana.example/logged-out"
	verifier    = "a-pkce-code-verifier-of-at-least-forty-three-characters-0123456789"
)

// opFixture is an issuer with a provider on a loopback server, and a browser (cookie jar that
// follows no redirect).
type opFixture struct {
	t       *testing.T
	srv     *httptest.Server
	issuer  string
	h       *Handler
	browser *http.Client
}

func newOPFixture(t *testing.T) *opFixture {
	t.Helper()
	signer, err := mint.Generate("ES256")
	if err != nil {
		t.Fatal(err)
	}
	ring := mint.StaticRing(signer)
	f := &opFixture{t: t}
	f.srv = httptest.NewUnstartedServer(nil)
	f.issuer = "http://" + f.srv.Listener.Addr().String() + "/auth"
	minter, err := mint.NewMinter(mint.Config{Issuer: f.issuer}, ring)
	if err != nil {
		t.Fatal(err)
	}
	storage := kv.NewMemory()
	store, err := revoke.New(revoke.Config{Storage: storage, Prefix: "gatehouse/issuer/revoke"})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte(webSecret), bcrypt.MinCost)
	f.h, err = New(Config{
		Users: &fakeUsers{}, Ring: ring, Minter: minter, Store: store, RotateRefresh: true, Issuer: f.issuer,
		BasePath: "/auth", Session: &SessionConfig{},
		Provider: &ProviderConfig{
			Issuer: f.issuer, Storage: storage, Prefix: "gatehouse/issuer/oidc/",
			Clients: []ProviderClient{
				{ID: "grafana", SecretHash: string(hash), RedirectURIs: []string{webRedirect}, PostLogoutRedirectURIs: []string{webLogout}, Claims: []string{"roles"}},
				{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect}},
				{ID: "other", SecretHash: string(hash), RedirectURIs: []string{"https://other.example/cb"}},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Config.Handler = f.h
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	jar, _ := cookiejar.New(nil)
	f.browser = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return f
}

// login signs the browser in as alice, with next when given.
func (f *opFixture) login(next ...string) {
	f.t.Helper()
	form := url.Values{"username": {"alice"}, "password": {alicePassword}}
	if len(next) > 0 {
		form.Set("next", next[0])
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/auth/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", f.srv.URL)
	resp, err := f.browser.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("login: %d", resp.StatusCode)
	}
}

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (f *opFixture) authorizeURL(client, redirect string, extra ...string) string {
	q := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid profile email offline_access"}, "state": {"st-1"}, "nonce": {"n-1"}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return f.srv.URL + "/auth/authorize?" + q.Encode()
}

// follow runs the browser from u through the provider's redirects until one leaves for another
// host (the app): that Location, or "" and the last answer when none does.
func (f *opFixture) follow(u string) (string, *http.Response, string) {
	f.t.Helper()
	for range 10 {
		resp, err := f.browser.Get(u)
		if err != nil {
			f.t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if loc == "" {
			return "", resp, string(body)
		}
		next, _ := url.Parse(u)
		next, _ = next.Parse(loc)
		if next.Host != f.srv.Listener.Addr().String() {
			return next.String(), resp, ""
		}
		u = next.String()
	}
	f.t.Fatal("too many redirects")
	return "", nil, ""
}

// code runs an authorization for client and returns the code the app got.
func (f *opFixture) code(client, redirect string, extra ...string) string {
	f.t.Helper()
	loc, resp, body := f.follow(f.authorizeURL(client, redirect, extra...))
	if loc == "" {
		f.t.Fatalf("no redirect to the app: %d %s", resp.StatusCode, body)
	}
	u, _ := url.Parse(loc)
	if !strings.HasPrefix(loc, redirect+"?") || u.Query().Get("state") != "st-1" || u.Query().Get("code") == "" {
		f.t.Fatalf("redirect %s", loc)
	}
	return u.Query().Get("code")
}

func (f *opFixture) token(basic [2]string, form url.Values) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/auth/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic[0] != "" {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

var grafana = [2]string{"grafana", webSecret}

func exchangeForm(code, redirect string, extra ...string) url.Values {
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func fmtJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestProviderDiscovery(t *testing.T) {
	f := newOPFixture(t)
	resp, err := http.Get(f.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	want := map[string]string{
		"issuer": f.issuer, "authorization_endpoint": f.issuer + "/authorize", "token_endpoint": f.issuer + "/oauth/token",
		"userinfo_endpoint": f.issuer + "/userinfo", "end_session_endpoint": f.issuer + "/end_session", "jwks_uri": f.issuer + "/jwks.json",
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %v, want %s", k, d[k], v)
		}
	}
	if m, _ := json.Marshal(d["code_challenge_methods_supported"]); string(m) != `["S256"]` {
		t.Errorf("code_challenge_methods_supported %s", m)
	}
	// On another host name the issuer's paths are not the provider's.
	req, _ := http.NewRequest(http.MethodGet, f.issuer+"/.well-known/openid-configuration", nil)
	req.Host = "shop.example"
	resp2, _ := http.DefaultClient.Do(req)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusNotFound {
		t.Errorf("other host: %d", resp2.StatusCode)
	}
}

// TestProviderCodeFlow: a browser that is signed in gets a code at once; the code buys an ID
// token signed with the ring's key (kid in jwks.json), an access token good for userinfo and a
// refresh token that rotates.
func TestProviderCodeFlow(t *testing.T) {
	f := newOPFixture(t)
	// Not signed in: the login page, whose form comes back to the request, through a page
	// that opens the callback (a new navigation, not the form's redirect chain).
	_, resp, body := f.follow(f.authorizeURL("grafana", webRedirect, "code_challenge", challenge(verifier), "code_challenge_method", "S256"))
	next := regexp.MustCompile(`name="next" value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || next == nil || !strings.HasPrefix(next[1], "/auth/authorize/resume?id=") {
		t.Fatalf("not signed in: %d %s", resp.StatusCode, body)
	}
	f.login(html.UnescapeString(next[1]))
	loc, resp, body := f.follow(f.srv.URL + html.UnescapeString(next[1]))
	page := regexp.MustCompile(`url=(/auth/authorize/callback\?id=[0-9a-f]+)"`).FindStringSubmatch(body)
	if loc != "" || page == nil {
		t.Fatalf("resume: %d %q %s", resp.StatusCode, loc, body)
	}
	loc, _, _ = f.follow(f.srv.URL + page[1])
	if u, _ := url.Parse(loc); !strings.HasPrefix(loc, webRedirect+"?") || u.Query().Get("code") == "" {
		t.Fatalf("callback: %q", loc)
	}
	// Once signed in, the code comes at once.
	code := f.code("grafana", webRedirect, "code_challenge", challenge(verifier), "code_challenge_method", "S256")
	st, tok := f.token(grafana, exchangeForm(code, webRedirect, "code_verifier", verifier))
	if st != 200 {
		t.Fatalf("token: %d %v", st, tok)
	}
	id := claimsOf(t, tok["id_token"].(string))
	if id["iss"] != f.issuer || fmtJSON(id["aud"]) != `["grafana"]` || id["sub"] != "7" || id["nonce"] != "n-1" || id["token_type"] != "id" {
		t.Errorf("id token claims %v", id)
	}
	if r, _ := json.Marshal(id["roles"]); string(r) != `["admin"]` {
		t.Errorf("roles %s", r)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok["id_token"].(string), ".")[0])
	if !strings.Contains(string(hdr), f.h.ring.Signer().Kid) || !strings.Contains(string(f.h.ring.JWKS()), f.h.ring.Signer().Kid) {
		t.Errorf("id token header %s is not signed by the published key", hdr)
	}
	if at := claimsOf(t, tok["access_token"].(string)); at["token_type"] != "oidc_access" {
		t.Errorf("access token %v", at)
	}
	// userinfo
	req, _ := http.NewRequest(http.MethodGet, f.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ui map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&ui)
	resp.Body.Close()
	if resp.StatusCode != 200 || ui["sub"] != "7" || ui["preferred_username"] != "7" {
		t.Errorf("userinfo %d %v", resp.StatusCode, ui)
	}
	// refresh rotates; the used one presented again revokes the grant (its successor too)
	rt := tok["refresh_token"].(string)
	st, r1 := f.token([2]string{}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"grafana"}, "client_secret": {webSecret}})
	if st != 200 || r1["refresh_token"] == rt || r1["refresh_token"] == nil {
		t.Fatalf("refresh (client_secret_post): %d %v", st, r1)
	}
	st, r2 := f.token(grafana, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if st != 400 || r2["error"] != "invalid_grant" {
		t.Fatalf("reused refresh: %d %v", st, r2)
	}
	st, r3 := f.token(grafana, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r1["refresh_token"].(string)}})
	if st != 400 || r3["error"] != "invalid_grant" {
		t.Fatalf("successor after reuse: %d %v", st, r3)
	}
}

// TestProviderHostile: every bad request gets the error the specs name, never a 5xx and never a
// redirect to an address that is not registered.
func TestProviderHostile(t *testing.T) {
	f := newOPFixture(t)
	f.login()
	noRedirect := func(name, u string) {
		t.Helper()
		loc, resp, _ := f.follow(u)
		if loc != "" || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, redirect %q", name, resp.StatusCode, loc)
		}
	}
	noRedirect("unknown client", f.authorizeURL("nobody", webRedirect))
	noRedirect("unregistered redirect", f.authorizeURL("grafana", "https://evil.example/cb"))
	noRedirect("redirect prefix", f.authorizeURL("grafana", webRedirect+"/x"))
	noRedirect("another client's redirect", f.authorizeURL("grafana", spaRedirect))
	redirectErr := func(name, want string, u string) {
		t.Helper()
		loc, resp, body := f.follow(u)
		lu, _ := url.Parse(loc)
		if !strings.HasPrefix(loc, spaRedirect+"?") || lu.Query().Get("error") != want || lu.Query().Get("state") != "st-1" {
			t.Errorf("%s: %d %s %s", name, resp.StatusCode, loc, body)
		}
	}
	redirectErr("public without PKCE", "invalid_request", f.authorizeURL("spa", spaRedirect))
	redirectErr("plain PKCE", "invalid_request", f.authorizeURL("spa", spaRedirect, "code_challenge", verifier, "code_challenge_method", "plain"))
	redirectErr("PKCE without method (plain)", "invalid_request", f.authorizeURL("spa", spaRedirect, "code_challenge", verifier))
	redirectErr("no openid scope", "invalid_scope", f.authorizeURL("spa", spaRedirect, "scope", "profile", "code_challenge", challenge(verifier), "code_challenge_method", "S256"))

	tokenErr := func(name string, wantStatus int, want string, basic [2]string, form url.Values) {
		t.Helper()
		st, out := f.token(basic, form)
		if st != wantStatus || out["error"] != want {
			t.Errorf("%s: %d %v", name, st, out)
		}
	}
	pk := []string{"code_challenge", challenge(verifier), "code_challenge_method", "S256"}
	// The public client's code needs its verifier.
	code := f.code("spa", spaRedirect, pk...)
	tokenErr("wrong verifier", 400, "invalid_grant", [2]string{}, exchangeForm(code, spaRedirect, "client_id", "spa", "code_verifier", verifier+"x"))
	code = f.code("spa", spaRedirect, pk...)
	tokenErr("missing verifier", 400, "invalid_request", [2]string{}, exchangeForm(code, spaRedirect, "client_id", "spa"))
	code = f.code("spa", spaRedirect, pk...)
	st, ok := f.token([2]string{}, exchangeForm(code, spaRedirect, "client_id", "spa", "code_verifier", verifier))
	if st != 200 || ok["id_token"] == nil {
		t.Fatalf("public client: %d %v", st, ok)
	}
	// Replayed: refused, and the tokens issued for the code are revoked.
	code = f.code("grafana", webRedirect)
	st, first := f.token(grafana, exchangeForm(code, webRedirect))
	if st != 200 {
		t.Fatalf("exchange: %d %v", st, first)
	}
	tokenErr("replayed code", 400, "invalid_grant", grafana, exchangeForm(code, webRedirect))
	tokenErr("refresh of a replayed code", 400, "invalid_grant", grafana, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}})
	// Another client's code.
	code = f.code("grafana", webRedirect)
	tokenErr("code of another client", 400, "invalid_grant", [2]string{"other", webSecret}, exchangeForm(code, webRedirect))
	// Wrong redirect_uri at the token endpoint.
	code = f.code("grafana", webRedirect)
	tokenErr("redirect_uri differs", 400, "invalid_grant", grafana, exchangeForm(code, "https://grafana.example/other"))
	// Bad secret, unknown client.
	code = f.code("grafana", webRedirect)
	tokenErr("wrong secret", 401, "invalid_client", [2]string{"grafana", "nope"}, exchangeForm(code, webRedirect))
	tokenErr("unknown client", 401, "invalid_client", [2]string{"nobody", "nope"}, exchangeForm("x", webRedirect))
	tokenErr("made-up code", 400, "invalid_grant", grafana, exchangeForm("made-up", webRedirect))
	// Expired: 61 s later.
	code = f.code("grafana", webRedirect)
	f.h.provider.store.now = func() time.Time { return time.Now().Add(codeTTL + time.Second) }
	tokenErr("expired code", 400, "invalid_grant", grafana, exchangeForm(code, webRedirect))
	f.h.provider.store.now = time.Now
	tokenErr("unsupported grant", 400, "unsupported_grant_type", grafana, url.Values{"grant_type": {"password"}})
}

// TestProviderEndSession: RP-initiated logout ends the provider session (cookies cleared, the
// session family revoked, so the grants made from it stop refreshing) and redirects only to a
// registered post_logout_redirect_uri.
func TestProviderEndSession(t *testing.T) {
	f := newOPFixture(t)
	f.login()
	code := f.code("grafana", webRedirect)
	st, tok := f.token(grafana, exchangeForm(code, webRedirect))
	if st != 200 {
		t.Fatal(st, tok)
	}
	hint := tok["id_token"].(string)
	q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}}
	loc, resp, _ := f.follow(f.issuer + "/end_session?" + q.Encode())
	if loc != "" || resp.StatusCode != 400 {
		t.Fatalf("unregistered post_logout_redirect_uri: %d %q", resp.StatusCode, loc)
	}
	q.Set("post_logout_redirect_uri", webLogout)
	q.Set("state", "bye")
	loc, resp, body := f.follow(f.issuer + "/end_session?" + q.Encode())
	if loc != webLogout+"?state=bye" {
		t.Fatalf("end_session: %d %q %s", resp.StatusCode, loc, body)
	}
	if st, out := f.token(grafana, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("refresh after end_session: %d %v", st, out)
	}
	req, _ := http.NewRequest(http.MethodGet, f.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("userinfo after end_session: %d", resp.StatusCode)
	}
	// Signed out: the next authorization asks for the login again.
	_, resp, body = f.follow(f.authorizeURL("grafana", webRedirect))
	if resp.StatusCode != 200 || !strings.Contains(body, "authorize/resume") {
		t.Errorf("after end_session: %d", resp.StatusCode)
	}
}

func TestProviderConfigErrors(t *testing.T) {
	for _, c := range []struct {
		client ProviderClient
		want   string
	}{
		{ProviderClient{ID: "a", SecretHash: "plaintext", RedirectURIs: []string{webRedirect}}, "bcrypt"},
		{ProviderClient{ID: "a", Public: true}, "redirect_uri"},
		{ProviderClient{ID: "a"}, "secret_hash"},
		{ProviderClient{ID: "a", Public: true, RedirectURIs: []string{"http://spa.example/cb"}}, "https"},
		{ProviderClient{ID: "a", Public: true, RedirectURIs: []string{"https://spa.example/cb#x"}}, "fragment"},
		{ProviderClient{ID: "a b", Public: true, RedirectURIs: []string{spaRedirect}}, "client id"},
	} {
		if err := CheckProviderClient(&c.client); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.client, err)
		}
	}
	for _, iss := range []string{"http://auth.example/auth", "https://auth.example/auth?x=1", "auth.example"} {
		if _, _, err := CheckProviderIssuer(iss); err == nil {
			t.Errorf("%s accepted", iss)
		}
	}
}
