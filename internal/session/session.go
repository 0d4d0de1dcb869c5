// Package session holds the browser side of Gatehouse's sessions, shared by the issuer (which
// logs browsers in and out) and by jwt_auth (which reads the session cookie, renews it and sends
// browsers without one to the login page): the cookies, the checks that a request comes from the
// site itself, and the rules for where a browser may be sent back to. It imports no Caddy.
package session

import (
	"context"
	"net"
	"net/http"
	"strings"
)

// Default cookie names.
const (
	DefaultAccessCookie  = "gatehouse_access"
	DefaultRefreshCookie = "gatehouse_refresh"
)

// LoginPath and LogoutPath are the login page and the logout form target, under the issuer's
// base path.
const (
	LoginPath  = "/login"
	LogoutPath = "/logout"
)

// WantsHTML reports whether r looks like a browser navigating to a page: GET or HEAD, with an
// Accept header that names text/html. Only such requests are worth a redirect to the login page;
// scripts and API clients get the 401 they can act on.
func WantsHTML(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, a := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(a, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
				return true
			}
		}
	}
	return false
}

// Unsafe reports whether r's method may change state (RFC 9110 section 9.2.1): such requests
// carried by a cookie must come from the site's own pages.
func Unsafe(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// loopbackHost reports whether host (a Host header value, with or without a port) names this
// machine: localhost, a *.localhost name, or a loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// forwardedHTTPSKey marks, in a request's context, that a proxy the server trusts says the
// browser used https (the proxy terminated TLS).
type forwardedHTTPSKey struct{}

// WithForwardedHTTPS returns r marked as reached over https through a trusted proxy. Only the
// server can know which proxies it trusts (Caddy: trusted_proxies), so the adapter marks the
// request; the X-Forwarded-Proto of an untrusted client must never count.
func WithForwardedHTTPS(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), forwardedHTTPSKey{}, true))
}

// HTTPS reports whether the browser reached the site over https: r came over TLS, or was marked
// by WithForwardedHTTPS.
func HTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	v, _ := r.Context().Value(forwardedHTTPSKey{}).(bool)
	return v
}

// Insecure reports whether r came over plain http to a host other than this machine: a
// browser would not keep the Secure cookies of a session answered to it, so the login refuses
// rather than send the user round in circles. Plain http to localhost is allowed (browsers treat
// it as a secure context), and there the cookies go without the Secure attribute.
func Insecure(r *http.Request) bool { return !HTTPS(r) && !loopbackHost(r.Host) }

// secure reports whether cookies set in answer to r carry the Secure attribute: always, but for
// plain http to this machine.
func secure(r *http.Request) bool { return HTTPS(r) || !loopbackHost(r.Host) }

// SecureCookies reports whether cookies set in answer to r carry the Secure attribute, as the
// session cookies do: always, but for plain http to this machine.
func SecureCookies(r *http.Request) bool { return secure(r) }
