// Package claimvalue holds the one rule that gives a claim written as text its JSON type, for
// the two places a person writes claims: jwt_issuer's `claim` in a Caddyfile and the
// `caddy jwt-token --claim` command. The rule is Caddy's own for Caddyfile scalars
// (caddyfile.Dispenser.ScalarVal), narrowed to what a token can carry without surprises:
//
//   - a quoted value is a string, always: `claim admin "true"`, `--claim 'zip="7"'`;
//   - true and false are booleans;
//   - an integer in canonical decimal form (no sign but a leading minus, no leading zero) within
//     ±(2^53-1) is a number;
//   - anything else is a string: 1.5, 1e3, 007, +7, -0, null, a larger integer (every digit kept).
//
// Several values make an array, each element typed by the same rule.
package claimvalue

import (
	"encoding/json"
	"strconv"
)

// Value is one claim value as written: its text (without the quotes) and whether it was quoted.
type Value struct {
	Text   string
	Quoted bool
}

// maxSafeInteger is the largest integer every JSON parser keeps exactly (2^53-1): JavaScript's
// and Python's float-based ones, and Caddy's adapter, which goes through float64. A larger
// integer would lose digits on the way, so it stays a string.
const maxSafeInteger = 1<<53 - 1

// Arg reads a command-line value. The shell takes off its own quotes, so a value that must be a
// string whatever it looks like carries double quotes of its own ('admin="true"' in a shell is
// the value "true", quotes included); they are taken off and nothing inside is unescaped.
func Arg(s string) Value {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return Value{Text: s[1 : len(s)-1], Quoted: true}
	}
	return Value{Text: s}
}

// Encode returns the JSON of a claim with the values vals: one value is that value, several (or
// none) an array of them.
func Encode(vals ...Value) json.RawMessage {
	if len(vals) == 1 {
		return encode(vals[0])
	}
	b := []byte{'['}
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, encode(v)...)
	}
	return append(b, ']')
}

// encode types one value.
func encode(v Value) json.RawMessage {
	if !v.Quoted {
		switch {
		case v.Text == "true" || v.Text == "false":
			return json.RawMessage(v.Text)
		case isSafeInteger(v.Text):
			return json.RawMessage(v.Text)
		}
	}
	b, _ := json.Marshal(v.Text) // a string always marshals
	return b
}

// isSafeInteger reports whether s is an integer in canonical decimal form within ±maxSafeInteger:
// digits with an optional leading minus, no leading zero (a postal code such as 007 stays a
// string), and not -0. Its text is then also its JSON encoding.
func isSafeInteger(s string) bool {
	digits := s
	if len(s) > 0 && s[0] == '-' {
		digits = s[1:]
	}
	if digits == "" || (digits[0] == '0' && (len(digits) > 1 || len(s) > 1)) {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n >= -maxSafeInteger && n <= maxSafeInteger
}
