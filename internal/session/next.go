package session

import (
	"net/http"
	"net/url"
	"strings"
)

// maxNext bounds the length of a next target; a longer one is not a page of the site.
const maxNext = 2048

// SafeNext returns next when it is a path of this site a browser may be sent to after logging
// in or out, and "/" otherwise. An open redirect on a login page sends users who just typed
// their password to a look-alike site (CVE-2024-21497 in a Caddy auth portal), so only a
// relative path is kept: it starts with exactly one "/" (never "//" or "/\", which browsers
// read as another host), holds only printable ASCII and no backslash, has no dot segments, has
// no scheme or host however often it is percent-decoded, and is not under base (the issuer's own
// pages: the login page must not send a browser back to itself).
func SafeNext(next, base string) string {
	if next == "" || len(next) > maxNext {
		return "/"
	}
	s := next
	for round := range 4 {
		if !relativePath(s, base, round == 0) {
			return "/"
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return "/"
		}
		if d == s {
			return next
		}
		s = d
	}
	return "/" // still decoding after four rounds: nothing a real link needs
}

// relativePath checks one decoding of a next target: the target as given (raw) must be printable
// ASCII without spaces, as a URL on the wire is; its decodings may hold spaces and UTF-8, never
// control characters.
func relativePath(s, base string, raw bool) bool {
	if len(s) < 1 || s[0] != '/' || (len(s) > 1 && (s[1] == '/' || s[1] == '\\')) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '\\' || (raw && (c == ' ' || c > 0x7f)) {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	p := u.Path
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	if base != "" && (p == base || strings.HasPrefix(p, base+"/")) {
		return false
	}
	return true
}

// LoginURL is where jwt_auth sends a browser without a session: the login page under base, with
// the page it asked for as next (the request as the client sent it, before any rewrite).
func LoginURL(base string, r *http.Request) string {
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI()
	}
	return base + LoginPath + "?next=" + url.QueryEscape(SafeNext(target, base))
}
