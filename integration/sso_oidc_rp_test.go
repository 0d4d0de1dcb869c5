package integration

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rpAccessTTL is the relying-party session's access_ttl in these tests: the longest a session
// lives on at the site after the user logged out at the provider.
const rpAccessTTL = 3 * time.Second

// The client integration/oidcprovider/rp_provider.mjs registers.
const (
	rpClientID     = "gatehouse-site"
	rpClientSecret = "gatehouse-site-secret-0123456789"
)

// rpSite is a Gatehouse site whose jwt_auth logs browsers in through oidc-provider
// (rp_provider.mjs): /private/* needs the session, /logout-form posts the logout.
type rpSite struct {
	URL string // http://127.0.0.1:<port>
	op  *oidcProvider
	srv *caddyServer
}

func startRPSite(t *testing.T) *rpSite {
	t.Helper()
	node := oidcProviderTools(t)
	c := newCaddyInstance(t)
	site := fmt.Sprintf("http://127.0.0.1:%d", c.port)
	op := startProviderScript(t, node, "rp_provider.mjs", 0, site+"/oidc/callback", site+"/")
	body := fmt.Sprintf(`jwt_auth /private/* {
		session oidc %s {
			client_id            %s
			client_secret        {env.RP_CLIENT_SECRET}
			scopes               openid email profile
			claim                email
			claim                name display_name
			post_logout_redirect %s/
			access_ttl           %s
		}
		forward_claim email X-Email
		forward_claim display_name X-Name
	}
	respond /private/* "private {http.auth.user.id} {http.request.header.X-Email} {http.request.header.X-Name}"
	header /logout-form Content-Type "text/html; charset=utf-8"
	respond /logout-form <<HTML
		<!DOCTYPE html><title>Site</title>
		<form method="post" action="/oidc/logout"><button id="logout" type="submit">Log out</button></form>
		HTML 200
	respond / "home"`, op.Issuer, rpClientID, site, rpAccessTTL)
	c.env = append(c.env, "RP_CLIENT_SECRET="+rpClientSecret)
	return &rpSite{URL: site, op: op, srv: c.start(t, body)}
}

// opBrowser follows the provider's side of a login as a browser would (its cookies in a jar,
// devInteractions' login form filled with login), from the authorization URL the site sent the
// browser to, and returns the redirect back to the site (not followed).
func (s *rpSite) opBrowser(t *testing.T, jar http.CookieJar, authorize, login string) *url.URL {
	t.Helper()
	browser := *opClient
	browser.Jar = jar
	req, err := http.NewRequest(http.MethodGet, authorize, nil)
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; step < 10; step++ {
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatalf("at the provider, %s %s: %v", req.Method, req.URL, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			next, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatalf("at the provider: bad Location %q", resp.Header.Get("Location"))
			}
			if strings.HasPrefix(next.String(), s.URL+"/") {
				return next
			}
			if req, err = http.NewRequest(http.MethodGet, next.String(), nil); err != nil {
				t.Fatal(err)
			}
		case resp.StatusCode == http.StatusOK:
			action, prompt := formAction.FindSubmatch(body), formPrompt.FindSubmatch(body)
			if action == nil || prompt == nil {
				t.Fatalf("at the provider, %s: a page without the interaction form:\n%s", req.URL, body)
			}
			target, err := req.URL.Parse(html.UnescapeString(string(action[1])))
			if err != nil {
				t.Fatal(err)
			}
			fields := url.Values{"prompt": {string(prompt[1])}, "login": {login}, "password": {"any"}}
			if req, err = http.NewRequest(http.MethodPost, target.String(), strings.NewReader(fields.Encode())); err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		default:
			t.Fatalf("at the provider, %s %s: %d %s", req.Method, req.URL, resp.StatusCode, body)
		}
	}
	t.Fatalf("the provider did not send the browser back within 10 steps")
	return nil
}

// startLogin asks the site for a private page as a browser and returns the provider URL it is
// sent to and the flow cookie (name=value) it was given.
func (s *rpSite) startLogin(t *testing.T, path string) (authorize, flow string) {
	t.Helper()
	r := get(t, s.URL+path, "Accept: text/html")
	loc := r.Header.Get("Location")
	if r.Status != http.StatusFound || !strings.HasPrefix(loc, s.op.AuthorizationEndpoint+"?") {
		t.Fatalf("GET %s without a session: %d to %q, want 302 to the provider", path, r.Status, loc)
	}
	u, _ := url.Parse(loc)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" ||
		q.Get("client_id") != rpClientID || q.Get("redirect_uri") != s.URL+"/oidc/callback" || q.Get("response_type") != "code" {
		t.Fatalf("authorization request %v: want the code flow with PKCE S256, state, nonce and the registered redirect URI", q)
	}
	for _, sc := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "gatehouse_oidc_flow_") {
			if !strings.Contains(sc, "Path=/oidc/callback") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
				t.Errorf("flow cookie %q: want Path=/oidc/callback, HttpOnly, SameSite=Lax", sc)
			}
			nv, _, _ := strings.Cut(sc, ";")
			return loc, nv
		}
	}
	t.Fatalf("no flow cookie in %v", r.Header)
	return "", ""
}

// expectCallbackRefused checks a refused callback: status, the reason on the page, and no
// redirect anywhere.
func expectCallbackRefused(t *testing.T, what string, r response, status int, reason, text string) {
	t.Helper()
	if r.Status != status || !strings.Contains(r.Body, `<code id="reason">`+reason+`</code>`) || !strings.Contains(r.Body, text) {
		t.Errorf("%s: %d %s\nwant %d %s %q", what, r.Status, r.Body, status, reason, text)
	}
	if loc := r.Header.Get("Location"); loc != "" {
		t.Errorf("%s: the refusal redirects to %q", what, loc)
	}
}

// TestOIDCRelyingParty: a Gatehouse site logs a user in through a real provider it did not write
// (oidc-provider), over HTTP: the authorization request (code flow, PKCE S256, state, nonce,
// the registered redirect URI), the callback's refusals (bad state, missing parameters, the
// provider's error, a replayed code, another browser's answer), each a 4xx naming the reason
// and no redirect, the session (claims forwarded, no provider request per page), CSRF on
// logout, RP-initiated logout to the provider's end_session_endpoint with the registered
// post-logout URI only, and a redirect URI the provider does not know, which it refuses
// without sending the browser anywhere.
func TestOIDCRelyingParty(t *testing.T) {
	t.Parallel()
	s := startRPSite(t)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}

	expect(t, "an API client without a token", get(t, s.URL+"/private/"), http.StatusUnauthorized, "")
	authorize, flow := s.startLogin(t, "/private/page?x=1")
	back := s.opBrowser(t, jar, authorize, "alice")
	if back.Path != "/oidc/callback" || back.Query().Get("code") == "" || back.Query().Get("state") == "" {
		t.Fatalf("the provider sent the browser back to %s", back)
	}
	callback := func(q url.Values, cookie string) response {
		t.Helper()
		u := *back
		u.RawQuery = q.Encode()
		if cookie == "" {
			return get(t, u.String())
		}
		return get(t, u.String(), "Cookie: "+cookie)
	}
	good := back.Query()
	edited := func(edit func(url.Values)) url.Values {
		q := url.Values{}
		for k, v := range good {
			q[k] = append([]string(nil), v...)
		}
		edit(q)
		return q
	}

	// Refused before the code is used: it stays good for the real callback below.
	expectCallbackRefused(t, "bad state", callback(edited(func(q url.Values) { q.Set("state", "forged") }), flow), 400, "invalid_state", "state does not match")
	expectCallbackRefused(t, "no state", callback(edited(func(q url.Values) { q.Del("state") }), flow), 400, "invalid_request", "has no state")
	expectCallbackRefused(t, "no code", callback(edited(func(q url.Values) { q.Del("code") }), flow), 400, "invalid_request", "has no code")
	expectCallbackRefused(t, "state twice", callback(edited(func(q url.Values) { q.Add("state", "forged") }), flow), 400, "invalid_request", "state more than once")
	expectCallbackRefused(t, "another browser (no flow cookie)", callback(good, ""), 400, "invalid_request", "No sign-in is in progress")
	flowName, _, _ := strings.Cut(flow, "=")
	expectCallbackRefused(t, "a forged flow cookie", callback(good, flowName+"=AAAA"), 400, "invalid_request", "No sign-in is in progress")
	expectCallbackRefused(t, "iss of another provider", callback(edited(func(q url.Values) { q.Set("iss", "https://evil.example") }), flow), 400, "invalid_issuer", "iss does not match")
	expectCallbackRefused(t, "the provider's error", callback(url.Values{"state": {good.Get("state")}, "error": {"access_denied"}}, flow), 403, "provider_error", "refused: access_denied")

	r := callback(good, flow)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/private/page?x=1" {
		t.Fatalf("callback: %d to %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	var session string
	for _, sc := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "gatehouse_oidc=") {
			session, _, _ = strings.Cut(sc, ";")
			if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") || !strings.Contains(sc, "Max-Age="+strconv.Itoa(int(rpAccessTTL/time.Second))) {
				t.Errorf("session cookie %q: want HttpOnly, SameSite=Lax, Max-Age of access_ttl", sc)
			}
		}
	}
	if session == "" {
		t.Fatalf("no session cookie: %v", r.Header)
	}
	// The same code again (a copy of the flow cookie kept): the provider refuses it.
	expectCallbackRefused(t, "replayed code", callback(good, flow), 400, "invalid_grant", "refused the code: invalid_grant")

	expect(t, "the private page with the session", get(t, s.URL+"/private/page", "Cookie: "+session), http.StatusOK, "private alice alice@example.test User alice")
	expect(t, "a POST with the session from another site", sendBody(t, "POST", s.URL+"/private/x", "", "Cookie: "+session, "Origin: https://evil.example"), http.StatusForbidden, "")
	expect(t, "a POST with the session from the site", sendBody(t, "POST", s.URL+"/private/x", "", "Cookie: "+session, "Origin: "+s.URL), http.StatusOK, "private alice alice@example.test User alice")

	// Logout: POST only, from the site's pages, then to the provider with the registered
	// post-logout URI (a post_logout_redirect_uri in the request counts for nothing).
	expectCallbackRefused(t, "GET logout", get(t, s.URL+"/oidc/logout", "Cookie: "+session), 405, "method_not_allowed", "POST")
	expectCallbackRefused(t, "cross-site logout", sendBody(t, "POST", s.URL+"/oidc/logout", "", "Cookie: "+session, "Origin: https://evil.example"), 403, "cross_site_request", "another site")
	r = sendBody(t, "POST", s.URL+"/oidc/logout?post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F", "", "Cookie: "+session, "Origin: "+s.URL)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.Status != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), s.op.Issuer+"/") ||
		loc.Query().Get("client_id") != rpClientID || loc.Query().Get("post_logout_redirect_uri") != s.URL+"/" {
		t.Fatalf("logout: %d to %q, want the provider's end_session_endpoint with the registered post-logout URI", r.Status, r.Header.Get("Location"))
	}
	if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "gatehouse_oidc=; Path=/; Max-Age=0") {
		t.Errorf("logout did not delete the session cookie: %v", r.Header.Values("Set-Cookie"))
	}

	// A redirect URI the provider does not have (the site reached by another name): the
	// provider refuses the request and sends the browser nowhere.
	r = get(t, s.URL+"/private/", "Accept: text/html", "Host: localhost:"+portOf(t, s.URL))
	u, _ := url.Parse(r.Header.Get("Location"))
	if r.Status != http.StatusFound || u == nil || u.Query().Get("redirect_uri") != "http://localhost:"+portOf(t, s.URL)+"/oidc/callback" {
		t.Fatalf("login by another host name: %d to %q", r.Status, r.Header.Get("Location"))
	}
	resp, err := opClient.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("the provider with an unregistered redirect URI: %d to %q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestBrowserOIDCRelyingParty drives headless Chromium (integration/browser/oidc_rp.mjs)
// through a Gatehouse site that logs in through oidc-provider: the provider's login page, back
// to the page asked for, pages without a request to the provider while the session cookie
// lives, a silent new login through the provider's session after it expired, RP-initiated
// logout back to the site; then, logged out at the provider directly, the site's session ends
// within its access lifetime.
func TestBrowserOIDCRelyingParty(t *testing.T) {
	t.Parallel()
	node := browserTools(t)
	s := startRPSite(t)
	artifacts := browserArtifacts(t, "oidc-rp")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "oidc_rp.mjs", s.URL, s.op.Issuer, artifacts)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "GATEHOUSE_ACCESS_TTL_MS="+strconv.FormatInt(rpAccessTTL.Milliseconds(), 10), "GATEHOUSE_CHROMIUM="+chromiumPath())
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node oidc_rp.mjs: %v after %s\n%s\nscreenshots: %s", err, time.Since(start).Round(time.Millisecond), out, artifacts)
	}
	t.Logf("node oidc_rp.mjs (%s):\n%sscreenshots: %s", time.Since(start).Round(time.Millisecond), out, artifacts)
}
