package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// exampleApp is the example Django app of examples/django, served by Debian's gunicorn on a free
// loopback port with its own sqlite database in a temporary directory.
type exampleApp struct {
	// Addr is 127.0.0.1:<port>, what GATEHOUSE_APP and the Caddyfiles' upstream address take.
	Addr string
	// URL is http://<Addr>, without a trailing slash.
	URL string

	project string
	dir     string
	env     []string
}

// startExampleApp starts gunicorn serving examples/django with secret as GATEHOUSE_SECRET (the
// key simplejwt verifies with), waits until the app answers and stops it when the test ends,
// printing its output if the test failed. The database is not migrated: views that need it call
// manage("migrate") first.
func startExampleApp(t *testing.T, secret string) *exampleApp {
	t.Helper()
	requireDebianDjango(t)
	project, err := filepath.Abs(filepath.Join("..", "examples", "django"))
	if err != nil {
		t.Fatal(err)
	}
	app := &exampleApp{project: project, dir: t.TempDir()}
	app.env = exampleAppEnv(app.dir, secret)
	// As the README runs it: gunicorn --chdir examples/django exampleapp.wsgi, on loopback only.
	app.Addr = startGunicorn(t, project, "exampleapp.wsgi", app.dir, app.env, "/api/whoami/", http.StatusOK)
	app.URL = "http://" + app.Addr
	return app
}

// exampleAppEnv is the app's environment: the test's, without settings that could point the
// Debian interpreter or the app elsewhere, plus the app's own. No bytecode is written into
// examples/.
func exampleAppEnv(dir, secret string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PYTHON") || strings.HasPrefix(name, "DJANGO_") ||
			strings.HasPrefix(name, "GATEHOUSE_") || strings.HasPrefix(name, "EXAMPLEAPP_") || name == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return append(env,
		"HOME="+dir,
		"PYTHONDONTWRITEBYTECODE=1",
		"DJANGO_SECRET_KEY="+hex.EncodeToString(key),
		"DJANGO_DB_PATH="+filepath.Join(dir, "db.sqlite3"),
		"GATEHOUSE_SECRET="+secret,
	)
}

// manage runs examples/django/manage.py with args in the app's environment plus env, stdin as
// standard input, and returns its output.
func (a *exampleApp) manage(t *testing.T, stdin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython, append([]string{filepath.Join(a.project, "manage.py")}, args...)...)
	cmd.Dir, cmd.Env = a.dir, append(slices.Clip(a.env), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("manage.py %s: %v\n%s", args[0], err, out)
	}
	return string(out)
}

// exampleSite is the body of the one site block (http://localhost:8080) of a Caddyfile of the
// repository, rel its path from the repository root, with `root * examples/site` made absolute
// (the tests run caddy in a temporary directory).
func exampleSite(t *testing.T, rel string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	const site = "http://localhost:8080 {"
	start := strings.Index(text, site)
	end := strings.LastIndex(text, "}")
	if start < 0 || end < start {
		t.Fatalf("%s no longer has the %s site block", rel, site)
	}
	return strings.Replace(text[start+len(site):end], "root * examples/site", "root * "+filepath.Join(root, "examples", "site"), 1)
}

// appWhoamiAnswer is the example app's /api/whoami/ answer.
type appWhoamiAnswer struct {
	UserID  *string  `json:"user_id"`
	Cookies []string `json:"cookies"`
}

// appWhoami decodes a 200 /api/whoami/ answer.
func appWhoami(t *testing.T, what string, r response) appWhoamiAnswer {
	t.Helper()
	var w appWhoamiAnswer
	if r.Status != http.StatusOK {
		t.Fatalf("%s: %d %s, want 200 from the app", what, r.Status, r.Body)
	}
	if err := json.Unmarshal([]byte(r.Body), &w); err != nil {
		t.Fatalf("%s: %q: %v", what, r.Body, err)
	}
	return w
}

// userOf is the user id the app saw, "<none>" for null.
func (w appWhoamiAnswer) userOf() string {
	if w.UserID == nil {
		return "<none>"
	}
	return *w.UserID
}

// sendRaw sends a request with body (none when "") and headers ("Name: value") set exactly as
// written, without Go's canonical capitalisation, so that header spellings reach Caddy as a
// client sent them.
func sendRaw(t *testing.T, method, url, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ": ")
		if !ok {
			t.Fatalf("bad test header %q", h)
		}
		req.Header[name] = append(req.Header[name], value)
	}
	return roundTrip(t, req)
}

// setCookies are the cookies a response sets, by name.
func setCookies(r response) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		out[c.Name] = c
	}
	return out
}

// servedByApp reports whether the response's Server headers name the app server (gunicorn), which
// reverse_proxy passes on and Caddy's own handlers never send.
func servedByApp(r response) bool {
	return slices.ContainsFunc(r.Header.Values("Server"), func(v string) bool { return strings.Contains(v, "gunicorn") })
}

// TestProductionExample runs Caddyfile.example's site block as it is, in front of the example
// Django app under gunicorn, and checks what the production setup promises: Caddy serves the
// static files itself, refuses protected paths without a login, passes API requests to the app
// with the user in X-User-Id (which no client can set, however it spells the header) and with
// their bodies intact, and, with browser sessions, lets a cookie log-in reach the app without the
// refresh cookie ever doing so.
func TestProductionExample(t *testing.T) {
	t.Parallel()
	app := startExampleApp(t, testSecret)
	srv := startCaddy(t, exampleSite(t, "Caddyfile.example"), "GATEHOUSE_SECRET="+testSecret, "GATEHOUSE_APP="+app.Addr)

	t.Run("static files come from Caddy, not the app", func(t *testing.T) {
		for _, path := range []string{"/", "/style.css"} {
			r := get(t, srv.URL+path)
			if r.Status != http.StatusOK || servedByApp(r) {
				t.Errorf("GET %s: %d, Server %q; want 200 from Caddy's file_server", path, r.Status, r.Header.Values("Server"))
			}
		}
		if r := get(t, srv.URL+"/"); !strings.Contains(r.Body, "<h1>Gatehouse demo</h1>") {
			t.Errorf("GET /: not examples/site/index.html: %.200q", r.Body)
		}
	})

	t.Run("protected paths without a login", func(t *testing.T) {
		for _, path := range []string{"/private/", "/private", "/api/whoami/"} {
			expect(t, "API-style GET "+path, get(t, srv.URL+path), http.StatusUnauthorized, bodyMissing)
		}
		r := get(t, srv.URL+"/private/", "Accept: text/html,application/xhtml+xml")
		if r.Status != http.StatusFound || r.Header.Get("Location") != "/api/token/login?next=%2Fprivate%2F" {
			t.Errorf("browser GET /private/: %d Location %q, want 302 to the login page", r.Status, r.Header.Get("Location"))
		}
		// A client-set identity without a token reaches nothing.
		expect(t, "spoofed X-User-Id alone", sendRaw(t, http.MethodGet, srv.URL+"/api/whoami/", "", "X-User-Id: 1"), http.StatusUnauthorized, bodyMissing)
	})

	access, refresh := tokens(t, post(t, srv.URL+"/api/token/", "application/x-www-form-urlencoded", form("demo", "gatehouse-demo")))

	t.Run("API login, then the app sees the user", func(t *testing.T) {
		r := get(t, srv.URL+"/api/whoami/", bearer(access))
		if w := appWhoami(t, "whoami", r); w.userOf() != "1" || len(w.Cookies) != 0 || !servedByApp(r) {
			t.Errorf("whoami with the access token: %s (Server %q), want user 1 from the app", r.Body, r.Header.Values("Server"))
		}
		expect(t, "refresh token as access", get(t, srv.URL+"/api/whoami/", bearer(refresh)), http.StatusUnauthorized, bodyWrongType)
		if r := get(t, srv.URL+"/private/", bearer(access)); r.Status != http.StatusOK || !strings.Contains(r.Body, "<h1>Private page</h1>") {
			t.Errorf("private page with the access token: %d", r.Status)
		}
	})

	// gunicorn (before 22) folds "-" and "_" together, so X_User_Id would arrive as X-User-Id
	// (joined to the real one with a comma); Caddy drops header names with "_" or "." unless the
	// server's expected_underscore_headers / expected_dot_headers allow them, and jwt_auth removes
	// any X-User-Id the client sent.
	t.Run("client-sent identity headers never reach the app", func(t *testing.T) {
		spoofs := []string{"X-User-Id", "x-user-id", "X-USER-ID", "X_User_Id", "x_user_id", "X-User_Id", "X_USER-ID", "X.User.Id"}
		for _, name := range spoofs {
			w := appWhoami(t, name, sendRaw(t, http.MethodGet, srv.URL+"/api/whoami/", "", bearer(access), name+": 999"))
			if w.userOf() != "1" {
				t.Errorf("with a client-sent %q: the app saw user %q, want \"1\"", name, w.userOf())
			}
		}
		var all []string
		for _, name := range spoofs {
			all = append(all, name+": 999")
		}
		w := appWhoami(t, "all at once", sendRaw(t, http.MethodGet, srv.URL+"/api/whoami/", "", append(all, bearer(access))...))
		if w.userOf() != "1" {
			t.Errorf("with every spelling at once: the app saw user %q, want \"1\"", w.userOf())
		}
	})

	t.Run("request bodies reach the app intact", func(t *testing.T) {
		body := "line one\r\nline two: ünïcödé ✓\n" + strings.Repeat("0123456789abcdef", 8<<10) + "\x00end"
		r := sendRaw(t, http.MethodPost, srv.URL+"/api/echo/", body, bearer(access), "Content-Type: text/plain; charset=utf-8")
		var got struct {
			UserID string `json:"user_id"`
			Body   string `json:"body"`
		}
		if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &got) != nil || got.UserID != "1" || got.Body != body {
			t.Errorf("POST /api/echo/: %d, user %q, body intact %v (%d of %d bytes)", r.Status, got.UserID, got.Body == body, len(got.Body), len(body))
		}
	})

	t.Run("browser session", func(t *testing.T) {
		origin := "Origin: " + srv.URL
		loginForm := url.Values{"username": {"demo"}, "password": {"gatehouse-demo"}, "next": {"/private/"}}.Encode()
		const formType = "Content-Type: application/x-www-form-urlencoded"

		r := sendRaw(t, http.MethodPost, srv.URL+"/api/token/login", loginForm, formType, "Origin: https://evil.example")
		if r.Status != http.StatusForbidden || len(setCookies(r)) != 0 {
			t.Errorf("cross-site login: %d, cookies %v; want 403 and none", r.Status, setCookies(r))
		}
		r = sendRaw(t, http.MethodPost, srv.URL+"/api/token/login", loginForm, formType, origin)
		cookies := setCookies(r)
		ac, rc := cookies["gatehouse_access"], cookies["gatehouse_refresh"]
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/private/" || ac == nil || rc == nil {
			t.Fatalf("login form: %d Location %q, cookies %v; want 303 to /private/ with both cookies", r.Status, r.Header.Get("Location"), cookies)
		}
		if !ac.HttpOnly || !rc.HttpOnly || ac.SameSite != http.SameSiteLaxMode || rc.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie attributes: access %+v, refresh %+v", ac, rc)
		}
		both := "Cookie: gatehouse_access=" + ac.Value + "; gatehouse_refresh=" + rc.Value + "; theme=dark"

		// The page and the API with the cookies; the app gets the access cookie (and the
		// site's own), never the refresh cookie.
		r = sendRaw(t, http.MethodGet, srv.URL+"/private/", "", both, "Accept: text/html")
		for _, want := range []string{"<h1>Private page</h1>", `<p id="user">`, "fetch('/api/whoami/'", `action="/api/token/logout"`, `id="logout"`} {
			if r.Status != http.StatusOK || !strings.Contains(r.Body, want) {
				t.Errorf("private page with the session: %d, want 200 with %s", r.Status, want)
			}
		}
		w := appWhoami(t, "whoami with the session", sendRaw(t, http.MethodGet, srv.URL+"/api/whoami/", "", both, "X_User_Id: 999"))
		if w.userOf() != "1" || !slices.Equal(w.Cookies, []string{"gatehouse_access", "theme"}) {
			t.Errorf("whoami with the session: user %q, cookies %q; want user 1 and [gatehouse_access theme]", w.userOf(), w.Cookies)
		}

		// A state-changing request on the cookie must come from the site's own pages.
		r = sendRaw(t, http.MethodPost, srv.URL+"/api/echo/", "from a form", both, "Origin: https://evil.example")
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, `"code":"cross_site_request"`) {
			t.Errorf("cross-site POST with the cookie: %d %s, want 403 cross_site_request", r.Status, r.Body)
		}
		r = sendRaw(t, http.MethodPost, srv.URL+"/api/echo/", "from the page", both, origin)
		if r.Status != http.StatusOK || !strings.Contains(r.Body, `"body":"from the page"`) || !strings.Contains(r.Body, `"user_id":"1"`) {
			t.Errorf("same-origin POST with the cookie: %d %s", r.Status, r.Body)
		}

		// Only the refresh cookie (the access cookie expired in the browser): renewed in-line.
		r = sendRaw(t, http.MethodGet, srv.URL+"/api/whoami/", "", "Cookie: gatehouse_refresh="+rc.Value)
		w = appWhoami(t, "whoami with only the refresh cookie", r)
		renewed := setCookies(r)
		if w.userOf() != "1" || slices.Contains(w.Cookies, "gatehouse_refresh") || renewed["gatehouse_access"] == nil || renewed["gatehouse_refresh"] == nil {
			t.Errorf("renewal: user %q, app cookies %q, set %v; want user 1, no refresh cookie upstream, both cookies renewed", w.userOf(), w.Cookies, renewed)
		}
		if renewed["gatehouse_refresh"] == nil {
			return
		}
		next := renewed["gatehouse_refresh"].Value

		// Logout ends the session: the refresh cookie renews nothing afterwards.
		r = sendRaw(t, http.MethodPost, srv.URL+"/api/token/logout", "", "Cookie: gatehouse_refresh="+next, origin)
		if cleared := setCookies(r); r.Status != http.StatusSeeOther || cleared["gatehouse_refresh"] == nil || cleared["gatehouse_refresh"].MaxAge >= 0 {
			t.Errorf("logout: %d, cookies %v; want 303 clearing the cookies", r.Status, cleared)
		}
		expect(t, "whoami with the logged-out refresh cookie", sendRaw(t, http.MethodGet, srv.URL+"/api/whoami/", "", "Cookie: gatehouse_refresh="+next),
			http.StatusUnauthorized, "")
	})
}

// TestProductionDjangoUsers runs examples/django-users/Caddyfile in front of the example app:
// Django keeps the users, jwt_issuer checks passwords through the app's credentials view, and the
// tokens it signs pass both jwt_auth at the edge and simplejwt in the app. The credentials view
// is never reachable from outside.
func TestProductionDjangoUsers(t *testing.T) {
	t.Parallel()
	app := startExampleApp(t, testSecret)
	app.manage(t, "", nil, "migrate", "--noinput")
	const password = "correct-horse-battery-staple"
	if out := app.manage(t, password+"\n", nil, "createuser", "alice"); !strings.Contains(out, "with id 1") {
		t.Fatalf("createuser: %s", out)
	}
	app.manage(t, "", []string{"EXAMPLEAPP_PASSWORD=another-long-password"}, "createuser", "bob")

	site := exampleSite(t, filepath.Join("examples", "django-users", "Caddyfile"))
	if n := strings.Count(site, "127.0.0.1:8000"); n != 2 {
		t.Fatalf("examples/django-users/Caddyfile names the app's address %d times, want 2 (credentials_url, reverse_proxy)", n)
	}
	srv := startCaddy(t, strings.ReplaceAll(site, "127.0.0.1:8000", app.Addr), "GATEHOUSE_SECRET="+testSecret)

	access, refresh := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("alice", password)))
	const alice = `{"user_id":1,"username":"alice"}`
	expect(t, "/api/me/ through Caddy", get(t, srv.URL+"/api/me/", bearer(access)), http.StatusOK, alice)
	// The app's own check, without Caddy in front: simplejwt accepts Gatehouse's token...
	expect(t, "/api/me/ at the app directly", get(t, app.URL+"/api/me/", bearer(access)), http.StatusOK, alice)
	// ...and refuses one that is not signed with the shared secret, as jwt_auth does.
	other := tamper(access)
	expect(t, "tampered token at the app", get(t, app.URL+"/api/me/", bearer(other)), http.StatusUnauthorized, "")
	expect(t, "tampered token through Caddy", get(t, srv.URL+"/api/me/", bearer(other)), http.StatusUnauthorized, bodyInvalid)
	expect(t, "refresh token as access", get(t, srv.URL+"/api/me/", bearer(refresh)), http.StatusUnauthorized, bodyWrongType)
	expect(t, "no token", get(t, srv.URL+"/api/me/"), http.StatusUnauthorized, bodyMissing)
	// jwt_auth forwards the user to the app as well.
	if w := appWhoami(t, "whoami", get(t, srv.URL+"/api/whoami/", bearer(access), "X-User-Id: 2")); w.userOf() != "1" {
		t.Errorf("whoami: user %q, want 1", w.userOf())
	}

	bobAccess, _ := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("bob", "another-long-password")))
	expect(t, "bob's /api/me/", get(t, srv.URL+"/api/me/", bearer(bobAccess)), http.StatusOK, `{"user_id":2,"username":"bob"}`)
	_, rotated := tokens(t, postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh)))
	if rotated == "" {
		t.Error("refresh: no rotated refresh token")
	}

	for _, c := range []struct{ what, body string }{
		{"wrong password", credentials("alice", "wrong-password")},
		{"unknown user", credentials("mallory", password)},
		{"password of another user", credentials("alice", "another-long-password")},
	} {
		expect(t, c.what, postJSON(t, srv.URL+"/api/token/", c.body), http.StatusUnauthorized, bodyBadCredentials)
	}

	// The password check answers Caddy (directly, as the test does here) but nobody outside:
	// every spelling of its path through Caddy is a 404 that never consulted the app.
	expect(t, "credentials view, directly", postJSON(t, app.URL+"/internal/credentials/", credentials("alice", password)), http.StatusOK, `{"user_id":1}`)
	for _, path := range []string{"/internal/credentials/", "/internal/credentials", "/INTERNAL/credentials/", "/%69nternal/credentials/",
		"//internal/credentials/", "/internal//credentials/", "/api/../internal/credentials/", "/./internal/credentials/"} {
		r := sendRaw(t, http.MethodPost, srv.URL+path, credentials("alice", password), "Content-Type: application/json")
		if r.Status != http.StatusNotFound || strings.Contains(r.Body, "user_id") {
			t.Errorf("POST %s from outside: %d %.100q (Server %q), want 404", path, r.Status, r.Body, r.Header.Values("Server"))
		}
	}
}
