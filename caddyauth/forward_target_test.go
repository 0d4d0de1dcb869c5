package caddyauth

import (
	"net/url"
	"reflect"
	"testing"
)

// FuzzParseTarget checks that parseTarget gives exactly what url.ParseRequestURI gives, for
// every target, on its fast path and off it.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"/", "/notes/?page=2", "/a?", "/a??", "/a?b?", "//x/y", "/a%2Fb", "/a b", "/a+b;c=d:e@f",
		"/é", "/a?q=é", "/a?x#y", "/a#b", "/!x", "/a?q=%zz", "*", "x", "", "/a\x7f", "/a?\x00",
		"/a/../b", "/%", "/a?b=c&d=e;f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		want, wantErr := url.ParseRequestURI(uri)
		var got url.URL
		err := parseTarget(uri, &got)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, url.ParseRequestURI's %v", uri, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(&got, want) {
			t.Fatalf("%q: %#v, url.ParseRequestURI gives %#v", uri, got, *want)
		}
	})
}

// TestParseTargetAllocates checks what the fast path is for: a plain path and query without an
// allocation.
func TestParseTargetAllocates(t *testing.T) {
	var u url.URL
	if n := testing.AllocsPerRun(100, func() { _ = parseTarget("/notes/?page=2&sort=-date", &u) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = parseTarget("/a%20b", &u) }); n == 0 {
		t.Fatal("the escaped path took the fast path")
	}
}
