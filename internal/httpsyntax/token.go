// Package httpsyntax holds the HTTP grammar checks that several packages need (RFC 9110), so
// that each is written once.
package httpsyntax

import "strings"

// IsToken reports whether s is a non-empty RFC 9110 token (section 5.6.2): a method, a header
// field name, an auth scheme or a cookie name. The test is one call to strings.Trim rather than
// a loop over the bytes: under Traefik's interpreter (Yaegi), which runs the standard library
// compiled, a loop of this package's code costs microseconds per byte.
func IsToken(s string) bool {
	return s != "" && strings.Trim(s, tchars) == ""
}

// tchars are the characters of a token.
const tchars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
