package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// loadWhole replaces the configuration of the running s with a whole Caddyfile: the instance's
// global options plus global, then sites, which name their own addresses. startCaddy's
// Caddyfile has one site and no room for global options such as servers.
func (c *caddyInstance) loadWhole(t *testing.T, s *caddyServer, global, sites string) {
	t.Helper()
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	storage file_system %s
	auto_https off
	persist_config off
	grace_period 1s
%s
}

%s
`, c.adminPort, filepath.Join(c.dir, "storage"), global, sites)
	req, err := http.NewRequest(http.MethodPost, s.Admin+"/load", strings.NewReader(caddyfile))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Close = true // a load replaces the admin server and closes this connection
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("load: %d %s\n%s", resp.StatusCode, body, caddyfile)
	}
}

// A token header that is present but not "Bearer <token>" is refused, also on an optional
// route, and never reaches the upstream, which might read it as a token of its own (simplejwt
// splits the header on any whitespace, so Bearer<TAB>token is a token there). An upstream that
// uses Basic behind jwt_auth gets it through a route that removes the header first.
func TestRefuseMalformedAuthorization(t *testing.T) {
	t.Parallel()
	up, hits := echoUpstream(t)
	upstream := strings.TrimPrefix(up.URL, "http://")
	hash := hashPassword(t, "", "pw")
	srv := startCaddy(t, `
	handle /basic/* {
		route {
			basic_auth {
				alice `+hash+`
			}
			request_header -Authorization
			jwt_auth {
				secret `+testSecret+`
				optional
			}
			respond "basic ok {http.auth.user.id}"
		}
	}
	handle {
		jwt_auth {
			secret `+testSecret+`
			optional
			forward_claim sub X-User-Id
		}
		reverse_proxy `+upstream+`
	}`)

	alice := hs256(t, access(jwt.MapClaims{"sub": "alice"}))
	const invalid = `Bearer realm="api", error="invalid_token", error_description="`
	for _, tc := range []struct {
		name, header string
		wantAuth     string // WWW-Authenticate, or its prefix when it ends in `="`
		wantBody     string
	}{
		{"tab after the scheme", "Authorization: Bearer\t" + alice, invalid, bodyInvalid},
		{"no token", "Authorization: Bearer", invalid, bodyInvalid},
		{"two tokens", "Authorization: Bearer " + alice + " " + alice, invalid, bodyInvalid},
		{"auth-params", `Authorization: Bearer token="` + alice + `"`, invalid, bodyInvalid},
		{"scheme run into the token", "Authorization: Bearer" + alice, `Bearer realm="api"`, bodyMissing},
		{"another scheme", "Authorization: Basic YWxpY2U6cHc=", `Bearer realm="api"`, bodyMissing},
		{"another token scheme", "Authorization: JWT " + alice, `Bearer realm="api"`, bodyMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			resp := get(t, srv.URL+"/", tc.header)
			if resp.Status != http.StatusUnauthorized || resp.Body != tc.wantBody {
				t.Fatalf("got %d %q, want 401 %q", resp.Status, resp.Body, tc.wantBody)
			}
			got := resp.Header.Get("WWW-Authenticate")
			if strings.HasSuffix(tc.wantAuth, `="`) && !strings.HasPrefix(got, tc.wantAuth) ||
				!strings.HasSuffix(tc.wantAuth, `="`) && got != tc.wantAuth {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.wantAuth)
			}
			if hits.Load() != before {
				t.Error("the request reached the upstream")
			}
		})
	}

	// What passes: no header, an empty one (no credentials), a good token with spaces.
	for _, tc := range []struct {
		name, header, user string
	}{
		{"no header", "", ""},
		{"empty header", "Authorization: ", ""},
		{"several spaces", "Authorization: bearer   " + alice, "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.header != "" {
				headers = append(headers, tc.header)
			}
			if h := upstreamHeaders(t, get(t, srv.URL+"/", headers...)); h.Get("X-User-Id") != tc.user {
				t.Errorf("upstream saw X-User-Id %q, want %q", h.Get("X-User-Id"), tc.user)
			}
		})
	}

	t.Run("basic_auth in front", func(t *testing.T) {
		resp := get(t, srv.URL+"/basic/x", "Authorization: Basic "+basic("alice", "pw"))
		if resp.Status != http.StatusOK || resp.Body != "basic ok alice" {
			t.Fatalf("got %d %q, want 200 from basic_auth's user", resp.Status, resp.Body)
		}
	})
}

func basic(user, password string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, password)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// A from_query token never reaches the upstream URL, the {uri}/{query} placeholders or a
// handle_errors route; with docs/jwt_auth.md's log filter it is not in the access log either.
func TestRefuseQueryTokenLeaks(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []string
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.RequestURI)
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"uri": r.RequestURI, "user": r.Header.Get("X-User-Id")})
	}))
	t.Cleanup(up.Close)
	accessLog := filepath.Join(t.TempDir(), "access.log")
	srv := startCaddy(t, `
	log {
		output file `+accessLog+`
		format filter {
			request>uri query {
				delete access_token
			}
		}
	}
	handle /errors/* {
		jwt_auth {
			secret `+testSecret+`
			from_query access_token
		}
		respond "unreachable"
	}
	handle_errors {
		respond "error uri={uri} query={query} orig={http.request.orig_uri.query}" {http.error.status_code}
	}
	handle /direct/* {
		jwt_auth {
			secret `+testSecret+`
			from_query access_token
		}
		respond "uri={uri} query={query} access_token={query.access_token}"
	}
	handle {
		jwt_auth {
			secret `+testSecret+`
			from_query access_token
			forward_claim sub X-User-Id
		}
		reverse_proxy `+strings.TrimPrefix(up.URL, "http://")+`
	}`)

	alice := hs256(t, access(jwt.MapClaims{"sub": "alice"}))
	bad := tamper(alice)

	resp := get(t, srv.URL+"/api/x?a=%2F1&access_token="+alice+"&b=2")
	var got struct{ URI, User string }
	if err := json.Unmarshal([]byte(resp.Body), &got); resp.Status != http.StatusOK || err != nil {
		t.Fatalf("proxied: %d %q", resp.Status, resp.Body)
	}
	if got.URI != "/api/x?a=%2F1&b=2" || got.User != "alice" {
		t.Errorf("upstream saw %q as %q; want /api/x?a=%%2F1&b=2 as alice", got.URI, got.User)
	}

	resp = get(t, srv.URL+"/direct/x?access_token="+alice+"&b=2")
	if resp.Status != http.StatusOK || resp.Body != "uri=/direct/x?b=2 query=b=2 access_token=" {
		t.Errorf("placeholders: %d %q", resp.Status, resp.Body)
	}

	resp = get(t, srv.URL+"/errors/x?access_token="+bad+"&b=2")
	if resp.Status != http.StatusUnauthorized || resp.Body != "error uri=/errors/x?b=2 query=b=2 orig=b=2" {
		t.Errorf("handle_errors: %d %q", resp.Status, resp.Body)
	}

	mu.Lock()
	for _, u := range seen {
		if strings.Contains(u, "access_token") {
			t.Errorf("upstream saw %q", u)
		}
	}
	mu.Unlock()

	// Caddy writes an entry once the response is done; wait for all three.
	var text string
	if !eventually(5*time.Second, func() bool {
		b, _ := os.ReadFile(accessLog)
		text = string(b)
		return strings.Count(text, `"uri":`) >= 3
	}) {
		t.Fatalf("access log has not the 3 requests:\n%s", text)
	}
	for _, tok := range []string{alice, bad, "access_token"} {
		if strings.Contains(text, tok) {
			t.Errorf("the access log holds %q:\n%s", tok[:min(len(tok), 20)], text)
		}
	}
	if !strings.Contains(text, `"uri":"/api/x?a=%2F1&b=2"`) {
		t.Errorf("the access log lacks the filtered uri of the proxied request:\n%s", text)
	}
}

// With login_limit on and trusted_proxies without trusted_proxies_strict, the per-address limit
// counts an address the client chooses: jwt_issuer warns (at its first request, which is when
// it knows its server); with strict mode it does not.
func TestRefuseLenientProxiesWarning(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	srv := inst.start(t, `respond "starting"`)
	strictPort := freePort(t)
	issuer := func(port int, user string) string {
		return fmt.Sprintf(`http://:%d {
	jwt_issuer /api/token/* {
		name %s
		signing_key secret %s
		user %s %s
	}
}
`, port, user, testSecret, user, aliceHash)
	}
	inst.loadWhole(t, srv, fmt.Sprintf(`	servers :%d {
		trusted_proxies static 127.0.0.1/8
	}
	servers :%d {
		trusted_proxies static 127.0.0.1/8
		trusted_proxies_strict
	}`, inst.port, strictPort), issuer(inst.port, "alice")+issuer(strictPort, "strict"))

	const warning = "without trusted_proxies_strict"
	strictURL := fmt.Sprintf("http://127.0.0.1:%d", strictPort)
	for range 2 {
		expect(t, "strict login", postJSON(t, strictURL+"/api/token/", credentials("strict", "alice-pw")), http.StatusOK, "")
	}
	if log := srv.logText(t); strings.Contains(log, warning) {
		t.Fatalf("warned on the strict server:\n%s", log)
	}
	for range 2 {
		expect(t, "login", postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw")), http.StatusOK, "")
	}
	if n := strings.Count(srv.logText(t), warning); n != 1 {
		t.Errorf("%d warnings about trusted_proxies_strict, want 1:\n%s", n, srv.logText(t))
	}
}

// Error routes are looked at for this request and status: site B's handle_errors 404 leaves
// site A's 401 (and B's own 401) with jwt_auth's JSON body, while B's 404 goes to B's route.
func TestHandleErrorsTwoSites(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	srv := inst.start(t, `respond "starting"`)
	jwtSite := func(host, errors string) string {
		return fmt.Sprintf(`http://%s:%d {
	handle /api/* {
		jwt_auth {
			secret %s
		}
		respond "ok"
	}
	handle {
		error 404
	}
%s
}
`, host, inst.port, testSecret, errors)
	}
	inst.loadWhole(t, srv, "", jwtSite("a.test", "")+jwtSite("b.test", `	handle_errors 404 {
		respond "b: not found" 404
	}`)+fmt.Sprintf(`http://c.test:%d {
	jwt_auth {
		secret %s
	}
	handle_errors 401 {
		respond "c: sign in ({http.auth.jwt.error})" 401
	}
}
`, inst.port, testSecret))

	for _, tc := range []struct {
		host, path string
		status     int
		body       string
	}{
		{"a.test", "/api/x", 401, bodyMissing},
		{"b.test", "/api/x", 401, bodyMissing},
		{"b.test", "/nowhere", 404, "b: not found"},
		{"a.test", "/nowhere", 404, ""},
		{"c.test", "/", 401, "c: sign in (missing_token)"},
	} {
		resp := get(t, srv.URL+tc.path, "Host: "+tc.host)
		if resp.Status != tc.status || resp.Body != tc.body {
			t.Errorf("%s%s: %d %q, want %d %q", tc.host, tc.path, resp.Status, resp.Body, tc.status, tc.body)
		}
		if tc.status == 401 && resp.Header.Get("WWW-Authenticate") != `Bearer realm="api"` {
			t.Errorf("%s%s: WWW-Authenticate %q", tc.host, tc.path, resp.Header.Get("WWW-Authenticate"))
		}
	}
}
