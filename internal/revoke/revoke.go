// Package revoke keeps the issuer's refresh token state: revoked token ids (simplejwt's
// blacklist), and refresh token families for rotation with reuse detection (RFC 9700 section
// 4.14.2). State lives in a kv.Storage so it survives restarts and is shared by every Caddy that
// shares the storage.
package revoke
