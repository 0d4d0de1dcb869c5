//go:build gc
// +build gc

package verify

// interpreted is false in compiled code; see builtin_nogc.go.
const interpreted = false
