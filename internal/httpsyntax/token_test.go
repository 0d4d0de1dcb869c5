package httpsyntax

import "testing"

func TestIsToken(t *testing.T) {
	for s, want := range map[string]bool{
		"Bearer": true, "X-User-Id": true, "!#$%&'*+-.^_`|~09az": true,
		"": false, "a b": false, "a:b": false, "a\tb": false, "é": false, "(x)": false, `"x"`: false,
	} {
		if got := IsToken(s); got != want {
			t.Errorf("IsToken(%q) = %v, want %v", s, got, want)
		}
	}
}
