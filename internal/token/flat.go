package token

import "strings"

// Nearly every access token's claim set is one flat object of short ASCII names with string,
// integer and boolean values: {"token_type":"access","exp":1795968636,"iat":...,"jti":"...",
// "user_id":1}. scanFlat validates such a payload in one loop, with none of the general
// scanner's calls per value, name hashing or unescaping. In Caddy, where the request around it has
// pushed the scanner's code and branch history out of the CPU, that is a good part of what a new
// token costs.

// flatByte marks the bytes a string may hold in scanFlat's fast path: printable ASCII (0x20-0x7f)
// except '"' and '\\', so that a string without escapes or multi-byte characters is its own text.
var flatByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanFlat is Watch's validating scan for a flat claim set: one object of at most pairwiseLimit
// members whose names are ASCII strings without '.' or escapes, pairwise distinct ignoring case,
// and whose values are such strings (any printable ASCII but '"' and '\\'), integers of at most
// 15 digits, true, false or null. It then sets vals[i] to the value of names[i] (a zero Value
// when absent), as Watch does, and returns true. For anything else, valid or not, it returns
// false and leaves the verdict to the general scanner: an escape, a non-ASCII byte, a fraction or
// exponent, a nested value, a duplicate, a syntax error.
func scanFlat(s string, names []string, vals []Value) bool {
	clear(vals)
	var seen [pairwiseLimit]string // the names so far, compared pairwise as the decoder does
	n := 0
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	for {
		name, j, ok := flatString(s, i)
		if !ok || n == len(seen) || strings.IndexByte(name, '.') >= 0 {
			return false
		}
		for _, prev := range seen[:n] { // sameName for top-level names; ASCII ones fold to their own length
			if len(prev) == len(name) && strings.EqualFold(prev, name) {
				return false
			}
		}
		seen[n] = name
		n++
		i = skipSpace(s, j)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i = skipSpace(s, i+1)
		if i >= len(s) {
			return false
		}
		var v Value
		switch c := s[i]; {
		case c == '"':
			v.Kind = String
			if v.Text, i, ok = flatString(s, i); !ok {
				return false
			}
		case c == '-' || '0' <= c && c <= '9':
			if v, i, ok = flatInt(s, i); !ok {
				return false
			}
		case strings.HasPrefix(s[i:], "true"):
			v = Value{Kind: Bool, Text: "true"}
			i += len("true")
		case strings.HasPrefix(s[i:], "false"):
			v = Value{Kind: Bool, Text: "false"}
			i += len("false")
		case strings.HasPrefix(s[i:], "null"):
			v = Value{Kind: Null, Text: "null"}
			i += len("null")
		default:
			return false
		}
		keepWatched(names, vals, name, v)
		i = skipSpace(s, i)
		if i >= len(s) {
			return false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return skipSpace(s, i+1) == len(s)
		default:
			return false
		}
	}
}

// flatString returns the string that starts at s[i] (a '"') and the index after it, when it holds
// only flatByte bytes.
func flatString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", i, false
	}
	j := i + 1
	for j < len(s) && flatByte[s[j]] {
		j++
	}
	if j >= len(s) || s[j] != '"' {
		return "", i, false
	}
	return s[i+1 : j], j + 1, true
}

// flatInt returns the integer that starts at s[i] and the index after it, when it has the JSON
// form of an integer (no leading zero) and smallInt converts it exactly (at most 15 digits).
func flatInt(s string, i int) (Value, int, bool) {
	start := i
	if s[start] == '-' {
		start++
	}
	j := digits(s, start)
	switch {
	case j == start || j-start > 1 && s[start] == '0': // ||, not a list: Yaegi reads only the first
		return Value{}, i, false
	case j < len(s) && (s[j] == '.' || s[j] == 'e' || s[j] == 'E'):
		return Value{}, i, false
	}
	text := s[i:j]
	f, ok := smallInt(text)
	if !ok {
		return Value{}, i, false
	}
	return Value{Kind: Number, Text: text, Num: f}, j, true
}

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}
