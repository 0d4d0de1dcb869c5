package integration

import (
	"bufio"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dashboardSite serves everything the dashboard plots: an issuer with rotation, sessions and a
// login limit; jwt_auth with the session, with the issuer's tokens and with a remote JWK Set.
func dashboardSite(jwksURL string) string {
	return `http://:PORT {
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + ` {
			claim user_id 1
		}
		user bob ` + bobHash + ` {
			claim user_id 2
		}
		rotate_refresh
		session
		login_limit 6 per 1m
	}
	handle /private/* {
		jwt_auth {
			session /api/token
		}
		respond "hello {http.auth.user.id}"
	}
	handle /app/* {
		jwt_auth
		respond "app {http.auth.user.id}"
	}
	handle /remote/* {
		jwt_auth {
			jwks_url ` + jwksURL + `
		}
		respond "remote {http.auth.user.id}"
	}
	respond 404
}
`
}

// metricTypes is the type of every metric family of an exposition text (its # TYPE lines).
func metricTypes(t *testing.T, text string) map[string]string {
	t.Helper()
	types := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
		}
	}
	return types
}

// TestDashboardQueriesUseExposedSeries: grafana/gatehouse.json parses, picks its Prometheus
// data source through a variable, and every query names a series the built Caddy exposes, of
// the kind the query treats it as (a rate of a counter, a quantile of a histogram, a gauge as
// it is), so that the dashboard cannot drift from the metrics.
func TestDashboardQueriesUseExposedSeries(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	hasVar := false
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && v.Name == "datasource" && v.Query == "prometheus" {
			hasVar = true
		}
	}
	if !hasVar {
		t.Error(`the dashboard has no datasource variable "datasource" of type prometheus`)
	}
	if len(d.Panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}

	js := newJWKSServer(t, jwks(t, jwkOf(t, "k1", &mustEC().PublicKey)))
	js.start(t)
	srv := newCaddyInstance(t).startSites(t, dashboardSite(js.URL()), metricsGlobal)
	_, text := scrape(t, srv)
	types := metricTypes(t, text)
	want := map[string]string{"rate": "counter", "quantile": "histogram", "gauge": "gauge"}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source %q, want ${datasource}", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: a query's data source is %q, want ${datasource}", p.Title, tg.Datasource.UID)
			}
			q, err := parseQuery(tg.Expr, tg.LegendFormat)
			if err != nil {
				t.Errorf("panel %q: %s: %v", p.Title, tg.Expr, err)
				continue
			}
			used[q.metric] = true
			switch typ, ok := types[q.metric]; {
			case !ok:
				t.Errorf("panel %q: %s is not exposed by the built Caddy", p.Title, q.metric)
			case typ != want[q.kind]:
				t.Errorf("panel %q: %s is a %s, but the query treats it as a %s", p.Title, q.metric, typ, want[q.kind])
			}
		}
	}
	// Every Gatehouse series is on the dashboard, but the ones that only tell its size.
	for name := range types {
		if strings.HasPrefix(name, "gatehouse_") && !used[name] && name != "gatehouse_jwt_auth_cache_capacity" &&
			name != "gatehouse_jwks_last_success_timestamp_seconds" {
			t.Errorf("%s is exposed but no panel of the dashboard shows it", name)
		}
	}
}

// dashboardTraffic drives one round of mixed traffic: logins (good ones from addresses of their
// own, wrong passwords from one address until it is rate limited), refreshes with rotation (a
// replay now and then), logouts, requests with tokens (answered from the cache after the first),
// refused tokens, remote tokens, and an unknown kid that makes Caddy fetch the JWK Set.
type dashboardTraffic struct {
	t      *testing.T
	srv    *caddyServer
	js     *jwksServer
	remote string // a token of the remote JWK Set's key
	bobRef string // bob's session refresh cookie
}

func (d *dashboardTraffic) round(i int) {
	t, srv := d.t, d.srv
	var accesses, refreshes []string
	for k := range i%4 + 1 {
		r := sendBody(t, http.MethodPost, srv.URL+"/api/token/", credentials("alice", "alice-pw"),
			"Content-Type: application/json", fmt.Sprintf("X-Forwarded-For: 198.51.100.%d", 10*i+k+1))
		a, rf := tokens(t, r)
		accesses, refreshes = append(accesses, a), append(refreshes, rf)
	}
	for range 2 {
		sendBody(t, http.MethodPost, srv.URL+"/api/token/", credentials("alice", "wrong"),
			"Content-Type: application/json", "X-Forwarded-For: 203.0.113.7")
	}
	for k, rf := range refreshes {
		_, next := tokens(t, postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", rf)))
		if k == 0 && (i == 5 || i == 9) {
			postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", rf)) // a replay: reuse
		} else if k == 1 && i%2 == 0 {
			postJSON(t, srv.URL+"/api/token/blacklist/", tokenField("refresh", next))
		}
	}
	for k := range 10 * (1 + i%3) {
		get(t, srv.URL+"/app/", bearer(accesses[k%len(accesses)]))
	}
	for range 1 + i%2 {
		get(t, srv.URL+"/app/", bearer(tamper(accesses[0])))
		get(t, srv.URL+"/app/")
	}
	for range 5 + i%4 {
		get(t, srv.URL+"/remote/", bearer(d.remote))
	}
	switch i {
	case 2: // an unknown kid: a fetch, which succeeds
		get(t, srv.URL+"/remote/", bearer(esToken(t, mustEC(), "unknown-1")))
	case 9: // later (past the refetch backoff) with the endpoint down: a failed fetch
		d.js.mode.Store(jwksError)
		get(t, srv.URL+"/remote/", bearer(esToken(t, mustEC(), "unknown-2")))
	case 10:
		d.js.mode.Store(jwksServe)
	}
	// bob's browser: a form login, then pages with only the refresh cookie (renewed each time).
	switch {
	case i == 3:
		login := sendBody(t, http.MethodPost, srv.URL+"/api/token/login", "username=bob&password=bob-pw&next=%2Fprivate%2F",
			"Content-Type: application/x-www-form-urlencoded", "Origin: "+srv.URL, "X-Forwarded-For: 192.0.2.20")
		d.bobRef = sessionCookie(login, "gatehouse_refresh")
	case i > 3 && i < 9 && d.bobRef != "":
		page := get(t, srv.URL+"/private/", "Cookie: gatehouse_refresh="+d.bobRef)
		if next := sessionCookie(page, "gatehouse_refresh"); next != "" {
			d.bobRef = next
		}
	}
}

// TestDashboardPicture: a real run, plotted as the dashboard plots it. The built Caddy serves
// the dashboard's site while rounds of mixed traffic go through it, a second apart; its
// /metrics is scraped after each. Every query of grafana/gatehouse.json is evaluated on the
// scrapes (a rate over each interval between two scrapes), and the panels are drawn as inline
// SVG in an HTML page (nothing fetched), which headless Chromium renders to a PNG:
// $GATEHOUSE_DASHBOARD_PNG if set (docs/images/dashboard.png, the picture in README), else
// bin/artifacts/dashboard/dashboard.png (or under $GATEHOUSE_ARTIFACTS). Every panel must plot
// something, and the ones of events the traffic caused must have moved.
func TestDashboardPicture(t *testing.T) {
	t.Parallel()
	node := browserTools(t)
	d := loadDashboard(t)
	key := mustEC()
	js := newJWKSServer(t, jwks(t, jwkOf(t, "k1", &key.PublicKey)))
	js.start(t)
	srv := newCaddyInstance(t).startSites(t, dashboardSite(js.URL()), metricsGlobal)
	traffic := &dashboardTraffic{t: t, srv: srv, js: js, remote: esToken(t, key, "k1")}

	const rounds = 14
	scrapes := make([]scrapeAt, 0, rounds+1)
	snap := func() {
		samples, _ := scrape(t, srv)
		scrapes = append(scrapes, scrapeAt{at: time.Now(), samples: samples})
	}
	start := time.Now()
	snap()
	for i := range rounds {
		traffic.round(i)
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * time.Second)))
		snap()
	}

	// What the picture must show.
	moved := map[string]bool{}
	for _, p := range d.Panels {
		var lines []plotLine
		for _, tg := range p.Targets {
			q, err := parseQuery(tg.Expr, tg.LegendFormat)
			if err != nil {
				t.Fatalf("panel %q: %v", p.Title, err)
			}
			lines = append(lines, q.eval(scrapes)...)
		}
		if len(lines) == 0 {
			t.Errorf("panel %q plots nothing", p.Title)
		}
		for _, l := range lines {
			for _, pt := range l.points {
				if pt.y > 0 {
					moved[p.Title] = true
				}
			}
		}
	}
	for _, title := range []string{"jwt_auth requests by result", "Logins by outcome", "Login latency (password hashing included)",
		"Refreshes by outcome", "Session renewals and logouts", "Reused refresh tokens (security)", "Verified-token cache",
		"Cache entries", "JWKS fetches and failures", "Keys: remote JWK Sets and signing keys", "Store latency p95 by operation"} {
		if !moved[title] {
			t.Errorf("panel %q did not move, though the traffic caused its events", title)
		}
	}

	page, err := renderDashboard(d, scrapes, fmt.Sprintf("Rendered by TestDashboardPicture from %d scrapes of a real Caddy (bin/caddy) under mixed traffic, %s",
		len(scrapes), time.Now().UTC().Format("2006-01-02")))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<script", "src=", "href=", "url(", "@import"} {
		if strings.Contains(page, s) {
			t.Fatalf("the page has %q: it must render with nothing run or fetched", s)
		}
	}
	dir := t.TempDir()
	html := filepath.Join(dir, "dashboard.html")
	writeFile(t, html, page)
	out := os.Getenv("GATEHOUSE_DASHBOARD_PNG")
	if out == "" {
		artifacts := filepath.Join("..", "bin", "artifacts")
		if a := os.Getenv("GATEHOUSE_ARTIFACTS"); a != "" {
			artifacts = a
		}
		out = filepath.Join(artifacts, "dashboard", "dashboard.png")
	}
	if out, err = filepath.Abs(out); err != nil { // node runs in integration/browser
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "dashboard.mjs", html, out)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "GATEHOUSE_CHROMIUM="+chromiumPath())
	cmd.WaitDelay = 5 * time.Second
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node dashboard.mjs: %v\n%s", err, b)
	}
	checkPicture(t, out)
	t.Logf("dashboard picture: %s (page: %s)", out, html)
}

// checkPicture checks that path is a PNG of the whole page (three panels wide, five high) that
// is not blank.
func checkPicture(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	bounds := img.Bounds()
	if bounds.Dx() < 3*panelW || bounds.Dy() < 5*panelH {
		t.Errorf("the picture is %dx%d, too small for the panels", bounds.Dx(), bounds.Dy())
	}
	colors := map[[3]uint32]bool{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 3 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 3 {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	if len(colors) < 20 {
		t.Errorf("the picture has %d colours: blank or nearly", len(colors))
	}
}
