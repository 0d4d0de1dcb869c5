//go:build !gc
// +build !gc

package httpsyntax

// interpreted selects the spellings of a check that suit Traefik's interpreter (Yaegi), which
// reads this file and never the gc one (it reads only "// +build" lines and has no gc tag): one
// call to the standard library rather than a loop.
const interpreted = true
