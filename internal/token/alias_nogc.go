//go:build !gc
// +build !gc

package token

// bytesString copies b into a string: the version for interpreters (Traefik's Yaegi, see
// alias_gc.go), which may not import unsafe.
func bytesString(b []byte) string {
	return string(b)
}

// min stands in for the built-in (Go 1.21), which Yaegi v0.16 lacks, for the one type this
// package takes the minimum of. A package-level min shadows the built-in, so it is declared in
// this interpreter-only file and compiled code keeps the built-in.
func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// clear stands in for the built-in (Go 1.21), which Yaegi v0.16 lacks, for the one slice type
// this package clears; see min.
func clear(vals []Value) {
	for i := range vals {
		vals[i] = Value{}
	}
}
