package issuer

import (
	"context"
	"time"
)

// Revocations keeps revoked token ids and refresh token families: revoke.Store in Caddy's
// storage, or redisstore.Revocations for several instances on one Redis. Errors other than
// revoke.ErrRevoked and revoke.ErrReused mean the state could not be read or written, and the
// endpoints answer 503 (fail closed).
type Revocations interface {
	// Check returns revoke.ErrRevoked when jti or family ("" for none) is revoked.
	Check(ctx context.Context, jti, family string) error
	// Revoke blacklists jti until exp.
	Revoke(ctx context.Context, jti string, exp time.Time) error
	// RevokeFamily revokes every refresh token of family until exp.
	RevokeFamily(ctx context.Context, family string, exp time.Time) error
	// RotateWithin uses refresh token jti up, atomically: one caller of any number wins (nil),
	// and so does any caller less than grace after it (0: none; the session renewal's window for
	// a browser's parallel requests, on any instance); the others get revoke.ErrReused and the
	// family is revoked.
	RotateWithin(ctx context.Context, jti, family string, exp time.Time, grace time.Duration) error
	// RevokeUser refuses the refresh tokens of user (the user id claim's value) issued until
	// now, until exp (when the last of them has expired): `caddy gatehouse revoke --user`.
	RevokeUser(ctx context.Context, user string, exp time.Time) error
	// CheckUser returns revoke.ErrUserRevoked when user's sessions were revoked after iat.
	CheckUser(ctx context.Context, user string, iat time.Time) error
}

// Limit is a rate limit logins are counted against: limit.Local in this process's memory, or
// redisstore.Limiter for several instances together. An error means the count could not be
// kept, and the login is refused with 503 (fail closed).
type Limit interface {
	// Allow records one event for key; when it is over the limit, retryAfter says how long
	// until one would be allowed.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
	// Reserve is Allow for an event that may turn out not to count: refund gives it back.
	Reserve(ctx context.Context, key string) (refund func(), ok bool, retryAfter time.Duration, err error)
}
