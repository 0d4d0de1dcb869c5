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

// TestTokenSpellings holds the interpreter's spelling of IsToken to the compiled one, on every
// single byte and on a few strings.
func TestTokenSpellings(t *testing.T) {
	inputs := []string{"", "Bearer", "X-User-Id", "a b", "a:b", "é", "!#$%&'*+-.^_`|~09azAZ", "x\x00"}
	for c := range 256 {
		inputs = append(inputs, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"b")
	}
	for _, s := range inputs {
		if IsToken(s) != isTokenTrim(s) {
			t.Errorf("%q: IsToken %v, isTokenTrim %v", s, IsToken(s), isTokenTrim(s))
		}
	}
}
