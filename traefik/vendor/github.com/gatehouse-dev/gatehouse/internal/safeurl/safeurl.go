// Package safeurl holds the rule for the URLs Gatehouse itself sends requests to (jwks_url,
// whose answer decides which tokens are trusted, and credentials_url, which is sent passwords):
// https, or plain http only to this machine, where nobody on the network can read or change the
// traffic.
package safeurl

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

var (
	// ErrCleartext is Check's answer for plain http to a host that is not a loopback host.
	ErrCleartext = errors.New("plain http is allowed only to a loopback host (127.0.0.1, ::1, localhost); use https")
	// ErrScheme is Check's answer for a scheme other than https and http.
	ErrScheme = errors.New("the URL must start with https:// (or http:// to a loopback host)")
)

// Check returns nil for an https URL, and for an http URL whose host is a loopback host
// (LoopbackHost); else ErrCleartext or ErrScheme. The caller checks the rest of the URL.
func Check(u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if LoopbackHost(u.Hostname()) {
			return nil
		}
		return ErrCleartext
	}
	return ErrScheme
}

// LoopbackHost reports whether host (a URL's Hostname, without port or brackets) is this
// machine: "localhost", or an IP address in 127.0.0.0/8 or ::1. Other names are not, even those
// that resolve to a loopback address today: the rule must not depend on DNS.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
