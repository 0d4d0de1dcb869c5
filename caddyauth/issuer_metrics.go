package caddyauth

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/issuer"
)

// loginBuckets are the bounds (seconds) of the login duration histogram: a login is mostly
// its password hash, from about a millisecond (bcrypt at a low cost, a credentials_url on the
// same host) to seconds (argon2id or bcrypt at a high cost on a busy machine, a queue).
var loginBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// The collectors of the issuer metrics, registered once per registry (one per configuration)
// and shared by every issuer in it, told apart by the label issuer: its name.
var (
	issuerLoginsOpts = prometheus.CounterOpts{
		Name: "gatehouse_issuer_logins_total",
		Help: "Logins to jwt_issuer (JSON and session form), by issuer and outcome: ok, bad_credentials, rate_limited, busy, unavailable, bad_request, cross_site, insecure, error, factor_needed, bad_factor.",
	}
	issuerLoginDurationOpts = prometheus.HistogramOpts{
		Name:    "gatehouse_issuer_login_duration_seconds",
		Help:    "Time jwt_issuer took to answer a login, password hashing included, by issuer.",
		Buckets: loginBuckets,
	}
	issuerRefreshesOpts = prometheus.CounterOpts{
		Name: "gatehouse_issuer_refreshes_total",
		Help: "Token refreshes at jwt_issuer, by issuer and outcome: ok, rotated, reused, blacklisted, expired, invalid, bad_request, unavailable.",
	}
	issuerLogoutsOpts = prometheus.CounterOpts{
		Name: "gatehouse_issuer_logouts_total",
		Help: "Logouts at jwt_issuer (the session logout form and blacklist), by issuer and outcome: ok, no_session, invalid, bad_request, cross_site, unavailable.",
	}
	issuerSessionsOpts = prometheus.CounterOpts{
		Name: "gatehouse_issuer_session_renewals_total",
		Help: "Session cookies renewed for jwt_auth with the refresh cookie, by issuer and outcome: renewed, ended, reused, unavailable.",
	}
)

// issuerMetrics is the issuer.Events of one issuer: the series of its name, made up front so
// that each is exported (as 0) before its first event, and counting one is a map read and an
// atomic add. Outcomes come from the issuer package's constants, never from a request, so no
// user name, address or token can become a label.
type issuerMetrics struct {
	logins, refreshes, logouts, sessions outcomeCounters
	loginDuration                        prometheus.Observer
}

// outcomeCounters are the series of one counter vector for one issuer, by outcome.
type outcomeCounters struct {
	vec    *prometheus.CounterVec
	issuer string
	by     map[string]prometheus.Counter
}

// newOutcomeCounters makes the series of every outcome of issuer on vec.
func newOutcomeCounters(vec *prometheus.CounterVec, issuer string, outcomes []string) outcomeCounters {
	c := outcomeCounters{vec: vec, issuer: issuer, by: make(map[string]prometheus.Counter, len(outcomes))}
	for _, o := range outcomes {
		c.by[o] = vec.WithLabelValues(issuer, o)
	}
	return c
}

// inc adds one event with outcome.
func (c outcomeCounters) inc(outcome string) {
	s, ok := c.by[outcome]
	if !ok {
		// An outcome the issuer package added after the list was taken: still one of its
		// constants, so the label stays bounded.
		s = c.vec.WithLabelValues(c.issuer, outcome)
	}
	s.Inc()
}

// issuerEvents returns the issuer.Events counting the issuer named name on reg, registering
// the collectors on reg unless another issuer did already; nil (counting nothing) when reg is
// nil.
func issuerEvents(reg *prometheus.Registry, name string) (issuer.Events, error) {
	if reg == nil {
		return nil, nil
	}
	m, err := newIssuerMetrics(reg, name)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// newIssuerMetrics registers the issuer collectors on reg (or reuses those registered already)
// and makes every series of the issuer named name.
func newIssuerMetrics(reg *prometheus.Registry, name string) (*issuerMetrics, error) {
	labels := []string{"issuer", "outcome"}
	logins, err := registerShared(reg, prometheus.NewCounterVec(issuerLoginsOpts, labels), issuerLoginsOpts.Name)
	if err != nil {
		return nil, err
	}
	duration, err := registerShared(reg, prometheus.NewHistogramVec(issuerLoginDurationOpts, []string{"issuer"}), issuerLoginDurationOpts.Name)
	if err != nil {
		return nil, err
	}
	refreshes, err := registerShared(reg, prometheus.NewCounterVec(issuerRefreshesOpts, labels), issuerRefreshesOpts.Name)
	if err != nil {
		return nil, err
	}
	logouts, err := registerShared(reg, prometheus.NewCounterVec(issuerLogoutsOpts, labels), issuerLogoutsOpts.Name)
	if err != nil {
		return nil, err
	}
	sessions, err := registerShared(reg, prometheus.NewCounterVec(issuerSessionsOpts, labels), issuerSessionsOpts.Name)
	if err != nil {
		return nil, err
	}
	return &issuerMetrics{
		logins:        newOutcomeCounters(logins, name, issuer.LoginOutcomes()),
		refreshes:     newOutcomeCounters(refreshes, name, issuer.RefreshOutcomes()),
		logouts:       newOutcomeCounters(logouts, name, issuer.LogoutOutcomes()),
		sessions:      newOutcomeCounters(sessions, name, issuer.SessionOutcomes()),
		loginDuration: duration.WithLabelValues(name),
	}, nil
}

// registerShared registers c on reg, or returns the collector of the same kind registered
// already under name (by another issuer or handler of the configuration).
func registerShared[C prometheus.Collector](reg *prometheus.Registry, c C, name string) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		return c, fmt.Errorf("registering jwt_issuer metrics: %w", err)
	}
	existing, ok := are.ExistingCollector.(C)
	if !ok {
		return c, fmt.Errorf("registering jwt_issuer metrics: another collector is registered as %s", name)
	}
	return existing, nil
}

// Login implements issuer.Events.
func (m *issuerMetrics) Login(outcome string, took time.Duration) {
	m.logins.inc(outcome)
	m.loginDuration.Observe(took.Seconds())
}

// Refresh implements issuer.Events.
func (m *issuerMetrics) Refresh(outcome string) { m.refreshes.inc(outcome) }

// Logout implements issuer.Events.
func (m *issuerMetrics) Logout(outcome string) { m.logouts.inc(outcome) }

// Session implements issuer.Events.
func (m *issuerMetrics) Session(outcome string) { m.sessions.inc(outcome) }

var _ issuer.Events = (*issuerMetrics)(nil)
