package claimvalue

import (
	"encoding/json"
	"testing"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		in   Value
		want string
	}{
		// numbers: canonical integers within ±(2^53-1)
		{Value{Text: "7"}, `7`},
		{Value{Text: "0"}, `0`},
		{Value{Text: "-3"}, `-3`},
		{Value{Text: "9007199254740991"}, `9007199254740991`},
		{Value{Text: "-9007199254740991"}, `-9007199254740991`},
		// booleans
		{Value{Text: "true"}, `true`},
		{Value{Text: "false"}, `false`},
		// strings: everything else, every digit kept
		{Value{Text: "9007199254740992"}, `"9007199254740992"`},
		{Value{Text: "-9007199254740992"}, `"-9007199254740992"`},
		{Value{Text: "123456789012345678901234567890"}, `"123456789012345678901234567890"`},
		{Value{Text: "007"}, `"007"`},
		{Value{Text: "-0"}, `"-0"`},
		{Value{Text: "-07"}, `"-07"`},
		{Value{Text: "+7"}, `"+7"`},
		{Value{Text: "-"}, `"-"`},
		{Value{Text: "1.5"}, `"1.5"`},
		{Value{Text: "1e3"}, `"1e3"`},
		{Value{Text: "0x10"}, `"0x10"`},
		{Value{Text: " 7"}, `" 7"`},
		{Value{Text: "7 "}, `"7 "`},
		{Value{Text: "True"}, `"True"`},
		{Value{Text: "null"}, `"null"`},
		{Value{Text: "[1]"}, `"[1]"`},
		{Value{Text: ""}, `""`},
		{Value{Text: "alice"}, `"alice"`},
		{Value{Text: `a"b<`}, `"a\"b\u003c"`},
		// quoted: a string whatever it looks like
		{Value{Text: "true", Quoted: true}, `"true"`},
		{Value{Text: "7", Quoted: true}, `"7"`},
	}
	for _, tt := range tests {
		got := Encode(tt.in)
		if string(got) != tt.want {
			t.Errorf("Encode(%+v) = %s, want %s", tt.in, got, tt.want)
		}
		if !json.Valid(got) {
			t.Errorf("Encode(%+v) = %s is not JSON", tt.in, got)
		}
	}
}

// Several values are an array whose elements follow the rule of one value.
func TestEncodeSeveral(t *testing.T) {
	tests := []struct {
		in   []Value
		want string
	}{
		{[]Value{{Text: "admin"}, {Text: "editor"}}, `["admin","editor"]`},
		{[]Value{{Text: "1"}, {Text: "2"}, {Text: "007"}}, `[1,2,"007"]`},
		{[]Value{{Text: "true"}, {Text: "true", Quoted: true}}, `[true,"true"]`},
		{nil, `[]`},
	}
	for _, tt := range tests {
		if got := Encode(tt.in...); string(got) != tt.want {
			t.Errorf("Encode(%+v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestArg(t *testing.T) {
	tests := []struct {
		in   string
		want Value
	}{
		{"true", Value{Text: "true"}},
		{`"true"`, Value{Text: "true", Quoted: true}},
		{`""`, Value{Text: "", Quoted: true}},
		{`"`, Value{Text: `"`}},
		{`"7`, Value{Text: `"7`}},
		{`"a\"b"`, Value{Text: `a\"b`, Quoted: true}}, // nothing unescaped
		{"'x'", Value{Text: "'x'"}},                   // only double quotes quote
	}
	for _, tt := range tests {
		if got := Arg(tt.in); got != tt.want {
			t.Errorf("Arg(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// FuzzEncode: whatever the text, the result is one valid JSON value, and a quoted value is the
// text itself as a string.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"7", "-0", "true", "9007199254740992", "a\x00b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := Encode(Value{Text: s}); !json.Valid(got) {
			t.Fatalf("Encode(%q) = %s is not JSON", s, got)
		}
		var back string
		if err := json.Unmarshal(Encode(Value{Text: s, Quoted: true}), &back); err != nil {
			t.Fatalf("quoted %q: %v", s, err)
		}
	})
}
