package caddyauth

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/revoke"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

// storeBuckets are the bounds (seconds) of the store latency histogram: a file or Redis
// operation on the same host takes well under a millisecond, a remote Redis or a shared file
// system some milliseconds, and a storage lock may wait for another instance for seconds.
var storeBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// The backends of the store label: Caddy's storage (the file system unless configured
// otherwise), or the issuer's store redis.
const (
	backendStorage = "storage"
	backendRedis   = "redis"
)

// The operations of the store label. The key ring's go through kv.Storage; the revocations'
// and the Redis login limits' are the issuer's own, whichever backend does them.
const (
	opKeysLoad     = "keys_load"
	opKeysStore    = "keys_store"
	opKeysLock     = "keys_lock"
	opKeysUnlock   = "keys_unlock"
	opKeysDelete   = "keys_delete"
	opKeysList     = "keys_list"
	opKeysExists   = "keys_exists"
	opCheck        = "check"
	opRevoke       = "revoke"
	opRevokeFamily = "revoke_family"
	opRotate       = "rotate"
	opPurge        = "purge"
	opLimit        = "limit"
	opLimitRefund  = "limit_refund"
)

// storeOps are the operations every issuer does, whose series are made up front; a limit's only
// with Redis (the in-memory limits of the storage backend are no store operation).
var storeOps = []string{opKeysLoad, opKeysStore, opKeysLock, opKeysUnlock, opCheck, opRevoke, opRevokeFamily, opRotate, opPurge}

var (
	storeDurationOpts = prometheus.HistogramOpts{
		Name:    "gatehouse_issuer_store_duration_seconds",
		Help:    "Time an operation on jwt_issuer's state store took (key ring, revocations, Redis login limits), by issuer, backend (storage, redis) and operation.",
		Buckets: storeBuckets,
	}
	storeErrorsOpts = prometheus.CounterOpts{
		Name: "gatehouse_issuer_store_errors_total",
		Help: "Operations on jwt_issuer's state store that failed (the store could not be read or written; the request failed closed), by issuer, backend and operation.",
	}
	keyRotationsOpts = prometheus.CounterOpts{
		Name: "gatehouse_issuer_key_rotations_total",
		Help: "Signing key rotations (rotate_keys) this Caddy stored, by issuer.",
	}
)

// storeMetrics times and counts the failures of one issuer's store operations. A nil
// *storeMetrics counts nothing.
type storeMetrics struct {
	durVec *prometheus.HistogramVec
	errVec *prometheus.CounterVec
	issuer string
	// backend is a label value of the series.
	backend string
	dur     map[string]prometheus.Observer
	errs    map[string]prometheus.Counter
}

// newStoreMetrics registers the store collectors on reg (or reuses those registered already)
// and makes the series of the issuer named name on backend; nil when reg is nil.
func newStoreMetrics(reg *prometheus.Registry, name, backend string) (*storeMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	labels := []string{"issuer", "backend", "operation"}
	dur, err := registerShared(reg, prometheus.NewHistogramVec(storeDurationOpts, labels), storeDurationOpts.Name)
	if err != nil {
		return nil, err
	}
	errs, err := registerShared(reg, prometheus.NewCounterVec(storeErrorsOpts, labels), storeErrorsOpts.Name)
	if err != nil {
		return nil, err
	}
	m := &storeMetrics{durVec: dur, errVec: errs, issuer: name, backend: backend,
		dur: map[string]prometheus.Observer{}, errs: map[string]prometheus.Counter{}}
	ops := storeOps
	if backend == backendRedis {
		ops = append(append([]string(nil), storeOps...), opLimit, opLimitRefund)
	}
	for _, op := range ops {
		m.dur[op] = dur.WithLabelValues(name, backend, op)
		m.errs[op] = errs.WithLabelValues(name, backend, op)
	}
	return m, nil
}

// done records an operation op begun at start; failed says the store failed it.
func (m *storeMetrics) done(op string, start time.Time, failed bool) {
	if m == nil {
		return
	}
	d, ok := m.dur[op]
	if !ok { // an operation the list above does not have: still one of the constants
		d = m.durVec.WithLabelValues(m.issuer, m.backend, op)
	}
	d.Observe(time.Since(start).Seconds())
	if failed {
		e, ok := m.errs[op]
		if !ok {
			e = m.errVec.WithLabelValues(m.issuer, m.backend, op)
		}
		e.Inc()
	}
}

// newRotationCounter is the key rotation counter of the issuer named name on reg; nil when reg
// is nil.
func newRotationCounter(reg *prometheus.Registry, name string) (prometheus.Counter, error) {
	if reg == nil {
		return nil, nil
	}
	vec, err := registerShared(reg, prometheus.NewCounterVec(keyRotationsOpts, []string{"issuer"}), keyRotationsOpts.Name)
	if err != nil {
		return nil, err
	}
	return vec.WithLabelValues(name), nil
}

// observedStorage is the key ring's kv.Storage, timed. A key that does not exist is an answer,
// not a failure.
type observedStorage struct {
	kv.Storage
	m *storeMetrics
}

func (s observedStorage) Store(ctx context.Context, key string, value []byte) error {
	start := time.Now()
	err := s.Storage.Store(ctx, key, value)
	s.m.done(opKeysStore, start, err != nil)
	return err
}

func (s observedStorage) Load(ctx context.Context, key string) ([]byte, error) {
	start := time.Now()
	v, err := s.Storage.Load(ctx, key)
	s.m.done(opKeysLoad, start, err != nil && !kv.IsNotExist(err))
	return v, err
}

func (s observedStorage) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.Storage.Delete(ctx, key)
	s.m.done(opKeysDelete, start, err != nil && !kv.IsNotExist(err))
	return err
}

func (s observedStorage) Exists(ctx context.Context, key string) bool {
	start := time.Now()
	ok := s.Storage.Exists(ctx, key)
	s.m.done(opKeysExists, start, false)
	return ok
}

func (s observedStorage) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	start := time.Now()
	keys, err := s.Storage.List(ctx, path, recursive)
	s.m.done(opKeysList, start, err != nil && !kv.IsNotExist(err))
	return keys, err
}

func (s observedStorage) Lock(ctx context.Context, name string) error {
	start := time.Now()
	err := s.Storage.Lock(ctx, name)
	s.m.done(opKeysLock, start, err != nil)
	return err
}

func (s observedStorage) Unlock(ctx context.Context, name string) error {
	start := time.Now()
	err := s.Storage.Unlock(ctx, name)
	s.m.done(opKeysUnlock, start, err != nil)
	return err
}

// observedRevocations is an issuer's revocations, timed. A revoked, reused or foreign token
// is the store's answer, not its failure.
type observedRevocations struct {
	revocations
	m *storeMetrics
}

// storeFailed reports whether err means the store could not be read or written.
func storeFailed(err error) bool {
	return err != nil && !errors.Is(err, revoke.ErrRevoked) && !errors.Is(err, revoke.ErrReused) &&
		!errors.Is(err, revoke.ErrInvalidID)
}

func (r observedRevocations) Check(ctx context.Context, jti, family string) error {
	start := time.Now()
	err := r.revocations.Check(ctx, jti, family)
	r.m.done(opCheck, start, storeFailed(err))
	return err
}

func (r observedRevocations) Revoke(ctx context.Context, jti string, exp time.Time) error {
	start := time.Now()
	err := r.revocations.Revoke(ctx, jti, exp)
	r.m.done(opRevoke, start, storeFailed(err))
	return err
}

func (r observedRevocations) RevokeFamily(ctx context.Context, family string, exp time.Time) error {
	start := time.Now()
	err := r.revocations.RevokeFamily(ctx, family, exp)
	r.m.done(opRevokeFamily, start, storeFailed(err))
	return err
}

func (r observedRevocations) RotateWithin(ctx context.Context, jti, family string, exp time.Time, grace time.Duration) error {
	start := time.Now()
	err := r.revocations.RotateWithin(ctx, jti, family, exp, grace)
	r.m.done(opRotate, start, storeFailed(err))
	return err
}

func (r observedRevocations) Purge(ctx context.Context) (int, error) {
	start := time.Now()
	n, err := r.revocations.Purge(ctx)
	r.m.done(opPurge, start, err != nil)
	return n, err
}

// observedLimit is a Redis login limit, timed.
type observedLimit struct {
	issuer.Limit
	m *storeMetrics
}

func (l observedLimit) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	start := time.Now()
	ok, retry, err := l.Limit.Allow(ctx, key)
	l.m.done(opLimit, start, err != nil)
	return ok, retry, err
}

func (l observedLimit) Reserve(ctx context.Context, key string) (func(), bool, time.Duration, error) {
	start := time.Now()
	refund, ok, retry, err := l.Limit.Reserve(ctx, key)
	l.m.done(opLimit, start, err != nil)
	if refund != nil {
		inner := refund
		refund = func() {
			start := time.Now()
			inner()
			// A refund reports no error; a failed one is logged by the limiter.
			l.m.done(opLimitRefund, start, false)
		}
	}
	return refund, ok, retry, err
}

// Interface guards
var (
	_ kv.Storage   = observedStorage{}
	_ revocations  = observedRevocations{}
	_ issuer.Limit = observedLimit{}
)
