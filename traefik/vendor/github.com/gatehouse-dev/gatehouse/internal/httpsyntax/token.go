// Package httpsyntax holds the HTTP grammar checks that several packages need (RFC 9110), so
// that each is written once.
package httpsyntax

import "strings"

// IsToken reports whether s is a non-empty RFC 9110 token (section 5.6.2): a method, a header
// field name, an auth scheme or a cookie name.
//
// Compiled, a loop over the bytes is the cheapest test. Under Traefik's interpreter (Yaegi),
// where a loop of this package's code costs microseconds per byte and the standard library runs
// compiled, it is one strings.Trim (isTokenTrim); TestTokenSpellings holds the two to the same
// answers.
func IsToken(s string) bool {
	if interpreted {
		return isTokenTrim(s)
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// isTchar reports whether c may appear in a token.
//
// The conditions of a tagless switch case are joined with ||, never listed with commas, in every
// package the Traefik plugin vendors: Yaegi v0.16 evaluates only the first of a list (see
// traefik/yaegi_rules_test.go).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isTokenTrim is IsToken in one call to the standard library, for the interpreter.
func isTokenTrim(s string) bool {
	return s != "" && strings.Trim(s, tchars) == ""
}

// tchars are the characters of a token.
const tchars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
