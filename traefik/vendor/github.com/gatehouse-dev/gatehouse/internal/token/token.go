// Package token splits and decodes compact JWS JSON Web Tokens (RFC 7515, RFC 7519) strictly and
// without reflection. It knows nothing of keys or policy: it turns bytes into a header, a signing
// input, a signature and, only when asked (after the signature checked out), a claim set.
package token

import "errors"

// Errors returned by Split and (*JWS).Claims. Callers map every one of them to "malformed token";
// the text is for debug logs and error_description, so it never echoes token content.
var (
	ErrSegments   = errors.New("token must have exactly three dot-separated segments")
	ErrBase64     = errors.New("token segment is not canonical unpadded base64url")
	ErrHeader     = errors.New("token header is not a valid JSON object")
	ErrHeaderAlg  = errors.New("token header has no string alg")
	ErrClaimsJSON = errors.New("token claims are not a valid JSON object")
	ErrDuplicate  = errors.New("token JSON has a duplicate or case-variant member name")
	ErrEmptySig   = errors.New("token signature is empty")
)

// Header holds the JOSE header members Gatehouse acts on. Members that could name a key source
// (jku, x5u, jwk, x5c) are deliberately not surfaced: keys come from configuration only.
type Header struct {
	Alg string // "alg", exactly as sent (no case folding)
	Kid string // "kid", "" when absent
	Typ string // "typ", "" when absent
	// Crit is true when the header has a "crit" member. Gatehouse understands no extension, so
	// RFC 7515 §4.1.11 requires refusing such a token.
	Crit bool
}

// JWS is a split, not yet verified token.
type JWS struct {
	Header Header
	// SigningInput is "<b64url header>.<b64url payload>", the bytes the signature covers.
	SigningInput string
	// Signature is the decoded signature.
	Signature []byte
	// payload is the decoded payload, parsed by Claims only after the signature is checked. It
	// shares one allocation with Signature and is never written after Split: the claims of
	// every Claims call alias it.
	payload []byte
}
