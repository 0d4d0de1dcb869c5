package caddyauth

import (
	"net/url"
	"strings"
)

// parseTarget sets u to the request target uri (an origin-form path with an optional query),
// as url.ParseRequestURI parses it. The targets proxies forward are nearly always plain paths
// and queries; those are split here without url's allocation of a URL per sub-request, and
// anything else (a percent-escape, a byte a path would escape, a control byte) goes to
// url.ParseRequestURI, so the result is always the standard library's (FuzzParseTarget checks
// that the two agree).
func parseTarget(uri string, u *url.URL) error {
	p, q, hasQuery := strings.Cut(uri, "?")
	if plainPath(p) && plainQuery(q) {
		*u = url.URL{Path: p, RawQuery: q, ForceQuery: hasQuery && q == ""}
		return nil
	}
	parsed, err := url.ParseRequestURI(uri)
	if err != nil {
		return err
	}
	*u = *parsed
	return nil
}

// plainPath reports whether p starts with "/" and holds only bytes that a URL path keeps as
// they are (RFC 3986 unreserved, and the sub-delimiters and ":" "@" that net/url does not
// escape in a path): such a path is its own decoded and escaped form, so URL.RawPath stays
// empty, as url.ParseRequestURI leaves it.
func plainPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~/$&+,:;=@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// plainQuery reports whether q holds only printable ASCII but for space and "#": a query that
// net/url keeps raw, byte for byte.
func plainQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}
