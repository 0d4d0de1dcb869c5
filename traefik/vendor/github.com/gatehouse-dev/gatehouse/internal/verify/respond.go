package verify

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// What an auth layer does around Verify, the same in every proxy adapter (Caddy's jwt_auth and
// jwt_forward_auth, the Traefik plugin): remove client-sent identity headers, set them from
// verified claims, and answer a refusal as RFC 6750 says.

// Response bodies. The 401 ones are exactly what djangorestframework-simplejwt answers, so a front
// end written against a simplejwt API keeps working unchanged behind Gatehouse. Callers must not
// modify them.
var (
	BodyMissing   = []byte(`{"detail":"Authentication credentials were not provided."}`)
	BodyInvalid   = []byte(`{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`)
	BodyWrongType = []byte(`{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}`)
	BodyMultiple  = []byte(`{"detail":"Send the token in one place only.","code":"invalid_request"}`)
	BodyForbidden = []byte(`{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`)
)

// ErrMissing is the refusal of a request that carries no token.
var ErrMissing = &Error{
	Status:      http.StatusUnauthorized,
	Reason:      ReasonMissing,
	Description: "no token in the request",
}

// AsError returns err as an *Error; anything else (which this package does not return) is
// treated as a malformed token, so an unexpected error still refuses the request.
func AsError(err error) *Error {
	// The assertion first: under Traefik's interpreter (Yaegi) errors.As cannot target a type
	// the interpreter defined, and this package never wraps its errors.
	if e, ok := err.(*Error); ok {
		return e
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusUnauthorized, Reason: ReasonMalformed, Description: "token is invalid"}
}

// Challenges are the WWW-Authenticate values (RFC 6750 §3) for one realm, built once.
type Challenges struct {
	Missing   string // no token: no error attribute (RFC 6750 §3.1)
	Multiple  string
	Forbidden string
	Invalid   string // a prefix; the error_description value and its closing quote follow
}

// NewChallenges builds the challenges for realm, which the caller has checked with RealmOK.
func NewChallenges(realm string) Challenges {
	base := `Bearer realm="` + realm + `"`
	return Challenges{
		Missing:   base,
		Multiple:  base + `, error="invalid_request"`,
		Forbidden: base + `, error="insufficient_scope"`,
		Invalid:   base + `, error="invalid_token", error_description="`,
	}
}

// RealmOK reports whether realm can go in a quoted challenge attribute without escaping.
func RealmOK(realm string) bool {
	for i := 0; i < len(realm); i++ {
		if !descChar(realm[i]) {
			return false
		}
	}
	return true
}

// Answer picks the status, challenge and body for e.
func (c Challenges) Answer(e *Error) (int, string, []byte) {
	switch {
	case e.Reason == ReasonMissing:
		return http.StatusUnauthorized, c.Missing, BodyMissing
	case e.Reason == ReasonMultiple:
		return http.StatusBadRequest, c.Multiple, BodyMultiple
	case e.Reason == ReasonScope || e.Status == http.StatusForbidden:
		return http.StatusForbidden, c.Forbidden, BodyForbidden
	}
	body := BodyInvalid
	if e.Reason == ReasonTokenType {
		body = BodyWrongType
	}
	return http.StatusUnauthorized, c.Invalid + Quotable(e.Description) + `"`, body
}

// Quotable makes s fit inside a quoted error_description without escaping: RFC 6750 §3 allows
// only %x20-21 / %x23-5B / %x5D-7E there. A '"' becomes '\”, other characters are dropped. The
// descriptions come from this package and never hold token content; this is defence in depth
// against header injection should one ever change.
func Quotable(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !descChar(s[i]) {
			clean = false
			break
		}
	}
	if clean && s != "" {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case descChar(c):
			b.WriteByte(c)
		case c == '"':
			b.WriteByte('\'')
		}
	}
	if b.Len() == 0 {
		return "token is invalid"
	}
	return b.String()
}

func descChar(c byte) bool {
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'
}

// ReservedHeaders may not be set from a claim: they frame or route the request, or carry other
// credentials. Canonical names.
var ReservedHeaders = []string{
	"Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Keep-Alive",
	"Proxy-Connection", "Te", "Trailer", "Upgrade", "Expect", "Cookie", "Authorization", "Proxy-Authorization",
}

// RemoveHeaders deletes the headers names (canonical, as http.CanonicalHeaderKey makes them)
// from h, and every header whose name equals one of them but for "_" in place of "-" (X_User_Id
// for X-User-Id): CGI-style servers (WSGI, and so gunicorn and Django, PHP) see both as
// HTTP_X_USER_ID, so such a copy would spoof the forwarded identity.
func RemoveHeaders(h http.Header, names []string) {
	if len(names) == 0 {
		return
	}
	for _, n := range names {
		delete(h, n)
	}
	for name := range h {
		if strings.IndexByte(name, '_') < 0 {
			continue
		}
		for _, f := range names {
			if len(name) == len(f) && strings.EqualFold(strings.ReplaceAll(name, "_", "-"), f) {
				delete(h, name)
				break
			}
		}
	}
}

// ForwardClaim sets the request header (canonical) to the value of claim when the claims have
// it as a scalar or an array (Value.Text; arrays of scalars joined with ","); an object is not
// forwarded. The policy's SafeClaims must list claim, so the value is header-safe.
//
// The header's value is slot, a one-element slice the caller owns (a piece of one slice for all
// of a request's forwarded claims, sliced with a capacity of one so an append cannot reach the
// next), which saves an allocation per header.
func ForwardClaim(h http.Header, c *token.Claims, claim, header string, slot []string) {
	if v, ok := c.Get(claim); ok && v.Kind != token.Object {
		slot[0] = v.Text
		h[header] = slot
	}
}
