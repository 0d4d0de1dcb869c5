package verify

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/httpsyntax"
)

// Where a token can come from.
const (
	FromHeader = "header"
	FromCookie = "cookie"
	FromQuery  = "query"
)

// Source is one place to look for a token.
type Source struct {
	From string // FromHeader, FromCookie or FromQuery
	Name string // header, cookie or query parameter name
	// Schemes are the accepted auth schemes for a header, compared case-insensitively (RFC 7235);
	// empty means the whole header value is the token.
	Schemes []string
}

// Extractor finds the token in a request. The default is the Authorization header, Bearer scheme.
type Extractor struct {
	Sources []Source
}

// DefaultSources is Authorization: Bearer.
var DefaultSources = []Source{{From: FromHeader, Name: "Authorization", Schemes: []string{"Bearer"}}}

// Extract returns the one token in r. found is false when no source carries a token. A request
// with more than one token (the same header twice, two sources at once: RFC 6750 §2 allows one
// method per request) is an *Error with ReasonMultiple. A token header that is present must
// hold credentials this extractor accepts (see fromHeaderValue): any other value is an *Error,
// never "no token", so that nothing behind an optional route reads a token that was not checked.
//
// Extract takes every query parameter it reads out of r (URL.RawQuery and RequestURI), found
// or not, so that no later handler, placeholder or upstream URL carries the token.
func (e Extractor) Extract(r *http.Request) (tok string, found bool, err error) {
	sources := e.Sources
	if len(sources) == 0 {
		sources = DefaultSources
	}
	tok, found, err = extractFrom(sources, r)
	for i := range sources {
		if sources[i].From == FromQuery {
			stripQuery(r, sources[i].Name)
		}
	}
	return tok, found, err
}

// extractFrom is Extract without the stripping of query parameters.
func extractFrom(sources []Source, r *http.Request) (tok string, found bool, err error) {
	for i := range sources {
		t, ok, err := sources[i].extract(r)
		if err != nil {
			return "", false, err
		}
		if !ok {
			continue
		}
		if found {
			return "", false, multiple("a token was sent in more than one place; use one method per request")
		}
		tok, found = t, true
	}
	return tok, found, nil
}

// extract looks for a token in this one source. Only the configured kind of input is read, so a
// header-only extractor never parses cookies or the query string.
func (s *Source) extract(r *http.Request) (string, bool, error) {
	switch s.From {
	case FromHeader:
		// Values canonicalizes the name without allocating when it already is canonical.
		vals := r.Header.Values(s.Name)
		switch {
		case len(vals) == 0:
			return "", false, nil
		case len(vals) > 1:
			return "", false, multiple("the " + s.Name + " header was sent more than once")
		}
		return s.fromHeaderValue(vals[0])
	case FromCookie:
		cs := r.CookiesNamed(s.Name)
		switch {
		case len(cs) > 1:
			return "", false, multiple("the " + s.Name + " cookie was sent more than once")
		case len(cs) == 0 || cs[0].Value == "":
			return "", false, nil
		}
		return cs[0].Value, true, nil
	case FromQuery:
		if r.URL == nil {
			return "", false, nil
		}
		vals := r.URL.Query()[s.Name]
		switch {
		case len(vals) > 1:
			return "", false, multiple("the " + s.Name + " query parameter was sent more than once")
		case len(vals) == 0 || vals[0] == "":
			return "", false, nil
		}
		return vals[0], true, nil
	}
	// An unknown source (configuration validation refuses them) carries nothing.
	return "", false, nil
}

// fromHeaderValue reads the token from one header value. Without Schemes the whole value is the
// token. With Schemes the value must be credentials as RFC 9110 §11.4 spells them for a bearer
// token (RFC 6750 §2.1): an auth-scheme (a token, compared case-insensitively), one or more
// spaces, and a token68 (b64token). An empty value carries no credentials and counts as no token.
// Anything else is refused, never skipped: an upstream may read the header its own way (simplejwt
// splits on any whitespace, so "Bearer<TAB>token" is a token there), so a header that jwt_auth
// passed on as "no token" could carry a token that nobody checked.
//   - A well-formed value with another scheme ("Basic ...") is ReasonMissing: per RFC 6750 §3.1
//     a client that used an unsupported method gets the bare challenge, no error code.
//   - A value that is not such credentials (no token after the scheme, a tab or other
//     characters a scheme or token68 cannot hold, two tokens) is ReasonMalformed.
func (s *Source) fromHeaderValue(v string) (string, bool, error) {
	v = strings.Trim(v, " \t") // the field value excludes surrounding whitespace (RFC 9110 §5.5)
	if v == "" {
		return "", false, nil
	}
	if len(s.Schemes) == 0 {
		return v, true, nil
	}
	scheme, rest, _ := strings.Cut(v, " ")
	if !httpsyntax.IsToken(scheme) {
		return "", false, s.malformed()
	}
	if !s.acceptsScheme(scheme) {
		return "", false, &Error{
			Status:      http.StatusUnauthorized,
			Reason:      ReasonMissing,
			Description: "the " + s.Name + " header uses a scheme not accepted here; send " + s.Schemes[0] + " and the token",
		}
	}
	t := strings.TrimLeft(rest, " ")
	if !isToken68(t) {
		return "", false, s.malformed()
	}
	return t, true, nil
}

// malformed is the refusal of a header value that is not credentials of an accepted scheme.
func (s *Source) malformed() *Error {
	return &Error{
		Status:      http.StatusUnauthorized,
		Reason:      ReasonMalformed,
		Description: "the " + s.Name + " header must be the scheme, a space and one token",
	}
}

func (s *Source) acceptsScheme(scheme string) bool {
	for _, sc := range s.Schemes {
		if strings.EqualFold(scheme, sc) {
			return true
		}
	}
	return false
}

// stripQuery removes the query parameter name from r.URL.RawQuery and from the query of
// r.RequestURI (which Caddy logs and some placeholders read), each edited on its own so that
// neither is re-encoded.
func stripQuery(r *http.Request, name string) {
	if r.URL != nil && r.URL.RawQuery != "" {
		r.URL.RawQuery = RemoveParam(r.URL.RawQuery, name)
	}
	if i := strings.IndexByte(r.RequestURI, '?'); i >= 0 {
		if q := RemoveParam(r.RequestURI[i+1:], name); q != "" {
			r.RequestURI = r.RequestURI[:i+1] + q
		} else {
			r.RequestURI = r.RequestURI[:i]
		}
	}
}

// RemoveParam returns rawQuery without the parameter name, in any spelling that decodes to it
// (acc%65ss_token is access_token), and keeps every other parameter as it was sent. A pair
// with a ';' goes too when one of its ';'-separated parts is the parameter: net/url skips such
// pairs, but a server that still splits on ';' would read the token in it.
func RemoveParam(rawQuery, name string) string {
	kept := make([]string, 0, strings.Count(rawQuery, "&")+1)
	for _, pair := range strings.Split(rawQuery, "&") { // not SplitSeq (Go 1.24): Yaegi has Go 1.22's library
		if !isParam(pair, name) {
			kept = append(kept, pair)
		}
	}
	return strings.Join(kept, "&")
}

// isParam reports whether the query pair (or one of its ';'-separated parts) has the key name.
func isParam(pair, name string) bool {
	for _, part := range strings.Split(pair, ";") {
		key, _, _ := strings.Cut(part, "=")
		if key == name {
			return true
		}
		if strings.ContainsAny(key, "%+") {
			if k, err := url.QueryUnescape(key); err == nil && k == name {
				return true
			}
		}
	}
	return false
}

// multiple is the refusal of a request that carries more than one token.
func multiple(description string) *Error {
	return &Error{Status: http.StatusUnauthorized, Reason: ReasonMultiple, Description: description}
}

// isToken68 reports whether s is an RFC 9110 §11.2 token68: 1*( ALPHA / DIGIT / "-" / "." / "_" /
// "~" / "+" / "/" ) *"=". A compact JWS (base64url and dots) is one.
//
// Compiled, a loop over the bytes is the cheapest test. Under Traefik's interpreter (Yaegi),
// where a loop of this package's code costs microseconds per byte and the standard library runs
// compiled, it is one strings.Trim (isToken68Trim); TestToken68Spellings holds the two to the
// same answers.
func isToken68(s string) bool {
	if interpreted {
		return isToken68Trim(s)
	}
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		if !token68Table[s[i]] {
			return false
		}
	}
	return true
}

// token68Table is the token68 alphabet but for the trailing "=": a table, as every byte of
// every token is looked up on each request (compiled; the interpreter uses token68Chars).
var token68Table = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isAlnum(byte(c)) || strings.IndexByte("-._~+/", byte(c)) >= 0
	}
	return t
}()

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isToken68Trim is isToken68 in one call to the standard library, for the interpreter.
func isToken68Trim(s string) bool {
	body := strings.TrimRight(s, "=")
	return body != "" && strings.Trim(body, token68Chars) == ""
}

// token68Chars are the characters of a token68 before its padding.
const token68Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
