package token

import (
	"reflect"
	"testing"
)

// TestScanFlat: the fast path takes the usual access token's claim set, and declines what only
// the general scanner decides (FuzzWatch holds both to the same results).
func TestScanFlat(t *testing.T) {
	names := []string{"exp", "nbf", "iat", "token_type", "sub", "user_id"}
	for _, tc := range []struct {
		payload string
		flat    bool
	}{
		{accessPayload, true},
		{`{"exp":1795968636,"iat":-1795968336,"sub":"user-1","ok":true,"no":false,"x":null,"":"` + "\x7f" + `"}`, true},
		{` { "exp" : 0 ,` + "\t\r\n" + `"sub":"" } `, true},
		{`{"exp":123456789012345}`, true},
		{`{}`, false},
		{`{"exp":1234567890123456}`, false}, // 16 digits: a float64 may not hold it exactly
		{`{"exp":01}`, false},
		{`{"exp":1.5}`, false},
		{`{"exp":1e3}`, false},
		{`{"sub":"a\"b"}`, false},
		{`{"sub":"é"}`, false},
		{"{\"sub\":\"\x01\"}", false},
		{`{"realm.roles":1}`, false},
		{`{"aud":["a"]}`, false},
		{`{"realm":{"roles":1}}`, false},
		{`{"exp":1,"EXP":2}`, false},
		{`{"exp":tru}`, false},
		{`{"exp":1}x`, false},
		{`{"exp":1,}`, false},
		{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17}`, false},
	} {
		vals := make([]Value, len(names))
		if got := scanFlat(tc.payload, names, vals); got != tc.flat {
			t.Errorf("scanFlat(%q) = %v, want %v", tc.payload, got, tc.flat)
		}
	}
	// What the fast path found is what the members say.
	vals := make([]Value, len(names))
	if !scanFlat(accessPayload, names, vals) {
		t.Fatal("the access token's claims took the general scanner")
	}
	c, err := ParseClaims([]byte(accessPayload))
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		want, _ := c.Get(name)
		if !reflect.DeepEqual(vals[i], want) {
			t.Errorf("%s = %+v, want %+v", name, vals[i], want)
		}
	}
}
