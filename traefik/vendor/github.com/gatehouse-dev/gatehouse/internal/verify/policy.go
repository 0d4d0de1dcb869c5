package verify

import (
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// TokenType rules for the token_type claim (simplejwt's TOKEN_TYPE_CLAIM).
const (
	// TokenTypeDefault: a token that carries token_type must say "access"; one without it passes.
	TokenTypeDefault = ""
	// TokenTypeOff ignores the claim.
	TokenTypeOff = "off"
)

// Requirement is a claim rule: the claim must equal one of Values, or, when it is an array,
// contain one of them. The scope and scp claims are also read as a space-separated list when
// they are a string (RFC 6749 §3.3, RFC 8693 §4.2, RFC 9068 §2.2.3): "read write" holds read and
// write, and meets a rule that accepts either. An unmet requirement is a 403.
type Requirement struct {
	Claim  string
	Values []string
}

// Met reports whether c meets rq, as the Verifier checks Policy.Require (jwt_forward_auth
// checks the rules of a route with it, after the token is verified).
func (rq Requirement) Met(c *token.Claims) bool { return meets(c, &rq) }

// Policy is what a token must satisfy besides a valid signature.
type Policy struct {
	// Algorithms is the allow-list; empty means whatever the keys allow. Never "none".
	Algorithms []string
	// Issuers, when non-empty, makes iss required and one of these.
	Issuers []string
	// Audiences, when non-empty, makes aud required and (one of its values) one of these.
	Audiences []string
	// Leeway is the clock skew allowed for exp, nbf and iat (0..5m). Zero is none: the default
	// of a configuration that omits it is the adapter's to choose (jwt_auth: DefaultLeeway).
	Leeway time.Duration
	// Types, when non-empty, makes the JOSE header typ required and one of these media types,
	// compared as RFC 7515 §4.1.9 says: case-insensitively, "application/" optional, so "at+jwt"
	// (RFC 9068 access tokens) accepts "at+jwt", "AT+JWT" and "application/at+jwt". A token
	// without typ or with another is refused with ReasonTokenType. See typ.go.
	Types []string
	// TokenType is TokenTypeDefault, TokenTypeOff, or the value the claim must have.
	TokenType string
	// Require lists claim rules, all of which must hold.
	Require []Requirement
	// MaxTokenSize caps the token length in bytes before anything is decoded (default 8192).
	MaxTokenSize int
	// SafeClaims names claims whose values will be sent in HTTP headers: a value with CR, LF,
	// NUL or another control character makes the token invalid (ReasonUnsafeClaim).
	SafeClaims []string
	// CacheSize is not a requirement but how many verified tokens the Verifier keeps, so that a
	// token sent again is not verified again (see cache.go): 0 means DefaultCacheSize, -1 no cache.
	CacheSize int
}

// MaxLeeway is the largest Leeway a configuration may set.
const MaxLeeway = 5 * time.Minute

// DefaultLeeway is the leeway of a jwt_auth that verifies tokens from other issuers and does not
// set one: 60 s, Envoy's default clock skew. iat, nbf and exp are whole seconds (RFC 7519
// NumericDate as issuers write it), so without leeway an issuer whose clock is even a second
// ahead has some of its fresh tokens refused as issued in the future.
const DefaultLeeway = 60 * time.Second

// DefaultMaxTokenSize is the default MaxTokenSize.
const DefaultMaxTokenSize = 8192
