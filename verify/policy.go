package verify

import "time"

// TokenType rules for the token_type claim (simplejwt's TOKEN_TYPE_CLAIM).
const (
	// TokenTypeDefault: a token that carries token_type must say "access"; one without it passes.
	TokenTypeDefault = ""
	// TokenTypeOff ignores the claim.
	TokenTypeOff = "off"
)

// Requirement is a claim rule: the claim must equal one of Values, or, when it is an array,
// contain one of them. An unmet requirement is a 403.
type Requirement struct {
	Claim  string
	Values []string
}

// Policy is what a token must satisfy besides a valid signature.
type Policy struct {
	// Algorithms is the allow-list; empty means whatever the keys allow. Never "none".
	Algorithms []string
	// Issuers, when non-empty, makes iss required and one of these.
	Issuers []string
	// Audiences, when non-empty, makes aud required and (one of its values) one of these.
	Audiences []string
	// Leeway is the clock skew allowed for exp, nbf and iat (0..5m).
	Leeway time.Duration
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

// DefaultMaxTokenSize is the default MaxTokenSize.
const DefaultMaxTokenSize = 8192
