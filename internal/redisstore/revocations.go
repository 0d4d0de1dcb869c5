package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/revoke"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// Revocations is revoke.Store's contract kept in Redis: revoked token ids, refresh token ids used
// up by rotation, and revoked families, as ids (never tokens). Each entry expires on its own
// (Redis's TTL) verify.MaxLeeway after the token it is about, so nothing needs purging and no
// verifier's leeway outlives an entry. Rotation is one script, so of any number of concurrent
// refreshes of one token on any number of instances exactly one wins.
type Revocations struct {
	s    *Store
	base string // "<issuer>:revoke:"
	log  *zap.Logger
}

// Revocations returns the revocations of the issuer named issuer.
func (s *Store) Revocations(issuer string, logger *zap.Logger) *Revocations {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Revocations{s: s, base: "issuer:" + issuer + ":revoke:", log: logger}
}

func (r *Revocations) key(kind, id string) string { return r.s.key(r.base + kind + ":" + id) }

// expireAt is when the entry about a token expiring at exp may go, in Unix milliseconds.
func expireAt(exp time.Time) int64 { return exp.Add(verify.MaxLeeway).UnixMilli() }

// extend sets KEYS[1] to expire at ARGV[1] (Unix ms) unless it already expires no earlier: an
// entry is never shortened.
var extend = redis.NewScript(`
local at = tonumber(ARGV[1])
if redis.call('PEXPIRETIME', KEYS[1]) >= at then return 0 end
redis.call('SET', KEYS[1], '1', 'PXAT', at)
return 1
`)

// rotate marks KEYS[1] (used) with the server's time unless it was already. A token revoked
// (KEYS[2]) or of a revoked family (KEYS[3]) answers 2 and is not marked. A mark less than ARGV[2]
// ms old answers 3 (the grace); an older one revokes the family and answers 1; else 0. ARGV[1]
// is the entries' expiry (Unix ms).
var rotate = redis.NewScript(`
local at, grace = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local used = redis.call('GET', KEYS[1])
if used then
  if grace > 0 and now - (tonumber(used) or 0) < grace then
    if redis.call('EXISTS', KEYS[2], KEYS[3]) > 0 then return 2 end
    return 3
  end
  if redis.call('PEXPIRETIME', KEYS[3]) < at then redis.call('SET', KEYS[3], '1', 'PXAT', at) end
  return 1
end
if redis.call('EXISTS', KEYS[2], KEYS[3]) > 0 then return 2 end
redis.call('SET', KEYS[1], now, 'PXAT', at)
return 0
`)

// Check returns revoke.ErrRevoked when jti or family ("" for none) is revoked, nil when the
// token may be used, or the error of an unreachable server.
func (r *Revocations) Check(ctx context.Context, jti, family string) error {
	if err := revoke.CheckID("token id (jti)", jti); err != nil {
		return err
	}
	keys := []string{r.key("jti", jti)}
	if family != "" {
		if err := revoke.CheckID("family id", family); err != nil {
			return err
		}
		keys = append(keys, r.key("family", family))
	}
	n, err := r.s.client.Exists(ctx, keys...).Result()
	if err = r.s.observe(err); err != nil {
		return fmt.Errorf("revoke: reading from redis: %w", err)
	}
	if n > 0 {
		return revoke.ErrRevoked
	}
	return nil
}

// Revoke blacklists jti until exp.
func (r *Revocations) Revoke(ctx context.Context, jti string, exp time.Time) error {
	if err := revoke.CheckID("token id (jti)", jti); err != nil {
		return err
	}
	return r.put(ctx, r.key("jti", jti), exp)
}

// RevokeFamily revokes every refresh token of family until exp.
func (r *Revocations) RevokeFamily(ctx context.Context, family string, exp time.Time) error {
	if err := revoke.CheckID("family id", family); err != nil {
		return err
	}
	return r.put(ctx, r.key("family", family), exp)
}

func (r *Revocations) put(ctx context.Context, key string, exp time.Time) error {
	if exp.IsZero() {
		return errors.New("revoke: the token's expiry is required")
	}
	if err := r.s.observe(extend.Run(ctx, r.s.client, []string{key}, expireAt(exp)).Err()); err != nil {
		return fmt.Errorf("revoke: writing to redis: %w", err)
	}
	return nil
}

// Rotate marks refresh token jti of family (expiring at exp) used, atomically across instances:
// exactly one of any number of concurrent calls for one jti returns nil; every other, and any
// later one, returns revoke.ErrReused after the family was revoked until exp (in the same
// script, so no instance can use the family in between). A token revoked meanwhile returns
// revoke.ErrRevoked. An unreachable server leaves the token unused.
func (r *Revocations) Rotate(ctx context.Context, jti, family string, exp time.Time) error {
	return r.RotateWithin(ctx, jti, family, exp, 0)
}

// RotateWithin is Rotate, except that a call less than grace after the winning one (by the
// server's clock) is not reuse: it returns nil too, on whichever instance it arrives, and the
// caller mints it a successor of its own (a browser's parallel requests carrying one expiring
// session).
func (r *Revocations) RotateWithin(ctx context.Context, jti, family string, exp time.Time, grace time.Duration) error {
	if err := revoke.CheckID("token id (jti)", jti); err != nil {
		return err
	}
	if err := revoke.CheckID("family id", family); err != nil {
		return err
	}
	if exp.IsZero() {
		return errors.New("revoke: the token's expiry is required")
	}
	keys := []string{r.key("used", jti), r.key("jti", jti), r.key("family", family)}
	res, err := rotate.Run(ctx, r.s.client, keys, expireAt(exp), grace.Milliseconds()).Int()
	if err = r.s.observe(err); err != nil {
		return fmt.Errorf("revoke: rotating in redis: %w", err)
	}
	switch res {
	case 0, 3:
		return nil
	case 1:
		// A security event: the family id identifies the session, and is no credential.
		r.log.Warn("refresh token reuse detected; revoking its family", zap.String("family", family))
		return revoke.ErrReused
	default:
		return revoke.ErrRevoked
	}
}

// Purge does nothing: Redis expires the entries itself. It is here so that Revocations and
// revoke.Store can be used alike.
func (r *Revocations) Purge(context.Context) (int, error) { return 0, nil }

// revokeUser sets KEYS[1], a user's epoch (ARGV[1], Unix seconds), to the later of it and the
// one there, expiring at the later of ARGV[2] (Unix ms) and its own expiry.
var revokeUser = redis.NewScript(`
local before, at = tonumber(ARGV[1]), tonumber(ARGV[2])
local old = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local exp = redis.call('PEXPIRETIME', KEYS[1])
if exp > at then at = exp end
if old > before then before = old end
redis.call('SET', KEYS[1], before, 'PXAT', at)
return 1
`)

// RevokeUser refuses the refresh tokens of user issued until now (by this machine's clock, as
// the tokens' iat is the issuer's), until exp; see revoke.Store.RevokeUser.
func (r *Revocations) RevokeUser(ctx context.Context, user string, exp time.Time) error {
	if user == "" {
		return errors.New("revoke: the user id must not be empty")
	}
	if exp.IsZero() {
		return errors.New("revoke: the tokens' expiry is required")
	}
	key := r.key("user", revoke.UserKey(user))
	err := revokeUser.Run(ctx, r.s.client, []string{key}, revoke.UserEpoch(time.Now()), expireAt(exp)).Err()
	if err = r.s.observe(err); err != nil {
		return fmt.Errorf("revoke: writing to redis: %w", err)
	}
	return nil
}

// CheckUser returns revoke.ErrUserRevoked when user's sessions were revoked after iat; see
// revoke.Store.CheckUser. A value that is not a number refuses (fail closed).
func (r *Revocations) CheckUser(ctx context.Context, user string, iat time.Time) error {
	if user == "" {
		return nil
	}
	v, err := r.s.client.Get(ctx, r.key("user", revoke.UserKey(user))).Result()
	switch err = r.s.observe(err); {
	case errors.Is(err, redis.Nil):
		return nil
	case err != nil:
		return fmt.Errorf("revoke: reading from redis: %w", err)
	}
	before, perr := strconv.ParseInt(v, 10, 64)
	if perr != nil || iat.Unix() < before {
		return revoke.ErrUserRevoked
	}
	return nil
}
