package integration

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// secondFactorSite is a site whose issuer has second factors and passkeys: alice must use one,
// everybody else may; /otp/ demands a token whose amr says a one-time code was given, /any/ any token.
const secondFactorSite = `
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + `
		user bob ` + aliceHash + `
		user carol ` + aliceHash + ` {
			claim user_id 3
		}
		session
		login_limit 100 per 1m
		second_factor optional {
			user alice required
			passkeys
		}
	}
	jwt_auth /otp/* {
		require amr otp
		session /api/token
	}
	jwt_auth /any/* {
		session /api/token
	}
	respond /otp/* "otp ok"
	respond /any/* "any ok"
`

// browserClient is a client with a cookie jar that follows no redirect, and sends Origin as
// the site's own pages would.
type browserClient struct {
	t      *testing.T
	c      *http.Client
	origin string
}

func newBrowserClient(t *testing.T, origin string) *browserClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browserClient{t: t, origin: origin, c: &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browserClient) send(method, path string, vals url.Values, origin string) response {
	b.t.Helper()
	req, err := http.NewRequest(method, b.origin+path, strings.NewReader(vals.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: sb.String()}
}

func (b *browserClient) post(path string, vals url.Values) response {
	b.t.Helper()
	return b.send(http.MethodPost, path, vals, b.origin)
}

func (b *browserClient) get(path string) response {
	b.t.Helper()
	return b.send(http.MethodGet, path, nil, "")
}

// cookie returns the value of the cookie name the jar holds for path.
func (b *browserClient) cookie(path, name string) string {
	u, _ := url.Parse(b.origin + path)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// codes computes TOTP codes of a secret and never hands out one of a step already used.
type codes struct {
	t      *testing.T
	secret string
	last   int64 // the last step handed out
}

// next returns a code of the step after the last one handed out, waiting (at most a step)
// until that step is within the server's window (one step either side of now).
func (c *codes) next() string {
	c.t.Helper()
	step := c.last + 1
	for time.Now().Unix()/30+1 < step {
		time.Sleep(200 * time.Millisecond)
	}
	c.last = step
	return c.at(step)
}

func (c *codes) at(step int64) string {
	c.t.Helper()
	code, err := totp.GenerateCodeCustom(c.secret, time.Unix(step*30, 0), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		c.t.Fatal(err)
	}
	return code
}

// amrOf returns the amr claim of a JWT (not verified: the test reads what the issuer minted).
func amrOf(t *testing.T, tok string) []string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("claims %s: %v", b, err)
	}
	return c.AMR
}

var (
	secretRe   = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	recoveryRe = regexp.MustCompile(`<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>`)
)

// TestSecondFactorTOTP: a user who must have a second factor gets no tokens nor session for
// the password alone; after it, the browser is sent to enrol one (QR code and key on the page,
// confirmed by a first code), then logs in with password + code, a code is never accepted
// twice, a recovery code works once, the JSON login needs the otp field, tokens carry amr and
// `require amr otp` refuses a password-only token. Bad input gets clear 4xx answers.
func TestSecondFactorTOTP(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	srv := inst.start(t, secondFactorSite)
	login := srv.URL + "/api/token/"

	// A user who may use a second factor and has none: the password is enough, amr says so,
	// and a route demanding a code refuses the token.
	bobAccess, _ := tokens(t, postJSON(t, login, credentials("bob", "alice-pw")))
	if amr := amrOf(t, bobAccess); !slices.Equal(amr, []string{"pwd"}) {
		t.Errorf("bob's amr %v, want [pwd]", amr)
	}
	expect(t, "bob's password-only token on /any/", get(t, srv.URL+"/any/", bearer(bobAccess)), 200, "any ok")
	r := get(t, srv.URL+"/otp/", bearer(bobAccess))
	expect(t, "bob's password-only token on the require amr otp route", r, 403, "")

	// Alice must have one and has none: the JSON login says to enrol on the login page.
	expect(t, "alice, password only, not enrolled", postJSON(t, login, credentials("alice", "alice-pw")), 401,
		`{"detail":"This account must set up a second factor first: sign in on the login page to do so.","code":"second_factor_enrolment_required"}`)
	expect(t, "alice, wrong password", postJSON(t, login, credentials("alice", "nope")), 401,
		`{"detail":"No active account found with the given credentials"}`)

	// Enrolment without a session or challenge, and cross-site, is refused.
	stranger := newBrowserClient(t, srv.URL)
	expect(t, "factors page without a session", stranger.get("/api/token/factors"), 401, "")
	expect(t, "TOTP setup without a session", stranger.post("/api/token/factors/totp", nil), 401, "")
	expect(t, "code page without a challenge", stranger.get("/api/token/login/verify"), 401, "")
	expect(t, "code without a challenge", stranger.post("/api/token/login/verify", url.Values{"code": {"123456"}}), 401, "")

	// The password step gives only a challenge, and sends alice to enrol.
	b := newBrowserClient(t, srv.URL)
	r = b.post("/api/token/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "next": {"/any/"}})
	if r.Status != 303 || r.Header.Get("Location") != "/api/token/factors" {
		t.Fatalf("password step: %d to %q, want 303 to /api/token/factors\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	for _, sc := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "gatehouse_access=") || strings.HasPrefix(sc, "gatehouse_refresh=") {
			t.Fatalf("the password step alone set a session cookie: %s", sc)
		}
	}
	if c := b.cookie("/api/token/", "gatehouse_factor"); c == "" {
		t.Fatal("no challenge cookie after the password step")
	}
	if c := b.cookie("/", "gatehouse_factor"); c != "" {
		t.Error("the challenge cookie reaches paths outside the issuer")
	}
	r = b.get("/api/token/factors")
	if r.Status != 200 || !strings.Contains(r.Body, "Set up an authenticator app") {
		t.Fatalf("enrolment page: %d\n%s", r.Status, r.Body)
	}
	expect(t, "cross-site TOTP setup", b.send(http.MethodPost, "/api/token/factors/totp", nil, "http://evil.example"), 403, "")
	r = b.post("/api/token/factors/totp", nil)
	m := secretRe.FindStringSubmatch(r.Body)
	if r.Status != 200 || m == nil || !strings.Contains(r.Body, `src="data:image/png;base64,`) {
		t.Fatalf("TOTP setup page: %d, no key or QR code\n%s", r.Status, r.Body)
	}
	c := &codes{t: t, secret: m[1], last: time.Now().Unix()/30 - 2}
	// Wrong, malformed and missing codes: refused, nothing enrolled.
	expect(t, "confirm with a wrong code", b.post("/api/token/factors/totp/confirm", url.Values{"code": {c.at(c.last - 10)}}), 401, "")
	expect(t, "confirm with a malformed code", b.post("/api/token/factors/totp/confirm", url.Values{"code": {"12ab56"}}), 401, "")
	expect(t, "confirm without a code", b.post("/api/token/factors/totp/confirm", nil), 401, "")
	expect(t, "cross-site confirm", b.send(http.MethodPost, "/api/token/factors/totp/confirm", url.Values{"code": {c.at(c.last + 2)}}, "http://evil.example"), 403, "")
	r = b.post("/api/token/factors/totp/confirm", url.Values{"code": {c.next()}})
	rec := recoveryRe.FindAllStringSubmatch(r.Body, -1)
	if r.Status != 200 || len(rec) != 10 {
		t.Fatalf("confirm: %d, %d recovery codes\n%s", r.Status, len(rec), r.Body)
	}
	if !strings.Contains(r.Body, `href="/any/"`) {
		t.Errorf("the recovery page does not continue to next:\n%s", r.Body)
	}
	access := b.cookie("/", "gatehouse_access")
	if access == "" {
		t.Fatal("enrolment during the login gave no session")
	}
	if amr := amrOf(t, access); !slices.Equal(amr, []string{"pwd", "otp"}) {
		t.Errorf("amr after enrolment %v, want [pwd otp]", amr)
	}
	// The factors page now says TOTP is on.
	if r := b.get("/api/token/factors"); r.Status != 200 || !strings.Contains(r.Body, "On. 10 recovery codes left.") {
		t.Errorf("factors page after enrolment: %d\n%s", r.Status, r.Body)
	}

	// The JSON login: the password alone is refused, a wrong or malformed code too; a right
	// one gives tokens with amr [pwd otp], and the same code again is refused.
	otpLogin := func(code any) response {
		body, _ := json.Marshal(map[string]any{"username": "alice", "password": "alice-pw", "otp": code})
		return postJSON(t, login, string(body))
	}
	expect(t, "alice, password only", postJSON(t, login, credentials("alice", "alice-pw")), 401,
		`{"detail":"This account needs a second factor: send the one-time code of your authenticator app in the otp field.","code":"otp_required"}`)
	badOTP := `{"detail":"The one-time code is not valid.","code":"otp_invalid"}`
	for _, bad := range []any{"", "12345", "1234567", "abcdef", 123456.5, nil, []string{"1"}, c.at(c.last - 10), rec[0][1]} {
		expect(t, "alice, otp "+strings.TrimSpace(html.EscapeString(jsonText(bad))), otpLogin(bad), 401, badOTP)
	}
	// The factor survives a restart (it is in Caddy's storage, written whole).
	srv = inst.restart(t, srv, secondFactorSite)
	code := c.next()
	apiAccess, _ := tokens(t, otpLogin(code))
	if amr := amrOf(t, apiAccess); !slices.Equal(amr, []string{"pwd", "otp"}) {
		t.Errorf("amr of the JSON login with otp %v, want [pwd otp]", amr)
	}
	expect(t, "the otp token on the require amr otp route", get(t, srv.URL+"/otp/", bearer(apiAccess)), 200, "otp ok")
	expect(t, "the same code again", otpLogin(code), 401, badOTP)
	// A wrong password with a right code is still a wrong password.
	body, _ := json.Marshal(map[string]any{"username": "alice", "password": "nope", "otp": c.at(c.last + 1)})
	expect(t, "wrong password, right code", postJSON(t, login, string(body)), 401, `{"detail":"No active account found with the given credentials"}`)

	// The login page: password, then the code page; a replayed code is refused, a fresh one
	// gives the session.
	b2 := newBrowserClient(t, srv.URL)
	r = b2.post("/api/token/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "next": {"/otp/"}})
	if r.Status != 303 || r.Header.Get("Location") != "/api/token/login/verify" || b2.cookie("/", "gatehouse_access") != "" {
		t.Fatalf("password step: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if r := b2.get("/api/token/login/verify"); r.Status != 200 || !strings.Contains(r.Body, `name="code"`) {
		t.Fatalf("code page: %d\n%s", r.Status, r.Body)
	}
	expect(t, "the code page with a replayed code", b2.post("/api/token/login/verify", url.Values{"code": {code}}), 401, "")
	expect(t, "the code page with a malformed code", b2.post("/api/token/login/verify", url.Values{"code": {"<script>"}}), 401, "")
	expect(t, "the code page without a code", b2.post("/api/token/login/verify", nil), 400, "")
	expect(t, "the code page, cross-site", b2.send(http.MethodPost, "/api/token/login/verify", url.Values{"code": {c.at(c.last + 1)}}, "http://evil.example"), 403, "")
	cookie := b2.cookie("/api/token/", "gatehouse_factor")
	r = b2.post("/api/token/login/verify", url.Values{"code": {c.next()}})
	if r.Status != 303 || r.Header.Get("Location") != "/otp/" {
		t.Fatalf("right code: %d to %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if r := b2.get("/otp/"); r.Status != 200 || r.Body != "otp ok" {
		t.Errorf("the session of password + code on /otp/: %d %s", r.Status, r.Body)
	}
	// The challenge is used up: its cookie, sent again with another fresh code, gets nothing.
	replay := newBrowserClient(t, srv.URL)
	u, _ := url.Parse(srv.URL + "/api/token/")
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_factor", Value: cookie, Path: "/api/token/"}})
	expect(t, "a used-up challenge", replay.post("/api/token/login/verify", url.Values{"code": {c.at(c.last + 1)}}), 401, "")

	// A recovery code works once, in place of a code, typed in capitals.
	for i, want := range []int{303, 401} {
		b3 := newBrowserClient(t, srv.URL)
		b3.post("/api/token/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "next": {"/any/"}})
		r = b3.post("/api/token/login/verify", url.Values{"code": {strings.ToUpper(rec[1][1])}})
		if r.Status != want {
			t.Errorf("recovery code, use %d: %d, want %d\n%s", i+1, r.Status, want, r.Body)
		}
		if want == 303 {
			if a := b3.cookie("/", "gatehouse_access"); a == "" || !slices.Equal(amrOf(t, a), []string{"pwd", "otp"}) {
				t.Errorf("recovery code login: no session with amr [pwd otp]")
			}
		}
	}
	// The log never holds a code, a key or a recovery code.
	log := srv.logText(t)
	for _, secret := range []string{m[1], code, rec[0][1], rec[1][1]} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds a secret %q", secret)
		}
	}
	if strings.Contains(log, `"status":5`) || strings.Contains(log, "panic") {
		t.Errorf("a 5xx or a panic in the log:\n%s", log)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSecondFactorPasskeyRefusals: the passkey endpoints answer bad requests with clear 4xx
// JSON, never 5xx: no session, another site, the wrong method, garbage and oversized answers,
// a ceremony finished twice, an IP address as the site (no valid relying party id).
func TestSecondFactorPasskeyRefusals(t *testing.T) {
	t.Parallel()
	srv := startCaddy(t, secondFactorSite)
	local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	b := newBrowserClient(t, local)
	jsonPost := func(path, body, origin string) response {
		req, err := http.NewRequest(http.MethodPost, local+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		buf := make([]byte, 8<<10)
		for {
			n, err := resp.Body.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return response{Status: resp.StatusCode, Header: resp.Header, Body: sb.String()}
	}
	expectJSON := func(what string, r response, status int, detail string) {
		t.Helper()
		if r.Status != status || !strings.Contains(r.Body, detail) || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %s, want %d with %q", what, r.Status, r.Header.Get("Content-Type"), r.Body, status, detail)
		}
	}
	expectJSON("register without a session", jsonPost("/api/token/factors/passkey/begin", "{}", local), 401, "You are not signed in")
	expectJSON("register finish without a session", jsonPost("/api/token/factors/passkey/finish", "{}", local), 401, "You are not signed in")
	expectJSON("register from another site", jsonPost("/api/token/factors/passkey/begin", "{}", "http://evil.example"), 403, "another site")
	expect(t, "GET on begin", b.get("/api/token/login/passkey/begin"), 405, "")
	if r := b.get("/api/token/factors/webauthn.js"); r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("webauthn.js: %d %s", r.Status, r.Header.Get("Content-Type"))
	}

	// Signed in (carol: the password is enough), a registration begins with options for
	// this site, and garbage finishes it: refused, and the ceremony is over.
	r := b.post("/api/token/login", url.Values{"username": {"carol"}, "password": {"alice-pw"}, "next": {"/any/"}})
	if r.Status != 303 || b.cookie("/", "gatehouse_refresh") == "" {
		t.Fatalf("carol's login: %d", r.Status)
	}
	r = jsonPost("/api/token/factors/passkey/begin", "{}", local)
	if r.Status != 200 || !strings.Contains(r.Body, `"rp":{"name":"Gatehouse","id":"localhost"}`) ||
		!strings.Contains(r.Body, `"residentKey":"required"`) || !strings.Contains(r.Body, `"userVerification":"required"`) {
		t.Fatalf("registration options: %d %s", r.Status, r.Body)
	}
	expectJSON("garbage registration", jsonPost("/api/token/factors/passkey/finish", `{"id":"x"}`, local), 400, "could not be verified")
	expectJSON("registration finished twice", jsonPost("/api/token/factors/passkey/finish", `{"id":"x"}`, local), 400, "could not be verified")
	expectJSON("oversized registration", jsonPost("/api/token/factors/passkey/finish", `{"id":"`+strings.Repeat("a", 70<<10)+`"}`, local), 400, "too large")

	// A login with a passkey alone: the options ask for user verification; garbage is
	// refused and uses the ceremony up; finishing without a ceremony is refused.
	anon := newBrowserClient(t, local)
	b = anon
	r = jsonPost("/api/token/login/passkey/begin?next=/any/", "{}", local)
	if r.Status != 200 || !strings.Contains(r.Body, `"userVerification":"required"`) || b.cookie("/api/token/", "gatehouse_factor") == "" {
		t.Fatalf("login options: %d %s", r.Status, r.Body)
	}
	expectJSON("garbage assertion", jsonPost("/api/token/login/passkey/finish", `{"id":"x","type":"public-key"}`, local), 401, "could not be verified")
	expectJSON("assertion without a ceremony", jsonPost("/api/token/login/passkey/finish", `{}`, local), 401, "expired or was used already")
	expectJSON("login from another site", jsonPost("/api/token/login/passkey/begin", "{}", "http://evil.example"), 403, "another site")

	// The site under its IP address: no valid relying party id, a clear refusal.
	ip := newBrowserClient(t, srv.URL)
	r = ip.send(http.MethodPost, "/api/token/login/passkey/begin", nil, srv.URL)
	if r.Status != 400 || !strings.Contains(r.Body, "could not be verified") {
		t.Errorf("passkey login on an IP address: %d %s", r.Status, r.Body)
	}
	log := srv.logText(t)
	if strings.Contains(log, `"status":5`) || strings.Contains(log, "panic") {
		t.Errorf("a 5xx or a panic in the log:\n%s", log)
	}
}

// TestRedisSecondFactorAcrossInstances: two Caddy processes that share nothing but a Redis
// store share the second factor too: a login whose password was given to one is enrolled on the
// other and confirmed on the first, a code used on one is refused on the other, and the
// factor is kept in Redis, not in either instance's storage.
func TestRedisSecondFactorAcrossInstances(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	site := strings.Replace(secondFactorSite, "\t\tsession\n", "\t\tsession\n\t\tstore redis "+r.url()+"\n", 1)
	if !strings.Contains(site, "store redis") {
		t.Fatal("secondFactorSite has no session line to add the store after")
	}
	instA, instB := newCaddyInstance(t), newCaddyInstance(t)
	a, b := instA.start(t, site), instB.start(t, site)

	// One cookie jar for both (cookies do not tell ports apart): a browser behind a load
	// balancer that sends each request to either instance.
	ca := newBrowserClient(t, a.URL)
	cb := &browserClient{t: t, c: ca.c, origin: b.URL}
	res := ca.post("/api/token/login", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "next": {"/any/"}})
	if res.Status != 303 || res.Header.Get("Location") != "/api/token/factors" {
		t.Fatalf("password step on A: %d to %q", res.Status, res.Header.Get("Location"))
	}
	res = cb.post("/api/token/factors/totp", nil)
	m := secretRe.FindStringSubmatch(res.Body)
	if res.Status != 200 || m == nil {
		t.Fatalf("setup on B with A's challenge: %d\n%s", res.Status, res.Body)
	}
	c := &codes{t: t, secret: m[1], last: time.Now().Unix()/30 - 2}
	if res = ca.post("/api/token/factors/totp/confirm", url.Values{"code": {c.next()}}); res.Status != 200 {
		t.Fatalf("confirm on A of B's setup: %d\n%s", res.Status, res.Body)
	}
	login := func(s *caddyServer, code string) response {
		body, _ := json.Marshal(map[string]string{"username": "alice", "password": "alice-pw", "otp": code})
		return postJSON(t, s.URL+"/api/token/", string(body))
	}
	code := c.next()
	tokens(t, login(b, code))
	expect(t, "B's code again on A", login(a, code), 401, `{"detail":"The one-time code is not valid.","code":"otp_invalid"}`)
	for _, inst := range []*caddyInstance{instA, instB} {
		if err := filepath.WalkDir(filepath.Join(inst.dir, "storage"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(p, "factors") {
				t.Errorf("a factor file in an instance's own storage: %s", p)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}
