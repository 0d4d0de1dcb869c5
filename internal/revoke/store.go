package revoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"path"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

var (
	// ErrRevoked: the token id is blacklisted, or its family was revoked.
	ErrRevoked = errors.New("token is blacklisted")
	// ErrReused: a rotated refresh token was presented again; its family is now revoked.
	ErrReused = errors.New("refresh token reuse detected")
)

// Config configures a Store.
type Config struct {
	// Storage holds the state; storage failures are returned to the caller (fail closed).
	Storage kv.Storage
	// Prefix is the storage path of this issuer's state, e.g. "gatehouse/issuer/revoke".
	Prefix string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives security events (reuse detected: family id only); nil means zap.NewNop().
	Logger *zap.Logger
}

// The storage layout under Config.Prefix. Each value is an entry: {"exp":<unix seconds>}, the
// expiry of the token(s) it is about; a used mark also has "at", when it was written (Unix ms;
// a mark without it, from before, counts as used whatever the grace).
const (
	dirRevoked = "jti"    // <prefix>/jti/<jti>: a blacklisted token id
	dirUsed    = "used"   // <prefix>/used/<jti>: a refresh token id used up by rotation
	dirFamily  = "family" // <prefix>/family/<id>: a revoked refresh token family
	lockDir    = "rotate" // lock <prefix>/rotate/<jti>: held while one rotation decides
)

// stripes is how many in-process mutexes serialize rotations by jti. Rotations of one jti
// always meet on one stripe, so that the storage lock (which FileStorage polls once a second)
// is only ever contended across processes.
const stripes = 64

// entry is a stored value.
type entry struct {
	Exp *int64 `json:"exp"`
	// At is when a used mark was written (Unix ms), for RotateWithin's grace.
	At *int64 `json:"at,omitempty"`
}

// Store keeps revoked token ids, used (rotated) refresh token ids and revoked families. It
// stores ids, never tokens. Entries carry the expiry of the token they are about and are purged
// after it. Safe for concurrent use, and across processes sharing the storage (storage locks).
type Store struct {
	storage kv.Storage
	prefix  string
	now     func() time.Time
	log     *zap.Logger
	seed    maphash.Seed
	stripes [stripes]sync.Mutex
}

// New returns a Store.
func New(cfg Config) (*Store, error) {
	if cfg.Storage == nil {
		return nil, errors.New("revoke: a storage is required")
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	s := &Store{storage: cfg.Storage, prefix: cfg.Prefix, now: cfg.Now, log: cfg.Logger, seed: maphash.MakeSeed()}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	return s, nil
}

// checkPrefix accepts a relative, clean, slash-separated storage path.
func checkPrefix(p string) error {
	switch {
	case p == "":
		return errors.New("revoke: a storage prefix is required, e.g. gatehouse/issuer/revoke")
	case strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "." ||
		p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "\\"):
		return fmt.Errorf("revoke: storage prefix %q must be a relative clean path without '..', e.g. gatehouse/issuer/revoke", p)
	}
	return nil
}

// key returns the storage key of id (validated) in dir.
func (s *Store) key(dir, id string) string { return s.prefix + "/" + dir + "/" + id }

// lockName returns the name of the storage lock for rotating jti.
func (s *Store) lockName(jti string) string { return s.key(lockDir, jti) }

// Check returns ErrRevoked when jti is revoked or family is revoked ("" for none), nil when the
// token may be used, or a storage error.
func (s *Store) Check(ctx context.Context, jti, family string) error {
	if err := CheckID("token id (jti)", jti); err != nil {
		return err
	}
	if family != "" {
		if err := CheckID("family id", family); err != nil {
			return err
		}
	}
	return s.check(ctx, jti, family)
}

// check is Check of validated ids.
func (s *Store) check(ctx context.Context, jti, family string) error {
	if found, err := s.has(ctx, s.key(dirRevoked, jti)); err != nil || found {
		return revokedOr(found, err)
	}
	if family == "" {
		return nil
	}
	found, err := s.has(ctx, s.key(dirFamily, family))
	return revokedOr(found, err)
}

func revokedOr(found bool, err error) error {
	if err != nil {
		return err
	}
	if found {
		return ErrRevoked
	}
	return nil
}

// has reports whether key holds an entry. It loads rather than calling Exists, whose bool
// cannot tell a missing key from an unreachable storage: only a definite "not there" is false.
// Whatever the value, a present key counts (a damaged entry still revokes).
func (s *Store) has(ctx context.Context, key string) (bool, error) {
	_, err := s.storage.Load(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case kv.IsNotExist(err):
		return false, nil
	}
	return false, fmt.Errorf("revoke: reading %s: %w", key, err)
}

// Revoke blacklists jti until exp.
func (s *Store) Revoke(ctx context.Context, jti string, exp time.Time) error {
	if err := CheckID("token id (jti)", jti); err != nil {
		return err
	}
	return s.put(ctx, s.key(dirRevoked, jti), exp)
}

// RevokeFamily revokes every refresh token of family until exp.
func (s *Store) RevokeFamily(ctx context.Context, family string, exp time.Time) error {
	if err := CheckID("family id", family); err != nil {
		return err
	}
	return s.put(ctx, s.key(dirFamily, family), exp)
}

// put stores an entry expiring at exp at key, unless one expiring no earlier is there already:
// an entry is never shortened, and a repeated revocation costs no write.
func (s *Store) put(ctx context.Context, key string, exp time.Time) error {
	if exp.IsZero() {
		return errors.New("revoke: the token's expiry is required")
	}
	secs := unixCeil(exp)
	old, err := s.storage.Load(ctx, key)
	switch {
	case err == nil:
		if e, ok := decode(old); ok && *e.Exp >= secs {
			return nil
		}
	case !kv.IsNotExist(err):
		return fmt.Errorf("revoke: reading %s: %w", key, err)
	}
	if err := s.storage.Store(ctx, key, encode(secs)); err != nil {
		return fmt.Errorf("revoke: writing %s: %w", key, err)
	}
	return nil
}

// Rotate marks refresh token jti of family (expiring at exp) as used, atomically: of any number
// of concurrent calls for one jti, in one process or several sharing the storage, exactly one
// returns nil. Every other call, and any later one, returns ErrReused after revoking the family
// until exp (RFC 9700 section 4.14.2) and logging a security event.
//
// A token revoked meanwhile (jti or family, e.g. by a logout racing the refresh) is not
// rotated: Rotate returns ErrRevoked. A storage failure is returned and leaves the token unused
// unless the failure came after the mark was written.
func (s *Store) Rotate(ctx context.Context, jti, family string, exp time.Time) error {
	return s.RotateWithin(ctx, jti, family, exp, 0)
}

// RotateWithin is Rotate, except that a call less than grace after the winning one (a browser's
// parallel requests carrying one expiring session, which may reach any instance) is not reuse: it
// returns nil too, and the caller mints it a successor of its own. After grace, reuse is reuse.
func (s *Store) RotateWithin(ctx context.Context, jti, family string, exp time.Time, grace time.Duration) error {
	if err := CheckID("token id (jti)", jti); err != nil {
		return err
	}
	if err := CheckID("family id", family); err != nil {
		return err
	}
	if exp.IsZero() {
		return errors.New("revoke: the token's expiry is required")
	}
	reused, err := s.use(ctx, jti, family, exp, grace)
	if err != nil || !reused {
		return err
	}
	// A security event: the family id identifies the session, and is no credential.
	s.log.Warn("refresh token reuse detected; revoking its family", zap.String("family", family))
	if err := s.RevokeFamily(ctx, family, exp); err != nil {
		return fmt.Errorf("revoke: refresh token reuse detected but its family could not be revoked: %w", err)
	}
	return ErrReused
}

// use marks jti used unless it was already, which it reports. The in-process stripe comes
// first, so that one process's concurrent calls queue there and take the storage lock one at a
// time, uncontended; every call after the winner sees the mark before needing the lock.
func (s *Store) use(ctx context.Context, jti, family string, exp time.Time, grace time.Duration) (reused bool, err error) {
	mu := &s.stripes[maphash.String(s.seed, jti)%stripes]
	mu.Lock()
	defer mu.Unlock()

	used := s.key(dirUsed, jti)
	switch found, err := s.usedMark(ctx, used, grace); {
	case err != nil:
		return false, err
	case found == markGrace:
		return false, s.check(ctx, jti, family) // a logout since still ends it
	case found == markUsed:
		return true, nil
	}
	name := s.lockName(jti)
	if err := s.storage.Lock(ctx, name); err != nil {
		return false, fmt.Errorf("revoke: taking the rotation lock: %w", err)
	}
	defer func() {
		// Released even when the request was abandoned: a held lock would stall the next
		// rotation of this token in every process until the storage declares it stale.
		if err := s.storage.Unlock(context.WithoutCancel(ctx), name); err != nil {
			s.log.Error("cannot release the rotation lock", zap.String("lock", name), zap.Error(err))
		}
	}()
	// Another process may have won since the first look.
	switch found, err := s.usedMark(ctx, used, grace); {
	case err != nil:
		return false, err
	case found == markGrace:
		return false, s.check(ctx, jti, family)
	case found == markUsed:
		return true, nil
	}
	if err := s.check(ctx, jti, family); err != nil {
		return false, err
	}
	at := s.now().UnixMilli()
	b, _ := json.Marshal(entry{Exp: ptr(unixCeil(exp)), At: &at}) // cannot fail: two integers
	if err := s.storage.Store(ctx, used, b); err != nil {
		return false, fmt.Errorf("revoke: writing %s: %w", used, err)
	}
	return false, nil
}

// What usedMark found.
const (
	markNone  = iota // no mark: the token is unused
	markUsed         // used: a reuse
	markGrace        // used less than the grace ago: let it rotate too
)

// usedMark reads the used mark at key. A mark without a time (written before marks had one),
// or one that does not decode, counts as used.
func (s *Store) usedMark(ctx context.Context, key string, grace time.Duration) (int, error) {
	b, err := s.storage.Load(ctx, key)
	switch {
	case kv.IsNotExist(err):
		return markNone, nil
	case err != nil:
		return markNone, fmt.Errorf("revoke: reading %s: %w", key, err)
	}
	if grace > 0 {
		var e entry
		if json.Unmarshal(b, &e) == nil && e.At != nil && s.now().Sub(time.UnixMilli(*e.At)) < grace {
			return markGrace, nil
		}
	}
	return markUsed, nil
}

func ptr[T any](v T) *T { return &v }

// Purge deletes the entries of tokens that have expired and returns how many it deleted.
//
// An entry is kept until verify.MaxLeeway after its exp, so that no verifier's leeway can
// accept a revoked token whose entry is gone. Entries it cannot read are kept (and logged): an
// unknown expiry is never taken as a past one. It stops at the first storage failure.
func (s *Store) Purge(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-verify.MaxLeeway).Unix()
	n := 0
	for _, dir := range [...]string{dirRevoked, dirUsed, dirFamily, dirUser} {
		keys, err := s.storage.List(ctx, s.prefix+"/"+dir, false)
		if kv.IsNotExist(err) {
			continue // nothing was ever stored there
		}
		if err != nil {
			return n, fmt.Errorf("revoke: listing %s/%s: %w", s.prefix, dir, err)
		}
		for _, key := range keys {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if !validID(path.Base(key)) {
				continue // not an entry of ours (a storage's temporary file, say)
			}
			v, err := s.storage.Load(ctx, key)
			if kv.IsNotExist(err) {
				continue // purged meanwhile by another process
			}
			if err != nil {
				return n, fmt.Errorf("revoke: reading %s: %w", key, err)
			}
			e, ok := decode(v)
			if !ok {
				s.log.Warn("unreadable revocation entry kept; delete it by hand if it is not needed", zap.String("key", key))
				continue
			}
			if *e.Exp >= cutoff {
				continue
			}
			if err := s.storage.Delete(ctx, key); err != nil && !kv.IsNotExist(err) {
				return n, fmt.Errorf("revoke: deleting %s: %w", key, err)
			}
			n++
		}
	}
	return n, nil
}

// unixCeil is t in whole seconds, rounded up so that an entry never ends before its token.
func unixCeil(t time.Time) int64 {
	secs := t.Unix()
	if t.Nanosecond() > 0 {
		secs++
	}
	return secs
}

func encode(exp int64) []byte {
	b, _ := json.Marshal(entry{Exp: &exp}) // cannot fail: one integer
	return b
}

// decode reads an entry; ok is false unless it has an exp.
func decode(b []byte) (entry, bool) {
	var e entry
	if err := json.Unmarshal(b, &e); err != nil || e.Exp == nil {
		return entry{}, false
	}
	return e, true
}
