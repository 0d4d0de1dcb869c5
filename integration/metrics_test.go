package integration

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// metricsSite is an issuer with rotation, browser sessions and a login limit of 2 attempts a
// minute per client IP, and a jwt_auth with the session on /private/*.
const metricsSite = `
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + ` {
			claim user_id 1
		}
		user bob ` + bobHash + ` {
			claim user_id 2
		}
		rotate_refresh
		session
		login_limit 2 per 1m
	}
	handle /private/* {
		jwt_auth {
			session /api/token
		}
		respond "hello {http.auth.user.id}"
	}
	respond 404`

// metricsGlobal turns on Caddy's metrics and trusts 127.0.0.1 as a proxy, so that a second
// client (bob's browser) can come through it from another address with a login budget of its
// own.
const metricsGlobal = "\tmetrics\n\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t\ttrusted_proxies_strict\n\t}\n"

// scrape fetches the admin endpoint's /metrics: each sample's value by its series as exposed
// (`name{label="value",...}`), and the whole text.
func scrape(t *testing.T, srv *caddyServer) (map[string]float64, string) {
	t.Helper()
	r := get(t, srv.Admin+"/metrics")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", r.Status, r.Body)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(r.Body))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("unparsable metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return samples, r.Body
}

// sessionCookie is the value of the cookie name set by r ("" when none).
func sessionCookie(r response, name string) string {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// TestMetricsCountWhatHappens: through a real Caddy, the issuer's Prometheus series on the
// admin endpoint's /metrics exist at 0 before anything happens, then move by exactly what
// happened: two good logins (JSON, and a session form through a trusted proxy), a wrong
// password, a login over the limit (429), a refresh with rotation, a replay of the rotated
// token (reuse), a session renewal by jwt_auth and a logout. No scraped line names a user, a
// client address or a token.
func TestMetricsCountWhatHappens(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	srv := inst.startSites(t, "http://:PORT {\n"+metricsSite+"\n}\n", metricsGlobal)

	const iss = `issuer="default"`
	series := func(name, outcome string) string { return name + `{` + iss + `,outcome="` + outcome + `"}` }
	want := map[string]float64{}
	for name, outcomes := range map[string][]string{
		"gatehouse_issuer_logins_total":           {"ok", "bad_credentials", "rate_limited", "busy", "unavailable", "bad_request", "cross_site", "insecure", "error"},
		"gatehouse_issuer_refreshes_total":        {"ok", "rotated", "reused", "blacklisted", "expired", "invalid", "bad_request", "unavailable"},
		"gatehouse_issuer_logouts_total":          {"ok", "no_session", "invalid", "bad_request", "cross_site", "unavailable"},
		"gatehouse_issuer_session_renewals_total": {"renewed", "ended", "reused", "unavailable"},
	} {
		for _, o := range outcomes {
			want[series(name, o)] = 0
		}
	}
	want["gatehouse_issuer_login_duration_seconds_count{"+iss+"}"] = 0
	check := func(when string) (string, map[string]float64) {
		t.Helper()
		got, text := scrape(t, srv)
		for s, v := range want {
			if g, ok := got[s]; !ok {
				t.Errorf("%s: %s is not exported", when, s)
			} else if g != v {
				t.Errorf("%s: %s = %v, want %v", when, s, g, v)
			}
		}
		return text, got
	}
	check("before any request")

	// alice, from 127.0.0.1: a login, a wrong password, and the third attempt is over the limit.
	access, refresh := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw")))
	expect(t, "wrong password", postJSON(t, srv.URL+"/api/token/", credentials("alice", "wrong")), http.StatusUnauthorized, bodyBadCredentials)
	over := postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw"))
	expect(t, "third login in the minute", over, http.StatusTooManyRequests, "")
	// A refresh rotates; presenting the rotated token again is reuse.
	access2, refresh2 := tokens(t, postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh)))
	expect(t, "replayed refresh token", postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh)),
		http.StatusUnauthorized, bodyBlacklisted)

	// bob's browser, through the trusted proxy from 192.0.2.20 (a budget of its own): the login
	// form, a page with only the refresh cookie (jwt_auth renews the session), and logout.
	origin := "Origin: " + srv.URL
	login := sendBody(t, http.MethodPost, srv.URL+"/api/token/login", "username=bob&password=bob-pw&next=%2Fprivate%2F",
		"Content-Type: application/x-www-form-urlencoded", origin, "X-Forwarded-For: 192.0.2.20")
	bobAccess, bobRefresh := sessionCookie(login, "gatehouse_access"), sessionCookie(login, "gatehouse_refresh")
	if login.Status != http.StatusSeeOther || bobAccess == "" || bobRefresh == "" {
		t.Fatalf("bob's form login: %d %q, cookies set %v %v", login.Status, login.Header.Get("Location"), bobAccess != "", bobRefresh != "")
	}
	page := get(t, srv.URL+"/private/", "Cookie: gatehouse_refresh="+bobRefresh)
	renewedAccess, renewedRefresh := sessionCookie(page, "gatehouse_access"), sessionCookie(page, "gatehouse_refresh")
	if page.Status != http.StatusOK || page.Body != "hello 2" || renewedAccess == "" || renewedRefresh == "" {
		t.Fatalf("page with the refresh cookie: %d %q, renewed cookies %v %v", page.Status, page.Body, renewedAccess != "", renewedRefresh != "")
	}
	logout := sendBody(t, http.MethodPost, srv.URL+"/api/token/logout", "", origin, "Cookie: gatehouse_refresh="+renewedRefresh)
	if logout.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", logout.Status, logout.Body)
	}
	expect(t, "refresh after logout", postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", renewedRefresh)),
		http.StatusUnauthorized, bodyBlacklisted)

	want[series("gatehouse_issuer_logins_total", "ok")] = 2
	want[series("gatehouse_issuer_logins_total", "bad_credentials")] = 1
	want[series("gatehouse_issuer_logins_total", "rate_limited")] = 1
	want["gatehouse_issuer_login_duration_seconds_count{"+iss+"}"] = 4
	want[`gatehouse_issuer_login_duration_seconds_bucket{`+iss+`,le="+Inf"}`] = 4
	want[series("gatehouse_issuer_refreshes_total", "rotated")] = 1
	want[series("gatehouse_issuer_refreshes_total", "reused")] = 1
	want[series("gatehouse_issuer_refreshes_total", "blacklisted")] = 1 // the refresh after logout
	want[series("gatehouse_issuer_session_renewals_total", "renewed")] = 1
	want[series("gatehouse_issuer_logouts_total", "ok")] = 1
	text, got := check("after the requests")

	// The histogram's buckets are the ones for password hashing, 1ms to 5s.
	for _, le := range []string{"0.001", "5"} {
		if _, ok := got[`gatehouse_issuer_login_duration_seconds_bucket{`+iss+`,le="`+le+`"}`]; !ok {
			t.Errorf("no login duration bucket le=%s", le)
		}
	}
	secrets := map[string]string{
		"a user name": "alice", "another user name": "bob", "the client address": "127.0.0.1", "the proxied address": "192.0.2.20",
		"an access token": access, "a refresh token": refresh, "a rotated access token": access2, "a rotated refresh token": refresh2,
		"a session access cookie": bobAccess, "a session refresh cookie": bobRefresh,
		"a renewed access cookie": renewedAccess, "a renewed refresh cookie": renewedRefresh,
	}
	for line := range strings.SplitSeq(text, "\n") {
		for what, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("a /metrics line contains %s: %.120q", what, line)
			}
		}
	}
}
