package mint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// Ring is the signing keys of an issuer: the current signer, and retired ones whose public keys
// stay published and trusted until the last token they signed has expired. It implements
// keys.Provider, so a Verifier can use it directly. Safe for concurrent use.
type Ring struct {
	cfg    RingConfig // zero for a static ring
	static bool

	// mu serialises Maintain; readers only load state.
	mu    sync.Mutex
	state atomic.Pointer[ringState]
}

// ringState is an immutable snapshot of a ring: replaced whole, so Current and JWKS hand out
// the same values until the keys change (the verifier's cache keys on the *keys.Set).
type ringState struct {
	keys []ringKey // in activation order; the last may be waiting for its created time
	set  *keys.Set
	jwks []byte
	raw  []byte // the stored JSON this state was read from or written as; nil for a static ring
}

// publishAhead is how long before it signs a rotated-in key is stored, so that every instance
// sharing the storage (each running Maintain every minute or so) trusts it before the first
// token it signs arrives. It is capped at half of RingConfig.RotateEvery.
const publishAhead = 5 * time.Minute

// Bounds of a rotating ring's configuration.
const (
	// minRotateEvery keeps a misconfigured interval from turning every Maintain into a rotation.
	minRotateEvery = time.Minute
	// maxRingKeys bounds the keys a rotating ring keeps and publishes at once.
	maxRingKeys = 32
)

// StaticRing is a ring of one configured signer (a secret or a key file), never rotated.
func StaticRing(s *Signer) *Ring {
	r := &Ring{static: true}
	r.state.Store(newRingState([]ringKey{{signer: s}}, nil))
	return r
}

// RingConfig configures a ring kept in storage.
type RingConfig struct {
	// Storage holds the ring; every Caddy sharing it uses the same keys.
	Storage kv.Storage
	// Key is the storage key of the ring, e.g. "gatehouse/issuer/ES256/keyring.json".
	Key string
	// Alg of generated keys: "ES256", "EdDSA" or "RS256".
	Alg string
	// RotateEvery makes a new current key when the current one is this old; 0 never rotates.
	RotateEvery time.Duration
	// KeepFor is how long a retired key stays trusted and published: the longest token lifetime.
	KeepFor time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives rotation events (key ids only); nil means zap.NewNop().
	Logger *zap.Logger
	// OnRotate, when set, is called once for each rotation this ring stored: a successor key
	// added to the stored ring (not one another instance stored and this one picked up). It is
	// called with the storage lock held, so it must be quick; it is for metrics.
	OnRotate func()
}

// CheckRotation is the key ring's rule for rotating every (0: never) while keeping retired keys
// for keepFor: not more often than every hour, and not so often that more than a bounded number
// of keys are kept. Configuration parsers call it to refuse a setting before any ring exists.
func CheckRotation(every, keepFor time.Duration) error {
	if every <= 0 {
		return nil
	}
	if every < minRotateEvery {
		return fmt.Errorf("key rotation every %s is too often; rotate at most every %s", every, minRotateEvery)
	}
	if keepFor <= 0 {
		return errors.New("key rotation needs a retention (the longest token lifetime), or tokens signed " +
			"with a retired key would stop verifying")
	}
	// Retired keys pile up for keepFor, one per interval (plus the current and a pending one).
	if n := keepFor/every + 2; n > maxRingKeys {
		least := (keepFor/(maxRingKeys-2) + time.Minute - 1).Truncate(time.Minute)
		return fmt.Errorf("key rotation every %s with tokens living %s would keep %d keys; rotate every %s or less often",
			every, keepFor, n, least)
	}
	return nil
}

// check validates the configuration and applies the defaults.
func (c *RingConfig) check() error {
	switch {
	case c.Storage == nil:
		return errors.New("key ring: no storage")
	case c.Key == "":
		return errors.New("key ring: no storage key")
	case c.Alg != "ES256" && c.Alg != "EdDSA" && c.Alg != "RS256":
		return fmt.Errorf("key ring: cannot generate %q keys; use ES256, EdDSA or RS256", c.Alg)
	case c.RotateEvery < 0 || c.KeepFor < 0:
		return errors.New("key ring: rotation interval and retention must not be negative")
	}
	if err := CheckRotation(c.RotateEvery, c.KeepFor); err != nil {
		return err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// LoadRing loads the ring from storage, creating it (under a storage lock, so concurrent Caddy
// instances agree on one key) when there is none. A stored ring that cannot be read is an
// error, never silently replaced: tokens signed with it would stop working.
func LoadRing(ctx context.Context, cfg RingConfig) (*Ring, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	r := &Ring{cfg: cfg}
	data, err := cfg.Storage.Load(ctx, cfg.Key)
	switch {
	case kv.IsNotExist(err):
		// Created, or read when another instance won the race, under the lock.
		if err := r.update(ctx, nil); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("key ring %s: loading from storage: %w", cfg.Key, err)
	default:
		ks, err := decodeRing(data, cfg.Alg)
		if err != nil {
			return nil, r.unreadable(err)
		}
		r.state.Store(newRingState(ks, data))
	}
	if r.due(r.state.Load().keys, cfg.Now()) {
		if err := r.update(ctx, r.state.Load().keys); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// unreadable is the error for a stored ring that does not decode.
func (r *Ring) unreadable(err error) error {
	return fmt.Errorf("key ring %s in storage is unreadable (%w); fix or restore it: replacing it would "+
		"invalidate every token it signed (delete it only to start over with a new key)", r.cfg.Key, err)
}

// Maintain rotates the key when it is due, drops retired keys older than KeepFor, and picks up a
// rotation another instance stored. The adapter calls it periodically (every minute or so).
func (r *Ring) Maintain(ctx context.Context) error {
	if r.static {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state.Load()
	data, err := r.cfg.Storage.Load(ctx, r.cfg.Key)
	switch {
	case kv.IsNotExist(err):
		// Removed from storage: write the keys in use back, so that instances agree again.
		return r.update(ctx, st.keys)
	case err != nil:
		return fmt.Errorf("key ring %s: loading from storage: %w", r.cfg.Key, err)
	}
	if !bytes.Equal(data, st.raw) {
		ks, err := decodeRing(data, r.cfg.Alg)
		if err != nil {
			// The keys in memory keep working; the error says what to fix.
			return r.unreadable(err)
		}
		r.state.Store(newRingState(ks, data))
		r.cfg.Logger.Info("signing keys changed in storage", zap.String("key", r.cfg.Key), zap.Strings("kids", kids(ks)))
		st = r.state.Load()
	}
	if !r.due(st.keys, r.cfg.Now()) {
		return nil
	}
	return r.update(ctx, st.keys)
}

// update applies due changes to the stored ring under the storage lock: it reads the ring again
// (another instance may have changed it), creates it when there is none (from fallback when
// given, else with a new key), rotates and drops keys as due, stores the result when anything
// changed, and makes it the ring's state.
func (r *Ring) update(ctx context.Context, fallback []ringKey) (err error) {
	if err := r.cfg.Storage.Lock(ctx, r.cfg.Key); err != nil {
		return fmt.Errorf("key ring %s: taking the storage lock: %w", r.cfg.Key, err)
	}
	defer func() {
		// The lock must be released even when ctx has ended.
		if uerr := r.cfg.Storage.Unlock(context.WithoutCancel(ctx), r.cfg.Key); uerr != nil {
			r.cfg.Logger.Warn("releasing the key ring storage lock", zap.String("key", r.cfg.Key), zap.Error(uerr))
		}
	}()
	now := r.cfg.Now()
	var ks []ringKey
	data, err := r.cfg.Storage.Load(ctx, r.cfg.Key)
	changed, rotated := false, false
	switch {
	case kv.IsNotExist(err) && fallback != nil:
		ks, changed = fallback, true
	case kv.IsNotExist(err):
		s, err := Generate(r.cfg.Alg)
		if err != nil {
			return err
		}
		ks, changed = []ringKey{{signer: s, created: now}}, true
		r.cfg.Logger.Info("created signing key", zap.String("key", r.cfg.Key), zap.String("kid", s.Kid))
	case err != nil:
		return fmt.Errorf("key ring %s: loading from storage: %w", r.cfg.Key, err)
	default:
		if ks, err = decodeRing(data, r.cfg.Alg); err != nil {
			return r.unreadable(err)
		}
	}
	if r.due(ks, now) {
		if ks, rotated, err = r.maintain(ks, now); err != nil {
			return err
		}
		changed = true
	}
	if changed {
		if data, err = encodeRing(r.cfg.Alg, ks); err != nil {
			return err
		}
		if err := r.cfg.Storage.Store(ctx, r.cfg.Key, data); err != nil {
			return fmt.Errorf("key ring %s: storing: %w", r.cfg.Key, err)
		}
		if rotated && r.cfg.OnRotate != nil {
			r.cfg.OnRotate()
		}
	}
	if st := r.state.Load(); st == nil || !bytes.Equal(st.raw, data) {
		r.state.Store(newRingState(ks, data))
	}
	return nil
}

// due reports whether maintain would change ks at now.
func (r *Ring) due(ks []ringKey, now time.Time) bool {
	return r.expired(ks, now) > 0 || r.rotationDue(ks, now)
}

// expired counts the retired keys at the front of ks that the last token they signed has
// outlived. Without a KeepFor (a ring whose rotation was switched off) retired keys are kept:
// the tokens they signed may still be live, and nothing says for how long.
func (r *Ring) expired(ks []ringKey, now time.Time) int {
	if r.cfg.KeepFor <= 0 {
		return 0
	}
	n := 0
	for n < len(ks)-1 && !ks[n].retired.IsZero() && !now.Before(ks[n].retired.Add(r.cfg.KeepFor)) {
		n++
	}
	return n
}

// rotationDue reports whether the newest key is active and old enough to publish its successor.
func (r *Ring) rotationDue(ks []ringKey, now time.Time) bool {
	if r.cfg.RotateEvery <= 0 {
		return false
	}
	last := ks[len(ks)-1]
	return !last.created.After(now) && !now.Before(last.created.Add(r.cfg.RotateEvery-r.lead()))
}

// lead is how far ahead of its first use a rotated-in key is published.
func (r *Ring) lead() time.Duration { return min(publishAhead, r.cfg.RotateEvery/2) }

// maintain drops the expired keys of ks and, when due, adds a successor that starts signing a
// lead time from now (or at the scheduled rotation time, if later); rotated says whether it
// did. ks is not modified.
func (r *Ring) maintain(ks []ringKey, now time.Time) (_ []ringKey, rotated bool, _ error) {
	drop := r.expired(ks, now)
	for _, k := range ks[:drop] {
		r.cfg.Logger.Info("dropped retired signing key", zap.String("key", r.cfg.Key), zap.String("kid", k.signer.Kid))
	}
	out := append([]ringKey(nil), ks[drop:]...)
	if r.rotationDue(out, now) {
		s, err := Generate(r.cfg.Alg)
		if err != nil {
			return nil, false, err
		}
		last := &out[len(out)-1]
		start := last.created.Add(r.cfg.RotateEvery)
		if early := now.Add(r.lead()); start.Before(early) {
			start = early
		}
		last.retired = start
		out = append(out, ringKey{signer: s, created: start})
		r.cfg.Logger.Info("rotating signing key", zap.String("key", r.cfg.Key), zap.String("kid", s.Kid),
			zap.String("retiring_kid", last.signer.Kid), zap.Time("signs_from", start))
		rotated = true
	}
	return out, rotated, nil
}

// newRingState makes the snapshot of ks: the verification keys newest first, and the JWK Set.
func newRingState(ks []ringKey, raw []byte) *ringState {
	vks := make([]*keys.Key, 0, len(ks))
	jwks := make([]map[string]any, 0, len(ks))
	for i := len(ks) - 1; i >= 0; i-- {
		vks = append(vks, ks[i].signer.VerifyKey())
		if jwk, ok := ks[i].signer.PublicJWK(); ok {
			jwks = append(jwks, jwk)
		}
	}
	set, _ := json.Marshal(map[string]any{"keys": jwks}) // maps of strings always marshal
	return &ringState{keys: ks, set: keys.NewSet(vks...), jwks: set, raw: raw}
}

func kids(ks []ringKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.signer.Kid
	}
	return out
}

// Signer returns the current signer: the newest key whose created time has come. A key
// published ahead of its time only verifies until then.
func (r *Ring) Signer() *Signer {
	ks := r.state.Load().keys
	if len(ks) > 1 {
		now := r.cfg.Now()
		for i := len(ks) - 1; i > 0; i-- {
			if !ks[i].created.After(now) {
				return ks[i].signer
			}
		}
	}
	return ks[0].signer
}

// Current implements keys.Provider: the verification keys of the current and retired signers.
// It returns the same *keys.Set until the ring changes.
func (r *Ring) Current() *keys.Set { return r.state.Load().set }

// JWKS is the public JWK Set, {"keys":[...]}; {"keys":[]} for an HMAC ring.
// It returns the same bytes until the ring changes; callers must not modify them.
func (r *Ring) JWKS() []byte { return r.state.Load().jwks }
