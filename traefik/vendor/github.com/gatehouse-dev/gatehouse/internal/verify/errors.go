// Package verify is the authenticator: it checks one token against one policy and a key provider
// and returns the verified claims or a reasoned refusal. It also extracts the token from a request.
// It knows nothing of Caddy.
package verify

// Reason is a stable, machine-readable failure code. It is exposed to Caddy users as the
// {http.auth.jwt.error} placeholder, so values never change once released.
type Reason string

const (
	ReasonMissing        Reason = "missing_token"
	ReasonMultiple       Reason = "multiple_tokens"
	ReasonTooLarge       Reason = "token_too_large"
	ReasonMalformed      Reason = "malformed_token"
	ReasonAlgorithm      Reason = "unsupported_algorithm"
	ReasonCrit           Reason = "crit_header"
	ReasonNoKeys         Reason = "no_keys_loaded"
	ReasonUnknownKey     Reason = "unknown_key"
	ReasonSignature      Reason = "invalid_signature"
	ReasonClaims         Reason = "invalid_claims"
	ReasonExpired        Reason = "token_expired"
	ReasonNoExp          Reason = "missing_exp"
	ReasonNotYetValid    Reason = "token_not_yet_valid"
	ReasonIssuedInFuture Reason = "issued_in_future"
	ReasonIssuer         Reason = "invalid_issuer"
	ReasonAudience       Reason = "invalid_audience"
	ReasonTokenType      Reason = "wrong_token_type"
	ReasonUnsafeClaim    Reason = "unsafe_claim_value"
	ReasonScope          Reason = "insufficient_scope"
)

// Error is a refused token. Status is 401, or 403 for an unmet requirement (RFC 6750 §3.1).
type Error struct {
	Status int
	Reason Reason
	// Description is a short human text for error_description and debug logs; it never contains
	// token content, key material or claim values.
	Description string
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Description }
