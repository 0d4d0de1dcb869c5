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

// Return is the rule for where a browser may be sent after logging in or out: a path of the
// site (SafeNext), or, for sessions shared with sibling sites, an absolute URL of a host the
// configuration allows: https to Domain (the cookie_domain) or one of its subdomains, on any
// port (cookies do not tell ports apart), or a URL of one of Origins (scheme and port exact).
// Anything else becomes "/", the issuer's own site.
type Return struct {
	// Base is the issuer's base path: no target is under it.
	Base string
	// Domain is the session's cookie_domain, "" for none.
	Domain string
	// Origins are the session's trusted origins.
	Origins Origins
}

// Next returns next when it is a target the rule allows, and "/" otherwise.
func (rt Return) Next(next string) string {
	if strings.HasPrefix(next, "/") || (rt.Domain == "" && rt.Origins.Empty()) {
		return SafeNext(next, rt.Base)
	}
	if rt.allowedAbsolute(next) {
		return next
	}
	return "/"
}

// allowedAbsolute reports whether next is an absolute URL the rule allows. The URL must be in
// the one form every parser reads alike: scheme://host[:port] in plain ASCII (no user, no
// percent-escapes, backslashes or spaces in the authority), then a target SafeNext keeps.
func (rt Return) allowedAbsolute(next string) bool {
	if len(next) > maxNext {
		return false
	}
	var scheme string
	switch {
	case hasPrefixFold(next, "https://"):
		scheme = "https"
	case hasPrefixFold(next, "http://"):
		scheme = "http"
	default:
		return false
	}
	rest := next[len(scheme)+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, target := rest[:end], rest[end:]
	if authority == "" || strings.ContainsAny(authority, "@%\\ \t[]") {
		return false // a user, escapes or an IPv6 literal: not a host a sibling site has
	}
	host, port := authority, ""
	if i := strings.IndexByte(authority, ':'); i >= 0 {
		host, port = authority[:i], authority[i+1:]
		if !validPort(port) {
			return false
		}
	}
	host = strings.ToLower(host)
	if !DomainName(host) {
		return false
	}
	if target == "" {
		target = "/"
	}
	if target[0] != '/' || SafeNext(target, rt.Base) != target {
		return false
	}
	if scheme == "https" && rt.Domain != "" && InDomain(host, rt.Domain) {
		return true
	}
	origin := scheme + "://" + host
	if port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		origin += ":" + port
	}
	return rt.Origins.Match(origin)
}

// validPort reports whether p is a port number, 1 to 65535, in decimal without leading zeros.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// RequestURL is the absolute URL of r as the browser sent it: https or http (HTTPS), its Host,
// and its target (as LoginURL takes it). A sibling site sends it as next to the login page of
// another host, where Return decides whether it is a place to come back to.
func RequestURL(r *http.Request) string {
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI()
	}
	scheme := "http://"
	if HTTPS(r) {
		scheme = "https://"
	}
	return scheme + r.Host + target
}

// LoginURLAt is the login page on another site, loginOrigin (scheme://host[:port]), for a
// browser that asked for r: next is r's absolute URL when rt allows it, else "/" (the login
// page's own site).
func LoginURLAt(loginOrigin, base string, rt Return, r *http.Request) string {
	return loginOrigin + base + LoginPath + "?next=" + url.QueryEscape(rt.Next(RequestURL(r)))
}
