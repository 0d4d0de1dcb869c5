package integration

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// twoSites is one Caddy serving two sites on one port, each with an issuer of its own (with
// browser sessions, other cookie names and another trusted origin on site b), a zero-config
// jwt_auth, and on site b a route that trusts site a's issuer on purpose, by name.
const twoSites = `
http://localhost:PORT {
	jwt_issuer /api/token/* {
		name site-a
		user alice ` + aliceHash + ` {
			claim user_id 1
		}
		session
	}
	jwt_auth /app/* {
		session /api/token
	}
	respond /app/* "a: hello {http.auth.user.id}"
}

http://127.0.0.1:PORT {
	jwt_issuer /api/token/* {
		name site-b
		user bob ` + bobHash + ` {
			claim user_id 2
		}
		session {
			access_cookie b_access
			refresh_cookie b_refresh
			origin https://evil.test
		}
	}
	jwt_auth /app/* {
		session /api/token
	}
	respond /app/* "b: hello {http.auth.user.id}"
	jwt_auth /shared/* {
		issuer_name site-a
	}
	respond /shared/* "shared: hello {http.auth.user.id}"
}
`

// formLogin logs in through the login form of the site at host and returns its cookies as one
// Cookie header line.
func formLogin(t *testing.T, base, host, user, password string) string {
	t.Helper()
	body := url.Values{"username": {user}, "password": {password}, "next": {"/app/"}}.Encode()
	r := sendBody(t, http.MethodPost, base+"/api/token/login", body, "Host: "+host,
		"Origin: http://"+host, "Content-Type: application/x-www-form-urlencoded")
	if r.Status != http.StatusSeeOther {
		t.Fatalf("login at %s: %d %s", host, r.Status, r.Body)
	}
	var pairs []string
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		pairs = append(pairs, c.Name+"="+c.Value)
	}
	return "Cookie: " + strings.Join(pairs, "; ")
}

// TestSitesKeepTheirOwnIssuers: two sites in one Caddy, each with its own issuer: keys differ,
// a zero-config jwt_auth trusts only its own site's issuer, each site's sessions use its own
// cookie names and trusted origins, and issuer_name shares an issuer on purpose.
func TestSitesKeepTheirOwnIssuers(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	srv := inst.startSites(t, twoSites)
	port := strconv.Itoa(inst.port)
	hostA, hostB := "localhost:"+port, "127.0.0.1:"+port

	// Keys: each generated its own, kept under its own name.
	jwksA := get(t, srv.URL+"/api/token/jwks.json", "Host: "+hostA)
	jwksB := get(t, srv.URL+"/api/token/jwks.json", "Host: "+hostB)
	if jwksA.Status != 200 || jwksB.Status != 200 || jwksA.Body == jwksB.Body {
		t.Fatalf("the two issuers publish the same keys:\n%s\n%s", jwksA.Body, jwksB.Body)
	}

	// Tokens: site b's user gets nothing on site a, and the other way round.
	accessA, _ := tokens(t, sendBody(t, http.MethodPost, srv.URL+"/api/token/", credentials("alice", "alice-pw"),
		"Host: "+hostA, "Content-Type: application/json"))
	accessB, _ := tokens(t, sendBody(t, http.MethodPost, srv.URL+"/api/token/", credentials("bob", "bob-pw"),
		"Host: "+hostB, "Content-Type: application/json"))
	expect(t, "site a's token on site a", get(t, srv.URL+"/app/", "Host: "+hostA, bearer(accessA)), 200, "a: hello 1")
	expect(t, "site b's token on site b", get(t, srv.URL+"/app/", "Host: "+hostB, bearer(accessB)), 200, "b: hello 2")
	if r := get(t, srv.URL+"/app/", "Host: "+hostA, bearer(accessB)); r.Status != http.StatusUnauthorized {
		t.Errorf("site b's token on site a: %d %q, want 401", r.Status, r.Body)
	}
	if r := get(t, srv.URL+"/app/", "Host: "+hostB, bearer(accessA)); r.Status != http.StatusUnauthorized {
		t.Errorf("site a's token on site b: %d %q, want 401", r.Status, r.Body)
	}
	// Shared on purpose: site b's /shared/ names site a's issuer.
	expect(t, "site a's token where site b trusts it by name", get(t, srv.URL+"/shared/", "Host: "+hostB, bearer(accessA)), 200, "shared: hello 1")
	if r := get(t, srv.URL+"/shared/", "Host: "+hostB, bearer(accessB)); r.Status != http.StatusUnauthorized {
		t.Errorf("site b's own token where only site a's issuer is named: %d, want 401", r.Status)
	}

	// Sessions: each site reads its own cookies.
	cookieA := formLogin(t, srv.URL, hostA, "alice", "alice-pw")
	cookieB := formLogin(t, srv.URL, hostB, "bob", "bob-pw")
	if !strings.Contains(cookieA, "gatehouse_access=") || !strings.Contains(cookieB, "b_access=") {
		t.Fatalf("cookie names: site a %q, site b %q", cookieA, cookieB)
	}
	expect(t, "site a's session on site a", get(t, srv.URL+"/app/", "Host: "+hostA, cookieA), 200, "a: hello 1")
	expect(t, "site b's session on site b", get(t, srv.URL+"/app/", "Host: "+hostB, cookieB), 200, "b: hello 2")

	// CSRF: the origin that only site b trusts is not trusted on site a.
	if r := do(t, http.MethodPost, srv.URL+"/app/", "Host: "+hostA, cookieA, "Origin: https://evil.test"); r.Status != http.StatusForbidden {
		t.Errorf("a cookie-carried POST to site a from an origin only site b trusts: %d %q, want 403", r.Status, r.Body)
	}
	if r := do(t, http.MethodPost, srv.URL+"/app/", "Host: "+hostB, cookieB, "Origin: https://evil.test"); r.Status != http.StatusOK {
		t.Errorf("a cookie-carried POST to site b from the origin it trusts: %d %q, want 200", r.Status, r.Body)
	}
}

// TestSitesOnTwoPortsKeepTheirOwnIssuers: sites without a host, one per port, are each a server
// of their own (Caddy's adapter puts no subroute around such a site's routes); a zero-config
// jwt_auth on one port does not trust the issuer on the other.
func TestSitesOnTwoPortsKeepTheirOwnIssuers(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	other := freePort(t)
	srv := inst.startSites(t, `
http://:PORT {
	jwt_issuer /api/token/* {
		user alice `+aliceHash+`
	}
	jwt_auth /app/*
	respond /app/* "first: hello {http.auth.user.id}"
}

http://:`+strconv.Itoa(other)+` {
	jwt_auth
	respond "second: hello {http.auth.user.id}"
}
`)
	access, _ := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw")))
	expect(t, "the token on its own site", get(t, srv.URL+"/app/", bearer(access)), 200, "first: hello alice")
	r := get(t, "http://127.0.0.1:"+strconv.Itoa(other)+"/", bearer(access))
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), "no verification keys are loaded") {
		t.Errorf("the token on the other port's site: %d %q %q, want 401 with no keys loaded", r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
	}
	if log := srv.logText(t); !strings.Contains(log, "jwt_auth has no key settings and no jwt_issuer is loaded in its site") {
		t.Error("no warning about the jwt_auth without an issuer in its site")
	}
}

// TestSitesUnnamedIssuersRefused: unnamed issuers in two sites would share their keys in
// storage; Caddy refuses the configuration and says what to change. A jwt_auth naming an issuer
// the configuration lacks is refused too.
func TestSitesUnnamedIssuersRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, caddyfile, want string
	}{
		{"unnamed issuers in two sites", `
http://a.test:8080 {
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + `
	}
}
http://b.test:8080 {
	jwt_issuer /api/token/* {
		user bob ` + bobHash + `
	}
}
`, "give each site's jwt_issuer a name of its own"},
		{"an issuer_name without its issuer", `
http://a.test:8080 {
	jwt_issuer /api/token/* {
		name shop
		user alice ` + aliceHash + `
	}
	jwt_auth {
		issuer_name shpo
	}
	respond ok
}
`, "no jwt_issuer named shpo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inst := newCaddyInstance(t)
			out, code := caddyCommand(t, "run", inst.global()+strings.ReplaceAll(tt.caddyfile, "8080", strconv.Itoa(inst.port)))
			if code == 0 || !strings.Contains(out, tt.want) {
				t.Errorf("caddy run: exit %d, output:\n%s\nwant an error with %q", code, out, tt.want)
			}
		})
	}
}

// TestSitesShareAnIssuerOnPurpose: an issuer configured once in the gatehouse global options
// and served by two sites is one issuer: a login on either site works on both, and its users
// are the same; a third site with an issuer of its own still trusts only that one.
func TestSitesShareAnIssuerOnPurpose(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	srv := inst.startSites(t, `
http://localhost:PORT {
	jwt_issuer /api/token/* home
	jwt_auth /app/*
	respond /app/* "a: hello {http.auth.user.id}"
}

http://127.0.0.1:PORT {
	jwt_issuer /auth/* home
	jwt_auth /app/* {
		issuer_name home
	}
	respond /app/* "b: hello {http.auth.user.id}"
}
`, `	gatehouse {
		issuer home {
			user alice `+aliceHash+` {
				claim user_id 1
			}
		}
	}
`)
	port := strconv.Itoa(inst.port)
	hostA, hostB := "localhost:"+port, "127.0.0.1:"+port
	fromA, _ := tokens(t, sendBody(t, http.MethodPost, srv.URL+"/api/token/", credentials("alice", "alice-pw"),
		"Host: "+hostA, "Content-Type: application/json"))
	fromB, _ := tokens(t, sendBody(t, http.MethodPost, srv.URL+"/auth/", credentials("alice", "alice-pw"),
		"Host: "+hostB, "Content-Type: application/json"))
	for _, tt := range []struct{ what, host, token, want string }{
		{"site a's login on site a", hostA, fromA, "a: hello 1"},
		{"site a's login on site b", hostB, fromA, "b: hello 1"},
		{"site b's login on site a", hostA, fromB, "a: hello 1"},
		{"site b's login on site b", hostB, fromB, "b: hello 1"},
	} {
		expect(t, tt.what, get(t, srv.URL+"/app/", "Host: "+tt.host, bearer(tt.token)), http.StatusOK, tt.want)
	}
	jwksA := get(t, srv.URL+"/api/token/jwks.json", "Host: "+hostA)
	jwksB := get(t, srv.URL+"/auth/jwks.json", "Host: "+hostB)
	if jwksA.Body != jwksB.Body || !strings.Contains(jwksA.Body, `"kty":"EC"`) {
		t.Errorf("one issuer publishes two key sets:\n%s\n%s", jwksA.Body, jwksB.Body)
	}
}
