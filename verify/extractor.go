package verify

import (
	"net/http"
	"strings"
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
// method per request) is an *Error with ReasonMultiple; a header with the wrong scheme counts
// as no token.
func (e Extractor) Extract(r *http.Request) (tok string, found bool, err error) {
	sources := e.Sources
	if len(sources) == 0 {
		sources = DefaultSources
	}
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

// fromHeaderValue reads the token from one header value. With Schemes, the value must be
// "<scheme> <token>" (RFC 7235 credentials: the scheme is case-insensitive, one or more spaces
// follow it); a value with another scheme is no token, as it is some other credential.
func (s *Source) fromHeaderValue(v string) (string, bool, error) {
	if len(s.Schemes) == 0 {
		if v == "" {
			return "", false, nil
		}
		return v, true, nil
	}
	scheme, rest, _ := strings.Cut(v, " ")
	if !s.acceptsScheme(scheme) {
		return "", false, nil
	}
	t := strings.TrimLeft(rest, " ")
	if t == "" || strings.IndexByte(t, ' ') >= 0 {
		return "", false, &Error{
			Status:      http.StatusUnauthorized,
			Reason:      ReasonMalformed,
			Description: "the " + s.Name + " header must be the scheme, a space and one token",
		}
	}
	return t, true, nil
}

func (s *Source) acceptsScheme(scheme string) bool {
	for _, sc := range s.Schemes {
		if strings.EqualFold(scheme, sc) {
			return true
		}
	}
	return false
}

// multiple is the refusal of a request that carries more than one token.
func multiple(description string) *Error {
	return &Error{Status: http.StatusUnauthorized, Reason: ReasonMultiple, Description: description}
}
