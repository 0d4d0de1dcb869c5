//go:build !gc
// +build !gc

package keys

import "time"

// stringBytes copies s: the version for interpreters (Traefik's Yaegi, see alias_gc.go), which
// may not import unsafe.
func stringBytes(s string) []byte {
	return []byte(s)
}

// min stands in for the built-in (Go 1.21), which Yaegi v0.16 lacks, for the one type this
// package takes the minimum of. A package-level min shadows the built-in, so it is declared in
// this interpreter-only file and compiled code keeps the built-in.
func min(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}
