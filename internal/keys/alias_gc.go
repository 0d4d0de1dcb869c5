//go:build gc
// +build gc

package keys

import "unsafe"

// stringBytes views s as a byte slice without copying. It is only passed to hash Write and
// signature verification functions, which by the io.Writer and crypto contracts neither modify
// nor retain their input; copying the signing input on every token would be the largest
// allocation of an HMAC verification (no standard hash implements io.StringWriter).
//
// The "// +build gc" line is for Traefik's interpreter, Yaegi, which reads only that form of
// build constraint and never has the gc tag: there the copying twin in alias_nogc.go is used,
// because Traefik does not let plugins import unsafe.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
