// Package mint signs the issuer's tokens: signing keys (generated, from a PEM file, or an HMAC
// secret), key rings kept in storage with optional rotation, the public JWK Set, and the access
// and refresh tokens themselves in djangorestframework-simplejwt's layout.
package mint
