package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// djangoSecret is the Django app's SECRET_KEY and simplejwt SIGNING_KEY, shared with Gatehouse.
const djangoSecret = "django-and-gatehouse-share-this-secret-0123456789"

// djangoApp is the simplejwt project of testdata/django served by gunicorn on loopback.
type djangoApp struct {
	// URL is http://127.0.0.1:<port>, without a trailing slash.
	URL string
}

// startDjango creates a fresh sqlite database in a temporary directory (migrate, then user
// alice, id 1, password alice-pw), starts gunicorn on a free loopback port and stops it when the
// test ends.
func startDjango(t *testing.T) *djangoApp {
	t.Helper()
	requireDebianDjango(t)
	project, err := filepath.Abs(filepath.Join("testdata", "django"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := djangoEnv(dir, project)

	manage := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, debianPython, append([]string{filepath.Join(project, "manage.py")}, args...)...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("manage.py %s: %v\n%s", args[0], err, out)
		}
	}
	manage("migrate", "--noinput")
	manage("shell", "-c", "import gatehouse_test.setup_users")

	addr := startGunicorn(t, project, "gatehouse_test.wsgi:application", dir, env, "/api/whoami/", http.StatusUnauthorized)
	app := &djangoApp{URL: "http://" + addr}
	return app
}

// djangoEnv is the environment of the Django commands: the test's, without Python settings that
// could point the Debian interpreter elsewhere, plus the app's settings. No bytecode is written
// into testdata.
func djangoEnv(dir, project string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PYTHON") || strings.HasPrefix(name, "DJANGO_") || name == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+dir,
		"PYTHONPATH="+project,
		"PYTHONDONTWRITEBYTECODE=1",
		"DJANGO_SETTINGS_MODULE=gatehouse_test.settings",
		"GATEHOUSE_DJANGO_SECRET="+djangoSecret,
		"GATEHOUSE_DJANGO_DB="+filepath.Join(dir, "db.sqlite3"),
		"GATEHOUSE_DJANGO_PASSWORD=alice-pw",
	)
}

// startDjangoAndCaddy starts the Django app and a Caddy whose jwt_issuer at /gh/token/ signs
// with the app's secret (alice, user id 1), whose /protected/* is behind jwt_auth with the same
// secret, and which proxies everything else to the app.
func startDjangoAndCaddy(t *testing.T) (*djangoApp, *caddyServer) {
	t.Helper()
	app := startDjango(t)
	srv := startCaddy(t, `
	jwt_issuer /gh/token/* {
		user alice `+aliceHash+` {
			claim user_id 1
		}
		signing_key secret {env.GATEHOUSE_SHARED}
	}
	handle /protected/* {
		jwt_auth {
			secret {env.GATEHOUSE_SHARED}
		}
		respond "hello {http.auth.user.id}"
	}
	reverse_proxy `+strings.TrimPrefix(app.URL, "http://"), "GATEHOUSE_SHARED="+djangoSecret)
	return app, srv
}

// TestDjangoAcceptsGatehouseTokens: tokens from jwt_issuer with the app's SIGNING_KEY are
// accepted by simplejwt's JWTAuthentication, directly and through Caddy's proxy; refresh tokens
// go both ways between the two refresh endpoints.
func TestDjangoAcceptsGatehouseTokens(t *testing.T) {
	t.Parallel()
	app, srv := startDjangoAndCaddy(t)
	access, refresh := tokens(t, postJSON(t, srv.URL+"/gh/token/", credentials("alice", "alice-pw")))
	const whoami = `{"user_id":1,"username":"alice"}`

	expect(t, "Gatehouse access token at Django", get(t, app.URL+"/api/whoami/", bearer(access)), http.StatusOK, whoami)
	expect(t, "through Caddy", get(t, srv.URL+"/api/whoami/", bearer(access)), http.StatusOK, whoami)
	expect(t, "Gatehouse refresh token as access at Django", get(t, app.URL+"/api/whoami/", bearer(refresh)), http.StatusUnauthorized,
		`{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}`)

	fromRefresh, _ := tokens(t, postJSON(t, srv.URL+"/gh/token/refresh/", tokenField("refresh", refresh)))
	expect(t, "access token from Gatehouse's refresh at Django", get(t, app.URL+"/api/whoami/", bearer(fromRefresh)), http.StatusOK, whoami)
	djAccess, _ := tokens(t, postJSON(t, app.URL+"/api/token/refresh/", tokenField("refresh", refresh)))
	expect(t, "Django refreshes Gatehouse's refresh token", get(t, app.URL+"/api/whoami/", bearer(djAccess)), http.StatusOK, whoami)

	_, djRefresh := tokens(t, postJSON(t, app.URL+"/api/token/", credentials("alice", "alice-pw")))
	ghAccess, _ := tokens(t, postJSON(t, srv.URL+"/gh/token/refresh/", tokenField("refresh", djRefresh)))
	expect(t, "Gatehouse refreshes Django's refresh token", get(t, app.URL+"/api/whoami/", bearer(ghAccess)), http.StatusOK, whoami)
}

// TestGatehouseAcceptsDjangoTokens: tokens from simplejwt's TokenObtainPairView are accepted by
// jwt_auth with the same secret, and its refresh tokens are refused as access tokens with
// exactly the answer simplejwt's JWTAuthentication gives.
func TestGatehouseAcceptsDjangoTokens(t *testing.T) {
	t.Parallel()
	app, srv := startDjangoAndCaddy(t)
	access, refresh := tokens(t, postJSON(t, app.URL+"/api/token/", credentials("alice", "alice-pw")))

	expect(t, "Django access token at jwt_auth", get(t, srv.URL+"/protected/x", bearer(access)), http.StatusOK, "hello 1")

	for _, tok := range []struct{ what, tok string }{
		{"Django refresh token as access", refresh},
		{"garbage", "not.a.token"},
		{"no token", ""},
	} {
		var headers []string
		if tok.tok != "" {
			headers = append(headers, bearer(tok.tok))
		}
		ours := get(t, srv.URL+"/protected/x", headers...)
		theirs := get(t, app.URL+"/api/whoami/", headers...)
		if ours.Status != http.StatusUnauthorized || ours.Status != theirs.Status || ours.Body != theirs.Body {
			t.Errorf("%s: jwt_auth %d %s\nDjango %d %s", tok.what, ours.Status, ours.Body, theirs.Status, theirs.Body)
		}
		if !strings.HasPrefix(ours.Header.Get("WWW-Authenticate"), theirs.Header.Get("WWW-Authenticate")) {
			t.Errorf("%s: WWW-Authenticate %q does not extend Django's %q", tok.what,
				ours.Header.Get("WWW-Authenticate"), theirs.Header.Get("WWW-Authenticate"))
		}
	}
}

// TestIssuerDifferentialDjango sends the same requests to simplejwt's views and to jwt_issuer and
// compares status, JSON body, WWW-Authenticate and Content-Type. Each side gets tokens of its
// own. Known, deliberate differences are listed with both answers.
func TestIssuerDifferentialDjango(t *testing.T) {
	t.Parallel()
	app, srv := startDjangoAndCaddy(t)
	type side struct {
		name, base       string
		access, refresh  string
		refreshToRevoke  string
		accessForRefresh string
	}
	sides := []*side{{name: "Django", base: app.URL + "/api/token"}, {name: "Gatehouse", base: srv.URL + "/gh/token"}}
	for _, s := range sides {
		s.access, s.refresh = tokens(t, postJSON(t, s.base+"/", credentials("alice", "alice-pw")))
		_, s.refreshToRevoke = tokens(t, postJSON(t, s.base+"/", credentials("alice", "alice-pw")))
	}

	type request struct {
		method, path, contentType string
		body                      func(s *side) string
	}
	fixed := func(b string) func(*side) string { return func(*side) string { return b } }
	jsonReq := func(path string, body func(*side) string) request {
		return request{http.MethodPost, path, "application/json", body}
	}
	tests := []struct {
		name string
		req  request
		// want is the status both must answer; for a deliberate difference, djangoWant and
		// gatehouseWant hold each side's (status, body).
		want          int
		differs       bool
		djangoWant    [2]string
		gatehouseWant [2]string
	}{
		{name: "wrong password", req: jsonReq("/", fixed(credentials("alice", "nope"))), want: 401},
		{name: "unknown user", req: jsonReq("/", fixed(credentials("mallory", "nope"))), want: 401},
		{name: "wrong password, form", req: request{http.MethodPost, "/", "application/x-www-form-urlencoded", fixed(form("alice", "nope"))}, want: 401},
		{name: "empty body", req: jsonReq("/", fixed(`{}`)), want: 400},
		{name: "password missing", req: jsonReq("/", fixed(`{"username":"alice"}`)), want: 400},
		{name: "blank username", req: jsonReq("/", fixed(`{"username":"","password":"x"}`)), want: 400},
		{name: "username not a string", req: jsonReq("/", fixed(`{"username":{},"password":"x"}`)), want: 400},
		{name: "username a number", req: jsonReq("/", fixed(`{"username":5,"password":"x"}`)), want: 401},
		{name: "text/plain", req: request{http.MethodPost, "/", "text/plain", fixed("username=alice")}, want: 415},
		{name: "GET", req: request{http.MethodGet, "/", "", fixed("")}, want: 405},
		{name: "refresh without token", req: jsonReq("/refresh/", fixed(`{}`)), want: 400},
		{name: "refresh with an access token", req: jsonReq("/refresh/", func(s *side) string { return tokenField("refresh", s.access) }), want: 401},
		{name: "refresh with garbage", req: jsonReq("/refresh/", fixed(tokenField("refresh", "xx"))), want: 401},
		{name: "verify garbage", req: jsonReq("/verify/", fixed(tokenField("token", "xx"))), want: 401},
		{name: "verify without token", req: jsonReq("/verify/", fixed(`{}`)), want: 400},
		{name: "verify an access token", req: jsonReq("/verify/", func(s *side) string { return tokenField("token", s.access) }), want: 200},
		{name: "verify a refresh token", req: jsonReq("/verify/", func(s *side) string { return tokenField("token", s.refresh) }), want: 200},
		{name: "blacklist an access token", req: jsonReq("/blacklist/", func(s *side) string { return tokenField("refresh", s.access) }), want: 401},
		{name: "blacklist", req: jsonReq("/blacklist/", func(s *side) string { return tokenField("refresh", s.refreshToRevoke) }), want: 200},
		{name: "refresh a blacklisted token", req: jsonReq("/refresh/", func(s *side) string { return tokenField("refresh", s.refreshToRevoke) }), want: 401},
		{name: "blacklist again", req: jsonReq("/blacklist/", func(s *side) string { return tokenField("refresh", s.refreshToRevoke) }), want: 401},
		// simplejwt's verify looks at the blacklist only with BLACKLIST_AFTER_ROTATION (off by
		// default); Gatehouse's always does: a logged-out session does not verify.
		{name: "verify a blacklisted refresh token", req: jsonReq("/verify/", func(s *side) string { return tokenField("token", s.refreshToRevoke) }),
			differs: true, djangoWant: [2]string{"200", `{}`}, gatehouseWant: [2]string{"401", bodyBlacklisted}},
	}
	for _, tt := range tests {
		// Sequential: blacklisting changes what later requests see.
		var got [2]response
		for i, s := range sides {
			url := s.base + tt.req.path
			if tt.req.method == http.MethodGet {
				got[i] = get(t, url)
			} else {
				got[i] = post(t, url, tt.req.contentType, tt.req.body(s))
			}
		}
		dj, gh := got[0], got[1]
		if tt.differs {
			for i, want := range [][2]string{tt.djangoWant, tt.gatehouseWant} {
				if fmt.Sprint(got[i].Status) != want[0] || got[i].Body != want[1] {
					t.Errorf("%s (%s): %d %s, want %s %s", tt.name, sides[i].name, got[i].Status, got[i].Body, want[0], want[1])
				}
			}
			continue
		}
		if dj.Status != tt.want || gh.Status != tt.want || dj.Body != gh.Body {
			t.Errorf("%s:\n  Django    %d %s\n  Gatehouse %d %s\n  want %d and the same body", tt.name, dj.Status, dj.Body, gh.Status, gh.Body, tt.want)
			continue
		}
		if a, b := dj.Header.Get("WWW-Authenticate"), gh.Header.Get("WWW-Authenticate"); a != b {
			t.Errorf("%s: WWW-Authenticate Django %q, Gatehouse %q", tt.name, a, b)
		}
		if a, b := dj.Header.Get("Content-Type"), gh.Header.Get("Content-Type"); a != b {
			t.Errorf("%s: Content-Type Django %q, Gatehouse %q", tt.name, a, b)
		}
		if tt.want == 200 && !json.Valid([]byte(gh.Body)) {
			t.Errorf("%s: body %q is not JSON", tt.name, gh.Body)
		}
	}

	// Malformed JSON: the same status and the start of DRF's message; the rest is the parser's
	// own wording (Python's json module, Go's).
	for _, s := range sides {
		r := post(t, s.base+"/", "application/json", `{"username":`)
		if r.Status != http.StatusBadRequest || !strings.HasPrefix(r.Body, `{"detail":"JSON parse error - `) {
			t.Errorf("malformed JSON at %s: %d %s", s.name, r.Status, r.Body)
		}
	}
}
