package integration

import (
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The login abuse tests: what one client, or a few, can do to other users' logins, and what a
// page on another site can make its visitors' browsers do. Different client addresses are
// different loopback source addresses (127.0.0.2, 127.0.0.3, ...), which Linux routes to the
// server's 127.0.0.1 like any other.

// clientAt is an HTTP client whose connections come from the loopback address ip, so that
// Caddy's client_ip is ip. It follows no redirect.
func clientAt(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 32},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// loginAt posts a login from ip with the given content type and headers ("Name: value").
func loginAt(t *testing.T, c *http.Client, url, contentType, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return response{}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return response{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// bcryptAt hashes password at cost (the issuer accepts any bcrypt cost from 4 to 31).
func bcryptAt(t *testing.T, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// TestOneAddressCannotLockAUserOut: wrong passwords from one address (here three times its
// limit) use up that address's budget for the user, not the user's, so a guesser cannot lock
// the real user out: the real user logs in from another address, while the guesser stays
// refused even with the right password.
func TestOneAddressCannotLockAUserOut(t *testing.T) {
	s := startCaddy(t, `
	jwt_issuer /api/token/* {
		user alice `+aliceHash+`
		login_limit 3 per 1h
	}`)
	attacker, user := clientAt("127.0.0.2"), clientAt("127.0.0.3")
	var got []string
	for range 9 {
		got = append(got, strconv.Itoa(loginAt(t, attacker, s.URL+"/api/token/", "application/json", credentials("alice", "guess")).Status))
	}
	if want := "401 401 401 429 429 429 429 429 429"; strings.Join(got, " ") != want {
		t.Fatalf("attacker at 127.0.0.2: %s, want %s", strings.Join(got, " "), want)
	}
	r := loginAt(t, user, s.URL+"/api/token/", "application/json", credentials("alice", "alice-pw"))
	if r.Status != http.StatusOK {
		t.Fatalf("alice from 127.0.0.3 while 127.0.0.2 guesses: %d %s, want 200", r.Status, r.Body)
	}
	tokens(t, r)
	// The attacker stays refused, with a Retry-After, whatever the password.
	r = loginAt(t, attacker, s.URL+"/api/token/", "application/json", credentials("alice", "alice-pw"))
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("attacker with the right password: %d (Retry-After %q), want 429", r.Status, r.Header.Get("Retry-After"))
	}
}

// TestCrossSiteLoginFormRefused: another site's page can make its visitors' browsers post a
// form (or text/plain, or multipart) to POST <base>/ without a CORS preflight, to guess
// passwords from their addresses or use up the limits; such posts are refused with 403 in DRF's
// CSRF shape before anything is counted or checked. Requests without Origin (curl, servers,
// simplejwt clients), the site's own pages, and JSON bodies go on.
func TestCrossSiteLoginFormRefused(t *testing.T) {
	s := startCaddy(t, `
	jwt_issuer /api/token/* {
		user alice `+aliceHash+`
		login_limit 2 per 1h
	}`)
	const formType = "application/x-www-form-urlencoded"
	c := clientAt("127.0.0.4")
	url := s.URL + "/api/token/"
	for _, tt := range []struct {
		name, ct, body string
	}{
		{"form", formType, form("alice", "alice-pw")},
		{"text/plain", "text/plain", credentials("alice", "alice-pw")},
		{"multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n" +
			"--x\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nalice-pw\r\n--x--\r\n"},
	} {
		// Three times, over a limit of two: a refusal counts against nothing.
		for range 3 {
			r := loginAt(t, c, url, tt.ct, tt.body, "Origin: https://evil.example")
			expect(t, tt.name+" from another site", r, http.StatusForbidden,
				`{"detail":"CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins."}`)
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q", tt.name, ct)
			}
		}
	}
	expect(t, "form from an opaque origin", loginAt(t, c, url, formType, form("alice", "alice-pw"), "Origin: null"), http.StatusForbidden, "")
	// The address's two attempts are still there.
	tokens(t, loginAt(t, c, url, formType, form("alice", "alice-pw"), "Origin: "+s.URL))
	tokens(t, loginAt(t, c, url, formType, form("alice", "alice-pw"))) // curl: no Origin
	other := clientAt("127.0.0.5")
	tokens(t, loginAt(t, other, url, "application/json", credentials("alice", "alice-pw"), "Origin: https://evil.example"))
}

// TestLoginFloodCannotStallOtherAddresses: password hashing is slow on purpose, so a flood of
// logins from one address must not make everyone else's wait for it. The hashing gate's queue
// and each address's share of it are bounded (the rest answered at once), and places go round
// the addresses, so a real login from another address waits for about one hash, not for the
// flood. Caddy runs with GOMAXPROCS=2: one hash at a time, 16 waiting, 8 per address.
func TestLoginFloodCannotStallOtherAddresses(t *testing.T) {
	costly := bcryptAt(t, "carol-pw", 11) // ~100 ms a hash, more on a loaded machine
	s := startCaddy(t, `
	jwt_issuer /api/token/* {
		user carol `+costly+`
		login_limit off
	}`, "GOMAXPROCS=2")
	url := s.URL + "/api/token/"
	user := clientAt("127.0.0.7")
	var one []time.Duration // a login's time without contention: about one hash
	for range 3 {
		start := time.Now()
		tokens(t, loginAt(t, user, url, "application/json", credentials("carol", "carol-pw")))
		one = append(one, time.Since(start))
	}
	slices.Sort(one)
	hash := one[1]

	t.Run("one address: its share, the rest 429 at once, others served in turn", func(t *testing.T) {
		attacker := clientAt("127.0.0.6")
		statuses := make(chan response, 20)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- loginAt(t, attacker, url, "application/json", credentials("nobody"+strconv.Itoa(i), "x"))
			}()
		}
		// The real user, from another address, once the flood has queued up.
		time.Sleep(hash / 2)
		start := time.Now()
		r := loginAt(t, user, url, "application/json", credentials("carol", "carol-pw"))
		took := time.Since(start)
		wg.Wait()
		close(statuses)
		tokens(t, r)
		var throttled, refused int
		for r := range statuses {
			switch r.Status {
			case http.StatusTooManyRequests:
				throttled++
				if r.Header.Get("Retry-After") != "1" {
					t.Errorf("429 with Retry-After %q, want 1", r.Header.Get("Retry-After"))
				}
			case http.StatusUnauthorized:
				refused++
			default:
				t.Errorf("attacker's login: %d %s", r.Status, r.Body)
			}
		}
		t.Logf("a hash takes %s; the real login took %s while one address flooded; %d of its 20 logins were refused unhashed",
			hash, took, throttled)
		// Eight at a time for the address; allow for a hash finishing before the last arrive.
		if throttled < 8 {
			t.Errorf("of 20 logins at once from one address: %d 429, %d 401; want at most its share (8, a few more on a slow start) hashed", throttled, refused)
		}
		// In arrival order the real login would wait for the 7 queued ahead of it and the one
		// hashing; taking turns, for the one hashing and at most one more.
		if took > 5*hash {
			t.Errorf("the real login took %s, over 5 hashes (%s): it waited for the other address's queue", took, 5*hash)
		}
	})

	t.Run("many addresses fill the queue: 503 at once", func(t *testing.T) {
		results := make(chan response, 36)
		var wg sync.WaitGroup
		for i := range 6 {
			c := clientAt("127.0.1." + strconv.Itoa(i+1))
			for j := range 6 { // within each address's share
				wg.Add(1)
				go func() {
					defer wg.Done()
					results <- loginAt(t, c, url, "application/json", credentials("nobody"+strconv.Itoa(j), "x"))
				}()
			}
		}
		wg.Wait()
		close(results)
		var full, hashed int
		for r := range results {
			switch r.Status {
			case http.StatusServiceUnavailable:
				full++
				if r.Header.Get("Retry-After") != "1" || r.Body != bodyUnavailable {
					t.Errorf("503: Retry-After %q, body %s", r.Header.Get("Retry-After"), r.Body)
				}
			case http.StatusUnauthorized:
				hashed++
			default:
				t.Errorf("login: %d %s (want 401, or 503 for a full queue)", r.Status, r.Body)
			}
		}
		// One hashing and 16 waiting at most at any time, of 36 sent at once.
		if full < 10 {
			t.Fatalf("of 36 logins at once from 6 addresses: %d 503, %d 401; want the queue (1 + 16) bounded", full, hashed)
		}
	})
	// And the server is fine afterwards.
	tokens(t, loginAt(t, user, url, "application/json", credentials("carol", "carol-pw")))
}

// TestLoginTimingHidesWhichUsersExist: an unknown user's login costs what the costliest user's
// does, so timing logins does not tell which names exist. Two users at bcrypt cost 4 and one at
// cost 11 (about 128 times the work): were unknown users checked at the commonest cost (4), the
// cost-11 user's slow answers would tell that the name exists. Medians of interleaved runs,
// with margins wide enough for a loaded two-core machine.
func TestLoginTimingHidesWhichUsersExist(t *testing.T) {
	costly := bcryptAt(t, "dave-pw", 11)
	s := startCaddy(t, `
	jwt_issuer /api/token/* {
		user alice `+aliceHash+`
		user bob `+bobHash+`
		user dave `+costly+`
		login_limit off
	}`)
	url := s.URL + "/api/token/"
	c := clientAt("127.0.0.8")
	timeOf := func(user string) time.Duration {
		start := time.Now()
		r := loginAt(t, c, url, "application/json", credentials(user, "wrong"))
		d := time.Since(start)
		if r.Status != http.StatusUnauthorized || r.Body != bodyBadCredentials {
			t.Fatalf("%s: %d %s", user, r.Status, r.Body)
		}
		return d
	}
	timeOf("warm-up") // the connection
	var unknown, dave, alice []time.Duration
	for i := range 9 {
		unknown = append(unknown, timeOf("nobody"+strconv.Itoa(i)))
		dave = append(dave, timeOf("dave"))
		alice = append(alice, timeOf("alice"))
	}
	median := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	mu, md, ma := median(unknown), median(dave), median(alice)
	t.Logf("median: unknown %s, cost-11 user %s, cost-4 user %s", mu, md, ma)
	if mu < md/2 {
		t.Fatalf("unknown users answer in %s, the cost-11 user in %s: the name's existence shows", mu, md)
	}
	if mu < 4*ma {
		t.Fatalf("unknown users answer in %s, as fast as a cost-4 user (%s), not the costliest", mu, ma)
	}
}

// TestCredentialsURLRefusesCleartext: credentials_url is sent every password, so passwords
// never cross a network in clear text: it follows jwks_url's rule, https, or plain http only to
// a loopback host; anything else is a config error that says what to do.
func TestCredentialsURLRefusesCleartext(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want string // "" for accepted
	}{
		{"http://app.example:8000/check", "credentials URL must use https"},
		{"http://192.168.1.20/check", "http is allowed only to a loopback host (127.0.0.1, ::1, localhost)"},
		{"http://127.0.0.1:8000/check", ""},
		{"http://[::1]:8000/check", ""},
		{"http://localhost:8000/check", ""},
		{"https://app.example/check", ""},
	} {
		out, code := adaptCaddyfile(t, "http://:8080 {\n\tjwt_issuer /api/token/* {\n\t\tcredentials_url "+tt.url+"\n\t}\n}\n")
		switch {
		case tt.want == "" && code != 0:
			t.Errorf("%s: refused: %s", tt.url, out)
		case tt.want != "" && (code == 0 || !strings.Contains(out, tt.want) || !strings.Contains(out, "Caddyfile:3")):
			t.Errorf("%s: exit %d, output %s; want an error at Caddyfile:3 containing %q", tt.url, code, out, tt.want)
		}
	}
}
