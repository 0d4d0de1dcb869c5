package caddyauth

// What a Caddyfile makes Caddy do, checked in process with Caddy's own caddytest: the
// Caddyfile is adapted and loaded through the admin API as `caddy run` would, and requests go
// over loopback HTTP, but no binary is built. The end-to-end stories (restarts, reloads under
// load, real browsers and apps) stay in ../integration, against the built binary.
//
// caddytest runs one Caddy for the whole test binary, on fixed ports: these tests load their
// configurations into it one after another, so none of them is parallel.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// The in-process Caddy's admin and HTTP ports: fixed, as caddytest needs, and away from Caddy's
// defaults (2019, 80, 443) and caddytest's (2999, 9080, 9443) so that a Caddy running on the
// machine, or Caddy's own tests, do not clash with these.
const (
	caddytestAdmin = 12999
	caddytestHTTP  = 12080
	caddytestHTTPS = 12443
)

// caddytestLoad loads sites (whole site blocks; PORT stands for the HTTP port) into the
// in-process Caddy, under global options that keep its state in a temporary directory, and
// returns the client to send requests with. When the test ends the sites are unloaded, so
// that nothing of them runs on into the next test.
func caddytestLoad(t *testing.T, sites string) *caddytest.Tester {
	t.Helper()
	storage := t.TempDir()
	t.Cleanup(func() {
		// Registered before InitServer's own cleanup, so that this runs after it has printed a
		// failed test's configuration.
		body := fmt.Sprintf(`{"admin":{"listen":"localhost:%d","config":{"persist":false}}}`, caddytestAdmin)
		resp, err := http.Post(fmt.Sprintf("http://localhost:%d/load", caddytestAdmin), "application/json", strings.NewReader(body))
		if err != nil {
			t.Errorf("unloading the sites: %v", err)
			return
		}
		resp.Body.Close()
	})
	global := fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	auto_https off
	persist_config off
	grace_period 1s
	storage file_system %s
}
`, caddytestAdmin, caddytestHTTP, caddytestHTTPS, storage)
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: caddytestAdmin})
	tester.InitServer(global+strings.ReplaceAll(sites, "PORT", strconv.Itoa(caddytestHTTP)), "caddyfile")
	if t.Failed() {
		t.FailNow() // InitServer only marks the test failed; nothing below would mean anything
	}
	return tester
}

// caddytestURL is the URL of path on host at the in-process Caddy's HTTP port.
func caddytestURL(host, path string) string {
	return "http://" + host + ":" + strconv.Itoa(caddytestHTTP) + path
}

// caddytestSend sends a request with headers ("Name: value") and body (JSON when not empty)
// and returns the response, whose body has been read.
func caddytestSend(t *testing.T, tester *caddytest.Tester, method, url, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	resp, err := tester.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// caddytestExpect fails the test unless resp has status and, when body is not "", that body.
func caddytestExpect(t *testing.T, what string, resp *http.Response, got string, status int, body string) {
	t.Helper()
	if resp.StatusCode != status || body != "" && got != body {
		t.Errorf("%s: got %d %s, want %d %s", what, resp.StatusCode, got, status, body)
	}
}

// caddytestLogin logs user in at the issuer under base on host and returns the access and
// refresh tokens.
func caddytestLogin(t *testing.T, tester *caddytest.Tester, host, base, user, password string) (access, refresh string) {
	t.Helper()
	resp, body := caddytestSend(t, tester, http.MethodPost, caddytestURL(host, base+"/"),
		fmt.Sprintf(`{"username":%q,"password":%q}`, user, password))
	var pair struct{ Access, Refresh string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &pair) != nil || pair.Access == "" || pair.Refresh == "" {
		t.Fatalf("login of %s at %s: %d %s, want 200 with an access and a refresh token", user, host, resp.StatusCode, body)
	}
	return pair.Access, pair.Refresh
}

// The bodies of jwt_auth's refusals (simplejwt's shapes).
const (
	caddytestNoToken  = `{"detail":"Authentication credentials were not provided."}`
	caddytestInvalid  = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`
	caddytestWrongTyp = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}`
)

// TestCaddytestJWTAuthGuardsRespond: a route with jwt_auth and a secret answers 401 with a
// Bearer challenge without a token or with a bad one, and lets a good one through to respond,
// which sees the user.
func TestCaddytestJWTAuthGuardsRespond(t *testing.T) {
	tester := caddytestLoad(t, `
http://localhost:PORT {
	jwt_auth {
		secret `+testSecret+`
	}
	respond "hello {http.auth.user.id}"
}`)
	url := caddytestURL("localhost", "/")
	resp, body := caddytestSend(t, tester, http.MethodGet, url, "")
	caddytestExpect(t, "no token", resp, body, http.StatusUnauthorized, caddytestNoToken)
	if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="api"` {
		t.Errorf("no token: WWW-Authenticate %q", got)
	}
	tok := hsToken(`"sub":"alice"`)
	resp, body = caddytestSend(t, tester, http.MethodGet, url, "", "Authorization: Bearer "+tok)
	caddytestExpect(t, "a good token", resp, body, http.StatusOK, "hello alice")
	resp, body = caddytestSend(t, tester, http.MethodGet, url, "", "Authorization: Bearer "+signHS256("another-secret-another-secret-01", `{"alg":"HS256"}`, claims(`"sub":"alice"`)))
	caddytestExpect(t, "a token signed with another secret", resp, body, http.StatusUnauthorized, caddytestInvalid)
}

// TestCaddytestZeroConfigIssuer: in one site, a jwt_issuer and a jwt_auth without keys are all
// it takes: the user logs in, the access token opens the protected route, the refresh token
// does not, and the rest of the site stays public.
func TestCaddytestZeroConfigIssuer(t *testing.T) {
	tester := caddytestLoad(t, `
http://localhost:PORT {
	jwt_issuer /api/token/* {
		user alice `+aliceHash+`
	}
	jwt_auth /private/*
	respond /private/* "private {http.auth.user.id}"
	respond "public"
}`)
	access, refresh := caddytestLogin(t, tester, "localhost", "/api/token", "alice", "alice-pw")
	private := caddytestURL("localhost", "/private/")
	resp, body := caddytestSend(t, tester, http.MethodGet, private, "", "Authorization: Bearer "+access)
	caddytestExpect(t, "the access token", resp, body, http.StatusOK, "private alice")
	resp, body = caddytestSend(t, tester, http.MethodGet, private, "", "Authorization: Bearer "+refresh)
	caddytestExpect(t, "the refresh token as an access token", resp, body, http.StatusUnauthorized, caddytestWrongTyp)
	resp, body = caddytestSend(t, tester, http.MethodGet, private, "")
	caddytestExpect(t, "no token", resp, body, http.StatusUnauthorized, caddytestNoToken)
	resp, body = caddytestSend(t, tester, http.MethodGet, caddytestURL("localhost", "/"), "")
	caddytestExpect(t, "a public page", resp, body, http.StatusOK, "public")
	resp, body = caddytestSend(t, tester, http.MethodPost, caddytestURL("localhost", "/api/token/"), `{"username":"alice","password":"wrong"}`)
	caddytestExpect(t, "a wrong password", resp, body, http.StatusUnauthorized, `{"detail":"No active account found with the given credentials"}`)
}

// TestCaddytestCORSPreflight: with a cors block, jwt_auth answers a preflight from an allowed
// origin itself (204 and the CORS headers, no token needed), refuses one from another origin
// (403, no CORS headers), and marks its refusals to an allowed origin so the page can read
// them.
func TestCaddytestCORSPreflight(t *testing.T) {
	tester := caddytestLoad(t, `
http://localhost:PORT {
	jwt_auth {
		secret `+testSecret+`
		cors {
			origins https://app.example
		}
	}
	respond "ok"
}`)
	url := caddytestURL("localhost", "/")
	preflight := func(origin string) []string {
		return []string{"Origin: " + origin, "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: Authorization"}
	}
	resp, body := caddytestSend(t, tester, http.MethodOptions, url, "", preflight("https://app.example")...)
	caddytestExpect(t, "a preflight from the allowed origin", resp, body, http.StatusNoContent, "")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Errorf("allowed preflight: Access-Control-Allow-Origin %q", got)
	}
	if got := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") {
		t.Errorf("allowed preflight: Access-Control-Allow-Methods %q", got)
	}
	resp, body = caddytestSend(t, tester, http.MethodOptions, url, "", preflight("https://evil.example")...)
	caddytestExpect(t, "a preflight from another origin", resp, body, http.StatusForbidden, "")
	if !strings.Contains(body, `"cors_refused"`) || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("refused preflight: body %s, Access-Control-Allow-Origin %q", body, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp, body = caddytestSend(t, tester, http.MethodGet, url, "", "Origin: https://app.example")
	caddytestExpect(t, "a request without a token from the allowed origin", resp, body, http.StatusUnauthorized, caddytestNoToken)
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Errorf("refusal to the allowed origin: Access-Control-Allow-Origin %q", got)
	}
}

// TestCaddytestSitesIssuersDoNotCross: two sites, each with its own named issuer and the same
// user: each site's jwt_auth without keys trusts only its own site's issuer, so a token from one
// site is refused by the other, and the other's issuer neither verifies nor refreshes it.
func TestCaddytestSitesIssuersDoNotCross(t *testing.T) {
	site := func(host, name string) string {
		return `
http://` + host + `:PORT {
	jwt_issuer /api/token/* {
		name ` + name + `
		user alice ` + aliceHash + `
	}
	jwt_auth /private/*
	respond /private/* "` + name + ` {http.auth.user.id}"
}`
	}
	tester := caddytestLoad(t, site("a.localhost", "site-a")+site("b.localhost", "site-b"))
	tokens := map[string][2]string{}
	for _, host := range []string{"a.localhost", "b.localhost"} {
		access, refresh := caddytestLogin(t, tester, host, "/api/token", "alice", "alice-pw")
		tokens[host] = [2]string{access, refresh}
	}
	for from, other := range map[string]string{"a.localhost": "b.localhost", "b.localhost": "a.localhost"} {
		access, refresh := tokens[from][0], tokens[from][1]
		name := "site-" + from[:1]
		resp, body := caddytestSend(t, tester, http.MethodGet, caddytestURL(from, "/private/"), "", "Authorization: Bearer "+access)
		caddytestExpect(t, from+"'s token at "+from, resp, body, http.StatusOK, name+" alice")
		resp, body = caddytestSend(t, tester, http.MethodGet, caddytestURL(other, "/private/"), "", "Authorization: Bearer "+access)
		caddytestExpect(t, from+"'s token at "+other, resp, body, http.StatusUnauthorized, caddytestInvalid)
		resp, body = caddytestSend(t, tester, http.MethodPost, caddytestURL(other, "/api/token/verify/"), fmt.Sprintf(`{"token":%q}`, access))
		caddytestExpect(t, from+"'s token verified at "+other, resp, body, http.StatusUnauthorized, "")
		resp, body = caddytestSend(t, tester, http.MethodPost, caddytestURL(other, "/api/token/refresh/"), fmt.Sprintf(`{"refresh":%q}`, refresh))
		caddytestExpect(t, from+"'s refresh token at "+other, resp, body, http.StatusUnauthorized, "")
	}
}
