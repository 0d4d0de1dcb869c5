package verify

import (
	"errors"
	"fmt"
	"strings"
)

// Explicit typing (RFC 8725 §3.11): an issuer marks what a token is for in its JOSE header's
// typ, and a verifier that requires the mark cannot be handed a token of another kind signed by
// the same key. RFC 9068 access tokens say "at+jwt"; OpenID Connect ID tokens carry no typ (or
// "JWT"), so requiring at+jwt keeps an ID token whose aud happens to be accepted from passing
// as an access token.

// maxTyp bounds a configured typ value; media types are short.
const maxTyp = 128

// CheckTypes validates Policy.Types: each value a media type, with or without "application/"
// (RFC 7515 §4.1.9), of printable ASCII without spaces, quotes or parameters.
func CheckTypes(types []string) error {
	for _, t := range types {
		if t == "" {
			return errors.New("typ must not contain an empty value; give the media type the header must name, e.g. at+jwt")
		}
		if len(t) > maxTyp || !typChars(t) || strings.Count(t, "/") > 1 || strings.HasPrefix(t, "/") || strings.HasSuffix(t, "/") {
			return fmt.Errorf("typ %q is not a media type; give one such as at+jwt or application/at+jwt (no spaces or parameters)", t)
		}
	}
	return nil
}

// typChars reports whether s holds only the characters of an RFC 6838 media type name.
func typChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9': // ||: Yaegi reads one condition
		case strings.IndexByte("!#$&-^_.+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// mediaType is typ in the form it is compared in (RFC 7515 §4.1.9): lower case (media types are
// case-insensitive, RFC 2045 §5.1), with "application/" added to a value without a "/", so that
// "at+jwt", "AT+JWT" and "application/at+jwt" are one type.
func mediaType(typ string) string {
	typ = strings.ToLower(typ)
	if strings.IndexByte(typ, '/') < 0 {
		return "application/" + typ
	}
	return typ
}

// typAccepted reports whether the header typ is one of accepted, which holds media types as
// mediaType returns them. An absent typ is never accepted.
func typAccepted(accepted []string, typ string) bool {
	if typ == "" {
		return false
	}
	// Most tokens spell it exactly as configured: try that before allocating a folded copy.
	for _, a := range accepted {
		if a == typ || (len(a) == len("application/")+len(typ) && a[len("application/"):] == typ && strings.HasPrefix(a, "application/")) {
			return true
		}
	}
	mt := mediaType(typ)
	for _, a := range accepted {
		if a == mt {
			return true
		}
	}
	return false
}
