package session

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// FromSite reports whether r was sent by the site's own pages, or by a page of one of trusted:
// its Origin header, or without one the origin of its
// Referer, must be the origin r was sent to. A request with neither header is refused: every
// browser sends Origin with a cross-origin request and with a same-origin POST, so only a
// request whose Referer was suppressed and that is not a POST from a page lacks both, and the
// check fails closed for it. This is the CSRF defence of everything that acts on the session
// cookies (OWASP's "verifying origin with standard headers").
func FromSite(r *http.Request, trusted Origins) bool {
	var from string
	switch o := r.Header.Values("Origin"); {
	case len(o) > 1:
		return false
	case len(o) == 1:
		if o[0] == "null" { // sandboxed frames, file: pages, some redirects: no site at all
			return false
		}
		from = o[0]
	default:
		ref := r.Header.Values("Referer")
		if len(ref) != 1 {
			return false
		}
		u, err := url.Parse(ref[0])
		if err != nil || u.Host == "" {
			return false
		}
		from = u.Scheme + "://" + u.Host
	}
	got, err := NormalizeOrigin(from)
	if err != nil {
		return false
	}
	return got == SiteOrigin(r) || trusted.Match(got)
}

// SiteOrigin is the origin r was sent to: https when the browser used it (HTTPS), else http,
// and its Host, normalized as NormalizeOrigin does.
func SiteOrigin(r *http.Request) string {
	scheme := "http"
	if HTTPS(r) {
		scheme = "https"
	}
	o, err := NormalizeOrigin(scheme + "://" + r.Host)
	if err != nil {
		return "" // matches no normalized origin
	}
	return o
}

// NormalizeOrigin returns origin (scheme://host[:port]) in the form the checks compare: scheme
// and host lower-cased, the scheme's default port left out. Anything with a path, query, user
// or a scheme other than http and https is an error.
func NormalizeOrigin(origin string) (string, error) {
	u, err := url.Parse(origin)
	switch {
	case err != nil:
		return "", fmt.Errorf("origin %q is not a URL: %v", origin, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("origin %q must start with https:// or http://", origin)
	case u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", fmt.Errorf("origin %q must be only scheme://host[:port], such as https://app.example.com", origin)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		return u.Scheme + "://" + host, nil
	}
	return u.Scheme + "://" + host + ":" + port, nil
}
