package caddyauth

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// Results counted besides the refusal reasons.
const (
	resultOK        = "ok"
	resultAnonymous = "anonymous"
	resultPreflight = "preflight"
)

// results lists every result label, made up front so each series is exported (as 0) before its
// first request: a dashboard or an alert on token_expired should not wait for one to happen.
var results = []string{
	resultOK, resultAnonymous, resultPreflight,
	string(verify.ReasonMissing), string(verify.ReasonMultiple), string(verify.ReasonTooLarge),
	string(verify.ReasonMalformed), string(verify.ReasonAlgorithm), string(verify.ReasonCrit),
	string(verify.ReasonNoKeys), string(verify.ReasonUnknownKey), string(verify.ReasonSignature),
	string(verify.ReasonClaims), string(verify.ReasonExpired), string(verify.ReasonNoExp),
	string(verify.ReasonNotYetValid), string(verify.ReasonIssuedInFuture), string(verify.ReasonIssuer),
	string(verify.ReasonAudience), string(verify.ReasonTokenType), string(verify.ReasonUnsafeClaim),
	string(verify.ReasonScope),
}

// authMetrics counts requests by result. A nil *authMetrics counts nothing.
type authMetrics struct {
	vec *prometheus.CounterVec
	// ok is the series of admitted requests, nearly all of them: counting one is an atomic add.
	ok prometheus.Counter
	// counters holds the series of every result, so counting another is a map read and an add.
	counters map[string]prometheus.Counter
}

// newAuthMetrics registers gatehouse_jwt_auth_requests_total on reg. Every jwt_auth handler of a
// config shares one collector: when another handler registered it already, that one is reused.
func newAuthMetrics(reg *prometheus.Registry) (*authMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_jwt_auth_requests_total",
		Help: "Requests seen by jwt_auth, by result: ok, anonymous, preflight, or why the request was refused.",
	}, []string{"result"})
	if err := reg.Register(vec); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("registering jwt_auth metrics: %w", err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			return nil, fmt.Errorf("registering jwt_auth metrics: another collector is registered as gatehouse_jwt_auth_requests_total")
		}
		vec = existing
	}
	m := &authMetrics{vec: vec, counters: make(map[string]prometheus.Counter, len(results))}
	for _, r := range results {
		m.counters[r] = vec.WithLabelValues(r)
	}
	m.ok = m.counters[resultOK]
	return m, nil
}

// count adds one request with this result.
func (m *authMetrics) count(result string) {
	if m == nil {
		return
	}
	if result == resultOK {
		m.ok.Inc()
		return
	}
	c, ok := m.counters[result]
	if !ok {
		// A reason the verify package added after this list was written.
		c = m.vec.WithLabelValues(result)
	}
	c.Inc()
}
