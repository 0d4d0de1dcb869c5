//go:build gc
// +build gc

package httpsyntax

// interpreted is false in compiled code; see interp_nogc.go.
const interpreted = false
