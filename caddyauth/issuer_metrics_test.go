package caddyauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

// The issuer series and the outcomes each must export, for every issuer.
var issuerSeries = map[string][]string{
	"gatehouse_issuer_logins_total":           issuer.LoginOutcomes(),
	"gatehouse_issuer_refreshes_total":        issuer.RefreshOutcomes(),
	"gatehouse_issuer_logouts_total":          issuer.LogoutOutcomes(),
	"gatehouse_issuer_session_renewals_total": issuer.SessionOutcomes(),
}

// issuerSnapshot is what reg exports of the issuer metrics: each counter's value by
// "<name>{<issuer>,<outcome>}" and the login histogram's sample count by "<issuer>".
type issuerSnapshot struct {
	counters      map[string]float64
	loginCount    map[string]uint64
	loginSum      map[string]float64
	labelValues   []string // every label value of every gatehouse series
	missingFamily []string
}

func issuerSnap(t *testing.T, reg *prometheus.Registry) issuerSnapshot {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	s := issuerSnapshot{counters: map[string]float64{}, loginCount: map[string]uint64{}, loginSum: map[string]float64{}}
	seen := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		if _, ok := issuerSeries[name]; !ok && name != "gatehouse_issuer_login_duration_seconds" {
			continue
		}
		seen[name] = true
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
				s.labelValues = append(s.labelValues, l.GetValue())
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				s.counters[name+"{"+labels["issuer"]+","+labels["outcome"]+"}"] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				s.loginCount[labels["issuer"]] = m.GetHistogram().GetSampleCount()
				s.loginSum[labels["issuer"]] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	for name := range issuerSeries {
		if !seen[name] {
			s.missingFamily = append(s.missingFamily, name)
		}
	}
	if !seen["gatehouse_issuer_login_duration_seconds"] {
		s.missingFamily = append(s.missingFamily, "gatehouse_issuer_login_duration_seconds")
	}
	return s
}

func seriesKey(name, iss, outcome string) string { return name + "{" + iss + "," + outcome + "}" }

// expectIssuerMoved checks that every issuer counter of iss moved from before to after by exactly
// want (a seriesKey() to its delta; any counter not in want must not have moved).
func expectIssuerMoved(t *testing.T, what string, before, after issuerSnapshot, iss string, want map[string]float64) {
	t.Helper()
	for name, outcomes := range issuerSeries {
		for _, o := range outcomes {
			k := seriesKey(name, iss, o)
			a, ok := after.counters[k]
			if !ok {
				t.Errorf("%s: series %s is not exported", what, k)
				continue
			}
			if d := a - before.counters[k]; d != want[k] {
				t.Errorf("%s: %s moved by %v, want %v", what, k, d, want[k])
			}
		}
	}
	for k := range want {
		if _, ok := after.counters[k]; !ok {
			t.Errorf("%s: expected series %s does not exist", what, k)
		}
	}
}

// TestIssuerMetricsEachEvent: every series of an issuer is exported at 0 before its first event,
// and each event moves its own series by one and no other.
func TestIssuerMetricsEachEvent(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ev, err := issuerEvents(reg, "shop")
	if err != nil {
		t.Fatal(err)
	}
	start := issuerSnap(t, reg)
	if len(start.missingFamily) != 0 {
		t.Fatalf("not exported before any event: %v", start.missingFamily)
	}
	expectIssuerMoved(t, "no event", issuerSnapshot{}, start, "shop", nil)
	if n, ok := start.loginCount["shop"]; !ok || n != 0 {
		t.Fatalf("login histogram of shop: exported %v, count %d; want exported at 0", ok, n)
	}

	emit := map[string]func(string){
		"gatehouse_issuer_logins_total":           func(o string) { ev.Login(o, 30*time.Millisecond) },
		"gatehouse_issuer_refreshes_total":        ev.Refresh,
		"gatehouse_issuer_logouts_total":          ev.Logout,
		"gatehouse_issuer_session_renewals_total": ev.Session,
	}
	logins := 0
	for name, outcomes := range issuerSeries {
		for _, o := range outcomes {
			before := issuerSnap(t, reg)
			emit[name](o)
			after := issuerSnap(t, reg)
			expectIssuerMoved(t, name+" "+o, before, after, "shop", map[string]float64{seriesKey(name, "shop", o): 1})
			if name == "gatehouse_issuer_logins_total" {
				logins++
			}
		}
	}
	end := issuerSnap(t, reg)
	if got := end.loginCount["shop"]; got != uint64(logins) {
		t.Errorf("login histogram counted %d logins, want %d", got, logins)
	}
	if want := float64(logins) * 0.03; end.loginSum["shop"] < want-1e-9 || end.loginSum["shop"] > want+1e-9 {
		t.Errorf("login histogram sum %v s, want %v s", end.loginSum["shop"], want)
	}
}

// TestIssuerMetricsShared: issuers of one registry share the collectors, each with series of its
// own name; a clashing collector is an error, not a panic; without a registry nothing is counted.
func TestIssuerMetricsShared(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a, err := newIssuerMetrics(reg, "shop")
	if err != nil {
		t.Fatal(err)
	}
	b, err := newIssuerMetrics(reg, "admin")
	if err != nil {
		t.Fatalf("a second issuer on the registry: %v", err)
	}
	if a.logins.vec != b.logins.vec || a.sessions.vec != b.sessions.vec {
		t.Error("the second issuer registered collectors of its own instead of reusing the first's")
	}
	again, err := newIssuerMetrics(reg, "shop") // a second handler of the same issuer
	if err != nil {
		t.Fatal(err)
	}
	before := issuerSnap(t, reg)
	a.Refresh(issuer.RefreshReused)
	again.Refresh(issuer.RefreshReused)
	b.Logout(issuer.LogoutOK)
	after := issuerSnap(t, reg)
	expectIssuerMoved(t, "shop", before, after, "shop", map[string]float64{seriesKey("gatehouse_issuer_refreshes_total", "shop", "reused"): 2})
	expectIssuerMoved(t, "admin", before, after, "admin", map[string]float64{seriesKey("gatehouse_issuer_logouts_total", "admin", "ok"): 1})

	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_issuer_refreshes_total", Help: "x"}, []string{"other"}))
	if _, err := newIssuerMetrics(clash, "shop"); err == nil {
		t.Error("no error for a clashing collector")
	}
	if ev, err := issuerEvents(nil, "shop"); ev != nil || err != nil {
		t.Errorf("without a registry: %v, %v; want a nil Events", ev, err)
	}
}

// TestIssuerMetricsFromHandler: a provisioned jwt_issuer (unnamed, so issuer="default") counts
// what its endpoints answer on its config's registry, each at the place it is decided, and no
// user name, address or token ever becomes a label.
func TestIssuerMetricsFromHandler(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	j := &JWTIssuer{
		BasePath: "/m/token",
		IssuerConfig: IssuerConfig{
			Users:         testUsers(),
			SigningKey:    &SigningKey{Source: keySecret, Secret: testSecret},
			RotateRefresh: true,
			Session:       &IssuerSession{},
			LoginLimit:    &LoginLimit{Attempts: 2, Per: caddy.Duration(time.Minute)},
		},
	}
	if err := j.provision(ctx, kv.NewMemory()); err != nil {
		_ = j.Cleanup()
		t.Fatalf("provision: %v", err)
	}
	defer j.Cleanup()
	reg := ctx.GetMetricsRegistry()
	const iss = "default"
	logins, refreshes := "gatehouse_issuer_logins_total", "gatehouse_issuer_refreshes_total"
	logouts, sessions := "gatehouse_issuer_logouts_total", "gatehouse_issuer_session_renewals_total"

	step := func(what string, want map[string]float64, f func()) {
		t.Helper()
		before := issuerSnap(t, reg)
		f()
		expectIssuerMoved(t, what, before, issuerSnap(t, reg), iss, want)
	}
	var access, refresh string
	step("good login", map[string]float64{seriesKey(logins, iss, "ok"): 1}, func() {
		access, refresh = pair(t, login(t, j, "/m/token", "alice", "alice-pw", "192.0.2.1"))
	})
	step("bad password", map[string]float64{seriesKey(logins, iss, "bad_credentials"): 1}, func() {
		if rec := login(t, j, "/m/token", "alice", "wrong", "192.0.2.1"); rec.Code != http.StatusUnauthorized {
			t.Errorf("bad password: %d", rec.Code)
		}
	})
	step("third login from the address", map[string]float64{seriesKey(logins, iss, "rate_limited"): 1}, func() {
		if rec := login(t, j, "/m/token", "alice", "alice-pw", "192.0.2.1"); rec.Code != http.StatusTooManyRequests {
			t.Errorf("over the limit: %d", rec.Code)
		}
	})
	step("login without a password", map[string]float64{seriesKey(logins, iss, "bad_request"): 1}, func() {
		if rec := call(t, j, http.MethodPost, "/m/token/", `{"username":"alice"}`, "192.0.2.2"); rec.Code != http.StatusBadRequest {
			t.Errorf("no password: %d", rec.Code)
		}
	})
	var next string
	step("refresh", map[string]float64{seriesKey(refreshes, iss, "rotated"): 1}, func() {
		_, next = pair(t, call(t, j, http.MethodPost, "/m/token/refresh/", `{"refresh":"`+refresh+`"}`, ""))
	})
	step("replay", map[string]float64{seriesKey(refreshes, iss, "reused"): 1}, func() {
		if rec := call(t, j, http.MethodPost, "/m/token/refresh/", `{"refresh":"`+refresh+`"}`, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("replay: %d", rec.Code)
		}
	})
	step("the successor after the replay", map[string]float64{seriesKey(refreshes, iss, "blacklisted"): 1}, func() {
		if rec := call(t, j, http.MethodPost, "/m/token/refresh/", `{"refresh":"`+next+`"}`, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("successor of a reused token: %d", rec.Code)
		}
	})
	step("an expired refresh token", map[string]float64{seriesKey(refreshes, iss, "expired"): 1}, func() {
		old := signHS256(testSecret, `{"alg":"HS256","typ":"JWT"}`, `{"token_type":"refresh","exp":1000,"iat":900,"jti":"0123456789abcdef0123456789abcdef","user_id":7}`)
		if rec := call(t, j, http.MethodPost, "/m/token/refresh/", `{"refresh":"`+old+`"}`, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("expired refresh token: %d", rec.Code)
		}
	})
	step("an access token to refresh", map[string]float64{seriesKey(refreshes, iss, "invalid"): 1}, func() {
		if rec := call(t, j, http.MethodPost, "/m/token/refresh/", `{"refresh":"`+access+`"}`, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("access token refreshed: %d", rec.Code)
		}
	})

	_, r2 := pair(t, login(t, j, "/m/token", "bob", "bob-pw", "192.0.2.3"))
	_, r3 := pair(t, login(t, j, "/m/token", "carol", "carol-pw", "192.0.2.3"))
	s := j.handler.Sessions()
	renew := func(raw string) error {
		r := httptest.NewRequest(http.MethodGet, "/private/", nil)
		r.Host = "localhost"
		_, err := s.Renew(httptest.NewRecorder(), r, raw)
		return err
	}
	step("session renewal", map[string]float64{seriesKey(sessions, iss, "renewed"): 1}, func() {
		if err := renew(r2); err != nil {
			t.Errorf("renewal: %v", err)
		}
	})
	step("session with a garbage cookie", map[string]float64{seriesKey(sessions, iss, "ended"): 1}, func() {
		if err := renew("x.y.z"); err == nil {
			t.Error("a garbage cookie renewed")
		}
	})
	step("blacklist", map[string]float64{seriesKey(logouts, iss, "ok"): 1}, func() {
		if rec := call(t, j, http.MethodPost, "/m/token/blacklist/", `{"refresh":"`+r3+`"}`, ""); rec.Code != http.StatusOK {
			t.Errorf("blacklist: %d", rec.Code)
		}
	})
	step("blacklist again", map[string]float64{seriesKey(logouts, iss, "invalid"): 1}, func() {
		if rec := call(t, j, http.MethodPost, "/m/token/blacklist/", `{"refresh":"`+r3+`"}`, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("blacklist again: %d", rec.Code)
		}
	})
	step("logout form without a session", map[string]float64{seriesKey(logouts, iss, "no_session"): 1}, func() {
		r := httptest.NewRequest(http.MethodPost, "/m/token/logout", nil)
		r.Host = "localhost"
		r.Header.Set("Origin", "http://localhost")
		rec := httptest.NewRecorder()
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), rec, new(caddyhttp.Server))
		if err := j.ServeHTTP(rec, r, nil); err != nil || rec.Code != http.StatusSeeOther {
			t.Errorf("logout: %v %d", err, rec.Code)
		}
	})
	step("verify and jwks count nothing", nil, func() {
		call(t, j, http.MethodPost, "/m/token/verify/", `{"token":"`+access+`"}`, "")
		call(t, j, http.MethodGet, "/m/token/jwks.json", "", "")
	})

	end := issuerSnap(t, reg)
	if got := end.loginCount[iss]; got != 6 {
		t.Errorf("login histogram counted %d logins, want 6", got)
	}
	for _, v := range end.labelValues {
		if v != iss && !isIssuerOutcome(v) {
			t.Errorf("label value %q is neither the issuer's name nor an outcome", v)
		}
	}
}

// isIssuerOutcome reports whether v is one of the issuer package's outcomes.
func isIssuerOutcome(v string) bool {
	for _, outcomes := range issuerSeries {
		for _, o := range outcomes {
			if o == v {
				return true
			}
		}
	}
	return false
}
