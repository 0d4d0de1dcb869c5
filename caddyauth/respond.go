package caddyauth

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/verify"
)

// Response bodies. The 401 ones are exactly what djangorestframework-simplejwt answers, so a front
// end written against a simplejwt API keeps working unchanged behind jwt_auth.
var (
	bodyMissing   = []byte(`{"detail":"Authentication credentials were not provided."}`)
	bodyInvalid   = []byte(`{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`)
	bodyWrongType = []byte(`{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}`)
	bodyMultiple  = []byte(`{"detail":"Send the token in one place only.","code":"invalid_request"}`)
	bodyForbidden = []byte(`{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`)
)

// challenges are the WWW-Authenticate values (RFC 6750 §3) for one realm, built once at provision.
type challenges struct {
	missing   string // no token: no error attribute (RFC 6750 §3.1)
	multiple  string
	forbidden string
	invalid   string // a prefix; the error_description value and its closing quote follow
}

// newChallenges builds the challenges for realm, which Validate has checked needs no escaping.
func newChallenges(realm string) challenges {
	base := `Bearer realm="` + realm + `"`
	return challenges{
		missing:   base,
		multiple:  base + `, error="invalid_request"`,
		forbidden: base + `, error="insufficient_scope"`,
		invalid:   base + `, error="invalid_token", error_description="`,
	}
}

// respond answers a refused request. When the site has handle_errors routes, it sets only the
// challenge and returns the error with its status, so those routes can restyle the answer (an
// HTML page, a redirect to a login page); otherwise it writes the JSON body itself.
func (c challenges) respond(w http.ResponseWriter, r *http.Request, e *verify.Error) error {
	status, challenge, body := c.answer(e)
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	if hasErrorRoutes(r) {
		return caddyhttp.Error(status, e)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	// A failed write means the client is gone; there is nobody left to tell.
	_, _ = w.Write(body)
	return nil
}

// answer picks the status, challenge and body for e.
func (c challenges) answer(e *verify.Error) (int, string, []byte) {
	switch {
	case e.Reason == verify.ReasonMissing:
		return http.StatusUnauthorized, c.missing, bodyMissing
	case e.Reason == verify.ReasonMultiple:
		return http.StatusBadRequest, c.multiple, bodyMultiple
	case e.Reason == verify.ReasonScope || e.Status == http.StatusForbidden:
		return http.StatusForbidden, c.forbidden, bodyForbidden
	}
	body := bodyInvalid
	if e.Reason == verify.ReasonTokenType {
		body = bodyWrongType
	}
	return http.StatusUnauthorized, c.invalid + quotable(e.Description) + `"`, body
}

// hasErrorRoutes reports whether the server has handle_errors routes to pass the error to.
func hasErrorRoutes(r *http.Request) bool {
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	return srv != nil && srv.Errors != nil && len(srv.Errors.Routes) > 0
}

// quotable makes s fit inside a quoted error_description without escaping: RFC 6750 §3 allows
// only %x20-21 / %x23-5B / %x5D-7E there. A '"' becomes '\”, other characters are dropped. The
// descriptions come from the verify package and never hold token content; this is defence in
// depth against header injection should one ever change.
func quotable(s string) string {
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
