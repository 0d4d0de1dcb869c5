//go:build !gc
// +build !gc

package verify

// interpreted selects the spellings of a check that suit Traefik's interpreter (Yaegi), which
// reads this file and never the gc one: one call to the standard library rather than a loop.
const interpreted = true

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
