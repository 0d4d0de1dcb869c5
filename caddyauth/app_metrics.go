package caddyauth

import (
	"net/url"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// The series read from the core when scraped: the remote JWK Sets' fetches, the verified-token
// caches of the jwt_auth handlers, and the signing keys each issuer publishes. The core counts
// (keys.Remote.Stats, verify.Verifier.CacheStats); the gatehouse app of a configuration turns
// the counts into series on that configuration's registry. A Remote outlives a reload, so its
// counts go on from the previous configuration's; a cache is new with each configuration.
var (
	jwksFetchesDesc = prometheus.NewDesc("gatehouse_jwks_fetches_total",
		"Fetches of a jwks_url JWK Set that ended (successful or not), by source (the URL's host and path).", []string{"source"}, nil)
	jwksFailuresDesc = prometheus.NewDesc("gatehouse_jwks_fetch_failures_total",
		"Fetches of a jwks_url JWK Set that failed (unreachable, a status other than 200, not a usable set); the last good keys stay in use.", []string{"source"}, nil)
	jwksKeysDesc = prometheus.NewDesc("gatehouse_jwks_keys",
		"Keys in the JWK Set last fetched from a jwks_url (0 until the first fetch succeeds: every token is refused).", []string{"source"}, nil)
	jwksLastOKDesc = prometheus.NewDesc("gatehouse_jwks_last_success_timestamp_seconds",
		"When a fetch of a jwks_url last succeeded (Unix time; 0 if none has).", []string{"source"}, nil)
	cacheHitsDesc = prometheus.NewDesc("gatehouse_jwt_auth_cache_hits_total",
		"Tokens jwt_auth answered from its cache of verified tokens, by handler (where it is configured, e.g. Caddyfile:12).", []string{"handler"}, nil)
	cacheMissesDesc = prometheus.NewDesc("gatehouse_jwt_auth_cache_misses_total",
		"Tokens jwt_auth did not find in its cache (or found stale) and verified in full, by handler.", []string{"handler"}, nil)
	cacheEntriesDesc = prometheus.NewDesc("gatehouse_jwt_auth_cache_entries",
		"Verified tokens in jwt_auth's cache now, by handler.", []string{"handler"}, nil)
	cacheCapacityDesc = prometheus.NewDesc("gatehouse_jwt_auth_cache_capacity",
		"The most verified tokens jwt_auth's cache holds (cache_size), by handler.", []string{"handler"}, nil)
	signingKeysDesc = prometheus.NewDesc("gatehouse_issuer_signing_keys",
		"Keys jwt_issuer publishes and trusts now: the current signing key, a successor published ahead of its use, retired keys still trusted, by issuer.", []string{"issuer"}, nil)
)

// sourcedRemote is a remote JWK Set and its source label.
type sourcedRemote struct {
	source string
	remote *keys.Remote
}

// watchedAuth is what the metrics read of one provisioned jwt_auth.
type watchedAuth struct {
	handler  string
	verifier *verify.Verifier
	remotes  []sourcedRemote
}

// appMetrics is the collector of a configuration's gatehouse app.
type appMetrics struct {
	app *App

	mu    sync.Mutex
	auths map[*JWTAuth]watchedAuth
}

// newAppMetrics registers the app's collector on reg; nil when reg is nil.
func newAppMetrics(a *App, reg *prometheus.Registry) (*appMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &appMetrics{app: a, auths: map[*JWTAuth]watchedAuth{}}
	if err := reg.Register(m); err != nil {
		return nil, err
	}
	return m, nil
}

// watch adds a provisioned jwt_auth's cache and remote JWK Sets to the series, until the
// returned function is called.
func (m *appMetrics) watch(j *JWTAuth) (unwatch func()) {
	if m == nil {
		return func() {}
	}
	w := watchedAuth{handler: handlerLabel(j.Source), verifier: j.verifier, remotes: j.remoteSources}
	m.mu.Lock()
	m.auths[j] = w
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.auths, j)
		m.mu.Unlock()
	}
}

// handlerLabel is the handler label of a jwt_auth configured at source ("/etc/caddy/Caddyfile:12"):
// the file's name and the line ("Caddyfile:12"), so that the series keep their name when the
// configuration moves; "jwt_auth" for one configured in JSON, without a source.
func handlerLabel(source string) string {
	if source == "" {
		return "jwt_auth"
	}
	return filepath.Base(source)
}

// jwksSource is the source label of a jwks_url: its host (with the port) and path, without the
// scheme, a password or the query, which may hold secrets.
func jwksSource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "invalid"
	}
	return u.Host + u.Path
}

// Describe implements prometheus.Collector.
func (m *appMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jwksFetchesDesc, jwksFailuresDesc, jwksKeysDesc, jwksLastOKDesc,
		cacheHitsDesc, cacheMissesDesc, cacheEntriesDesc, cacheCapacityDesc, signingKeysDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Handlers and Remotes that share a label (a snippet
// imported into several sites; one jwks_url with two refresh intervals) are added up (the
// keys and the last success of a jwks_url: the largest and the latest), so that each series is
// exported once.
func (m *appMetrics) Collect(ch chan<- prometheus.Metric) {
	type cacheSum struct{ hits, misses, entries, capacity float64 }
	type jwksSum struct{ fetches, failures, keys, lastOK float64 }
	caches := map[string]*cacheSum{}
	sources := map[string]*jwksSum{}
	seen := map[*keys.Remote]bool{}
	m.mu.Lock()
	for _, w := range m.auths {
		if st, ok := w.verifier.CacheStats(); ok {
			c := caches[w.handler]
			if c == nil {
				c = &cacheSum{}
				caches[w.handler] = c
			}
			c.hits += float64(st.Hits)
			c.misses += float64(st.Misses)
			c.entries += float64(st.Entries)
			c.capacity += float64(st.Capacity)
		}
		for _, r := range w.remotes {
			if seen[r.remote] {
				continue // shared by several handlers
			}
			seen[r.remote] = true
			st := r.remote.Stats()
			s := sources[r.source]
			if s == nil {
				s = &jwksSum{}
				sources[r.source] = s
			}
			s.fetches += float64(st.Fetches)
			s.failures += float64(st.Failures)
			s.keys = max(s.keys, float64(st.Keys)) // the same set, fetched twice: not twice the keys
			if !st.LastOK.IsZero() {
				s.lastOK = max(s.lastOK, float64(st.LastOK.UnixNano())/1e9)
			}
		}
	}
	m.mu.Unlock()
	for h, c := range caches {
		ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, c.hits, h)
		ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, c.misses, h)
		ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, c.entries, h)
		ch <- prometheus.MustNewConstMetric(cacheCapacityDesc, prometheus.GaugeValue, c.capacity, h)
	}
	for src, s := range sources {
		ch <- prometheus.MustNewConstMetric(jwksFetchesDesc, prometheus.CounterValue, s.fetches, src)
		ch <- prometheus.MustNewConstMetric(jwksFailuresDesc, prometheus.CounterValue, s.failures, src)
		ch <- prometheus.MustNewConstMetric(jwksKeysDesc, prometheus.GaugeValue, s.keys, src)
		ch <- prometheus.MustNewConstMetric(jwksLastOKDesc, prometheus.GaugeValue, s.lastOK, src)
	}

	a := m.app
	a.mu.Lock()
	issuers := make(map[string]float64, len(a.cores))
	for name, c := range a.cores {
		issuers[name] = float64(c.ring.Current().Len())
	}
	a.mu.Unlock()
	for name, n := range issuers {
		ch <- prometheus.MustNewConstMetric(signingKeysDesc, prometheus.GaugeValue, n, name)
	}
}

var _ prometheus.Collector = (*appMetrics)(nil)
