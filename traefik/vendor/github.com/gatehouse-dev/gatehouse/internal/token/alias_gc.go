//go:build gc
// +build gc

package token

import "unsafe"

// bytesString views b as a string without copying. Split's decoded payload is never written
// again, so the claims' strings may alias it (see Claims.Raw).
//
// The "// +build gc" line is for Traefik's interpreter, Yaegi, which reads only that form of
// build constraint and never has the gc tag: there the copying twin in alias_nogc.go is used,
// because Traefik does not let plugins import unsafe.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
