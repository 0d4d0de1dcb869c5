package caddyauth

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// counterValue reads gatehouse_jwt_auth_requests_total{result} from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_jwt_auth_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	t.Fatal("gatehouse_jwt_auth_requests_total is not registered")
	return 0
}

// TestMetrics: two handlers of one config share the counter; each result is counted.
func TestMetrics(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	a, b := &JWTAuth{Secret: testSecret, CORS: &CORS{Origins: []string{"https://a.example"}}}, &JWTAuth{Secret: testSecret, Optional: true}
	for _, j := range []*JWTAuth{a, b} {
		if err := provisionIn(ctx, j); err != nil {
			t.Fatalf("provision: %v", err)
		}
	}
	if a.metrics.vec != b.metrics.vec {
		t.Error("the second handler registered its own collector instead of reusing the first")
	}
	reg := ctx.GetMetricsRegistry()
	if got := counterValue(t, reg, "token_expired"); got != 0 {
		t.Errorf("token_expired starts at %v", got)
	}

	serve(a, bearer(hsToken(`"sub":"alice"`)), nil)
	serve(b, bearer(hsToken(`"sub":"bob"`)), nil)
	serve(a, httptest.NewRequest("GET", "/", nil), nil)
	serve(b, httptest.NewRequest("GET", "/", nil), nil)
	serve(a, bearer("junk"), nil)
	pre := httptest.NewRequest("OPTIONS", "/", nil)
	pre.Header.Set("Origin", "https://a.example")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	serve(a, pre, nil)

	for result, want := range map[string]float64{
		"ok": 2, "missing_token": 1, "anonymous": 1, "malformed_token": 1, "preflight": 1, "token_expired": 0,
	} {
		if got := counterValue(t, reg, result); got != want {
			t.Errorf("result %s counted %v, want %v", result, got, want)
		}
	}
}

// TestMetricsNameTaken: a different collector under the same name is an error, not a panic.
func TestMetricsNameTaken(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_jwt_auth_requests_total", Help: "x",
	}, []string{"other"}))
	if _, err := newAuthMetrics(reg); err == nil {
		t.Error("no error for a clashing collector")
	}
	var nilMetrics *authMetrics
	nilMetrics.count(resultOK) // must not panic
}
