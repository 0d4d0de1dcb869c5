//go:build !gc
// +build !gc

package verify

// max stands in for the built-in (Go 1.21), which Traefik's interpreter (Yaegi v0.16) lacks, for
// the one type this package takes the maximum of. A package-level max shadows the built-in, so
// it is declared only in this file, which Yaegi reads (it never has the gc tag, and reads only
// the "// +build" form of constraints) and the gc compiler skips.
func max(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}
