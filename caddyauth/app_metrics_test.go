package caddyauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
)

// gathered is every sample of reg's gatehouse_ series by `name{label="value",...}` (labels in
// name order; a histogram as its _count), and the text of all label values.
func gathered(t *testing.T, reg *prometheus.Registry) (map[string]float64, string) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	var values []string
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "gatehouse_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				values = append(values, l.GetValue())
			}
			sort.Strings(ls)
			key := mf.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[mf.GetName()+"_count{"+strings.Join(ls, ",")+"}"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out, strings.Join(values, "\n")
}

// expectSamples checks that got has each of want's series with its value.
func expectSamples(t *testing.T, when string, got, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: %s is not exported", when, k)
		} else if g != v {
			t.Errorf("%s: %s = %v, want %v", when, k, g, v)
		}
	}
}

// TestAppMetricsCacheAndJWKS: the app's collector exports a jwt_auth's cache (by the handler's
// file:line, without the directory) and its remote JWK Set (by host and path, without the
// query), at 0 before anything happened, then as they move; a signing key ring's keys by issuer.
func TestAppMetricsCacheAndJWKS(t *testing.T) {
	ec := testEC(t)
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(ecJWKS(ec, "k1"))
	}))
	defer srv.Close()
	reg := prometheus.NewPedanticRegistry()
	a := newApp()
	m, err := newAppMetrics(a, reg)
	if err != nil {
		t.Fatal(err)
	}
	j := provision(t, &JWTAuth{Source: "/etc/caddy/Caddyfile:12", CacheSize: 32,
		JWKSURLs: []JWKSURL{{URL: srv.URL + "/jwks?client=not-a-label"}}})
	unwatch := m.watch(j)
	host := strings.TrimPrefix(srv.URL, "http://")
	cache := func(name string) string { return name + `{handler="Caddyfile:12"}` }
	jwks := func(name string) string { return name + `{source="` + host + `/jwks"}` }

	r := j.remoteSources[0].remote
	// The first fetch, from Start; polled rather than joined, so that the fetch for an unknown
	// kid below is the first such (which the backoff does not delay).
	for deadline := time.Now().Add(10 * time.Second); r.Stats().Fetches == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no fetch within 10s of start")
		}
	}
	got, values := gathered(t, reg)
	expectSamples(t, "after the first fetch", got, map[string]float64{
		cache("gatehouse_jwt_auth_cache_hits_total"): 0, cache("gatehouse_jwt_auth_cache_misses_total"): 0,
		cache("gatehouse_jwt_auth_cache_entries"): 0, cache("gatehouse_jwt_auth_cache_capacity"): 32,
		jwks("gatehouse_jwks_fetches_total"): 1, jwks("gatehouse_jwks_fetch_failures_total"): 0, jwks("gatehouse_jwks_keys"): 1,
	})
	if ts := got[jwks("gatehouse_jwks_last_success_timestamp_seconds")]; ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success timestamp %v is not a recent Unix time", ts)
	}
	if strings.Contains(values, "not-a-label") || strings.Contains(values, "/etc/caddy") {
		t.Errorf("a label holds the URL's query or the configuration's directory:\n%s", values)
	}

	tok := signES256(t, ec, `{"alg":"ES256","kid":"k1"}`, claims(`"sub":"alice"`))
	for range 3 {
		if s := serve(j, bearer(tok), nil); !s.nextCalled {
			t.Fatalf("token refused: %s", s.placeholder("http.auth.jwt.error"))
		}
	}
	down.Store(true)
	if r.RefreshFor(context.Background(), "k2") {
		t.Fatal("a fetch from a server that is down loaded keys")
	}
	a.cores["shop"] = &issuerCore{name: "shop", ring: mint.StaticRing(mustHMAC(t))}
	got, _ = gathered(t, reg)
	expectSamples(t, "after three requests and a failed fetch", got, map[string]float64{
		cache("gatehouse_jwt_auth_cache_hits_total"): 2, cache("gatehouse_jwt_auth_cache_misses_total"): 1,
		cache("gatehouse_jwt_auth_cache_entries"): 1,
		jwks("gatehouse_jwks_fetches_total"):      2, jwks("gatehouse_jwks_fetch_failures_total"): 1, jwks("gatehouse_jwks_keys"): 1,
		`gatehouse_issuer_signing_keys{issuer="shop"}`: 1,
	})

	unwatch()
	got, _ = gathered(t, reg)
	if _, ok := got[cache("gatehouse_jwt_auth_cache_hits_total")]; ok {
		t.Error("a handler's cache is still exported after it was cleaned up")
	}
}

func mustHMAC(t *testing.T) *mint.Signer {
	t.Helper()
	s, err := mint.NewHMAC([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStoreMetricsTimeAndFail: an issuer's state on Caddy's storage times each operation of
// its key ring and revocations by name; a missing key or a revoked token is an answer, not an
// error; an outage of the storage counts an error of the operation that met it.
func TestStoreMetricsTimeAndFail(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	storage := kv.NewFailing(kv.NewMemory())
	cfg := &IssuerConfig{Users: testUsers()}
	st, err := cfg.openState(storage, "shop", zap.NewNop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	series := func(name, op string) string {
		return name + `{backend="storage",issuer="shop",operation="` + op + `"}`
	}
	dur := func(op string) string { return series("gatehouse_issuer_store_duration_seconds_count", op) }
	errs := func(op string) string { return series("gatehouse_issuer_store_errors_total", op) }
	want := map[string]float64{}
	for _, op := range storeOps {
		want[dur(op)], want[errs(op)] = 0, 0
	}
	got, _ := gathered(t, reg)
	expectSamples(t, "before any operation", got, want)

	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if _, err := st.storage.Load(ctx, "gatehouse/nothing"); !kv.IsNotExist(err) {
		t.Fatalf("load of a missing key: %v", err)
	}
	if err := st.revocations.Revoke(ctx, "0123456789abcdef0123456789abcdef", exp); err != nil {
		t.Fatal(err)
	}
	if err := st.revocations.Check(ctx, "0123456789abcdef0123456789abcdef", ""); err == nil {
		t.Fatal("a revoked id passed the check")
	}
	storage.Fail(kv.OpDown)
	if err := st.revocations.RevokeFamily(ctx, "fedcba9876543210fedcba9876543210", exp); err == nil {
		t.Fatal("revoking with the storage down succeeded")
	}
	if err := st.storage.Store(ctx, "gatehouse/x", []byte("x")); err == nil {
		t.Fatal("storing with the storage down succeeded")
	}
	want[dur(opKeysLoad)], want[dur(opRevoke)], want[dur(opCheck)] = 1, 1, 1
	want[dur(opRevokeFamily)], want[errs(opRevokeFamily)] = 1, 1
	want[dur(opKeysStore)], want[errs(opKeysStore)] = 1, 1
	got, _ = gathered(t, reg)
	expectSamples(t, "after the operations", got, want)
}

// TestKeyRotationsCounted: a generated key ring loaded when its rotation is overdue rotates,
// and the issuer's rotation counter says so.
func TestKeyRotationsCounted(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	storage := kv.NewMemory()
	now := time.Now()
	clock := &now
	rotations, err := newRotationCounter(reg, "shop")
	if err != nil {
		t.Fatal(err)
	}
	rc := ringConfig(storage, namedPrefix+"shop/", "ES256", time.Hour, time.Hour, zap.NewNop())
	rc.Now = func() time.Time { return *clock }
	rc.OnRotate = rotations.Inc
	if _, err := mint.LoadRing(context.Background(), rc); err != nil {
		t.Fatal(err)
	}
	key := `gatehouse_issuer_key_rotations_total{issuer="shop"}`
	got, _ := gathered(t, reg)
	expectSamples(t, "a new ring", got, map[string]float64{key: 0})
	later := now.Add(2 * time.Hour)
	clock = &later
	if _, err := mint.LoadRing(context.Background(), rc); err != nil {
		t.Fatal(err)
	}
	got, _ = gathered(t, reg)
	expectSamples(t, "the ring loaded two hours later", got, map[string]float64{key: 1})
}
