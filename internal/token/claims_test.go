package token

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func str(name, text string) Member { return Member{name, Value{Kind: String, Text: text}} }

func num(name, text string, n float64) Member {
	return Member{name, Value{Kind: Number, Text: text, Num: n}}
}

// arr is an array of strings.
func arr(name string, items ...string) Member {
	return Member{name, Value{Kind: Array, Text: strings.Join(items, ","), Items: items, Strings: true}}
}

// obj is a member recorded without text: an empty object or an array holding containers.
func obj(name string) Member { return Member{name, Value{Kind: Object}} }

func TestParseClaims(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want []Member
	}{
		{name: "simplejwt access", json: accessPayload, want: []Member{
			str("token_type", "access"),
			num("exp", "1795887125", 1795887125),
			num("iat", "1795886825", 1795886825),
			str("jti", "ade5487163b04c179848ad8b20abd158"),
			num("user_id", "1", 1),
		}},
		{name: "empty object", json: `{}`, want: []Member{}},
		{name: "whitespace", json: " \t\r\n{ \"a\" :\n1 , \"b\"\t: \"x\" }\r\n ", want: []Member{num("a", "1", 1), str("b", "x")}},
		{name: "literals", json: `{"t":true,"f":false,"n":null}`, want: []Member{
			{"t", Value{Kind: Bool, Text: "true"}},
			{"f", Value{Kind: Bool, Text: "false"}},
			{"n", Value{Kind: Null, Text: "null"}},
		}},
		{name: "numbers as written", json: `{"a":-0,"b":1.50,"c":-2E+3,"d":1e-400,"e":123456789012345678901234567890,"f":9007199254740993,"g":123456789012345}`, want: []Member{
			num("a", "-0", 0),
			num("b", "1.50", 1.5),
			num("c", "-2E+3", -2000),
			num("d", "1e-400", 0),
			num("e", "123456789012345678901234567890", 1.2345678901234568e29),
			num("f", "9007199254740993", 9007199254740992),
			num("g", "123456789012345", 123456789012345),
		}},
		{name: "escapes", json: `{"s":"q\"b\\s\/b\bf\fn\nr\rt\t","u":"\u00e9\u20AC\ud83d\ude00\u0000","raw":"é€😀"}`, want: []Member{
			str("s", "q\"b\\s/b\bf\fn\nr\rt\t"),
			str("u", "é€😀\x00"),
			str("raw", "é€😀"),
		}},
		{name: "escaped name", json: `{"us\u0065r":"a"}`, want: []Member{str("user", "a")}},
		{name: "U+FFFD itself is valid", json: `{"r":"\ufffd�"}`, want: []Member{str("r", "��")}},
		{name: "nested flattening", json: `{"realm":{"roles":["admin","user"],"level":{"n":2,"deep":{"x":"y"}}},"sub":"alice","empty":{}}`, want: []Member{
			arr("realm.roles", "admin", "user"),
			num("realm.level.n", "2", 2),
			str("realm.level.deep.x", "y"),
			str("sub", "alice"),
			obj("empty"),
		}},
		{name: "scalar arrays", json: `{"mixed":[1,"two",true,null,"a\u002cb"],"one":["x"],"empty":[]}`, want: []Member{
			{"mixed", Value{Kind: Array, Text: "1,two,true,null,a,b", Items: []string{"1", "two", "true", "null", "a,b"}}},
			arr("one", "x"),
			{"empty", Value{Kind: Array, Strings: true}},
		}},
		{name: "many array items", json: `{"a":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]}`, want: []Member{
			{"a", Value{Kind: Array, Text: "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19",
				Items: strings.Split("0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19", ",")}},
		}},
		{name: "arrays of containers kept as objects", json: `{"objs":[{"a":1}],"arrs":[[1],[2]],"late":[1,{"a":1}],"keep":1}`, want: []Member{
			obj("objs"), obj("arrs"), obj("late"),
			num("keep", "1", 1),
		}},
		{name: "empty objects kept", json: `{"e":{},"o":{"e":{}}}`, want: []Member{obj("e"), obj("o.e")}},
		{name: "mixed array is not all strings", json: `{"aud":["a",1]}`, want: []Member{
			{"aud", Value{Kind: Array, Text: "a,1", Items: []string{"a", "1"}}},
		}},
		{name: "same name in different objects", json: `{"a":{"a":1},"b":{"a":2},"c":[{"a":1},{"a":2}]}`, want: []Member{
			num("a.a", "1", 1),
			num("b.a", "2", 2),
			obj("c"),
		}},
		{name: "nested names may differ in case", json: `{"o":{"role":"a","ROLE":"b"}}`, want: []Member{
			str("o.role", "a"),
			str("o.ROLE", "b"),
		}},
		{name: "dotted names", json: `{"https://example.com/roles":["a"],"a.b":1,"a":{"c":2}}`, want: []Member{
			arr("https://example.com/roles", "a"),
			num("a.b", "1", 1),
			num("a.c", "2", 2),
		}},
		{name: "empty name", json: `{"":1,"o":{"":2}}`, want: []Member{num("", "1", 1), num("o.", "2", 2)}},
		{name: "depth 32", json: `{"a":` + strings.Repeat(`[`, 31) + strings.Repeat(`]`, 31) + `}`, want: []Member{obj("a")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseClaims([]byte(tc.json))
			if err != nil {
				t.Fatalf("ParseClaims: %v", err)
			}
			if string(c.Raw) != tc.json {
				t.Errorf("Raw = %q, want the input", c.Raw)
			}
			if !reflect.DeepEqual(c.Members(), tc.want) {
				t.Errorf("Members =\n\t%+v\nwant\n\t%+v", c.Members(), tc.want)
			}
		})
	}
}

func TestParseClaimsRefused(t *testing.T) {
	// manyMembers is an object with n distinct members and then extra, large enough for the
	// map-based duplicate check.
	manyMembers := func(n int, extra string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, `"m%d":%d,`, i, i)
		}
		b.WriteString(extra + "}")
		return b.String()
	}

	for _, tc := range []struct {
		name string
		json string
		err  error
	}{
		{"empty", ``, ErrClaimsJSON},
		{"whitespace only", " \n", ErrClaimsJSON},
		{"array", `[{"sub":"a"}]`, ErrClaimsJSON},
		{"string", `"sub"`, ErrClaimsJSON},
		{"number", `1`, ErrClaimsJSON},
		{"null", `null`, ErrClaimsJSON},
		{"true", `true`, ErrClaimsJSON},
		{"trailing garbage", `{"a":1}x`, ErrClaimsJSON},
		{"trailing object", `{"a":1}{"a":2}`, ErrClaimsJSON},
		{"trailing comma after object", `{"a":1},`, ErrClaimsJSON},
		{"trailing NUL", "{\"a\":1}\x00", ErrClaimsJSON},
		{"unterminated object", `{"a":1`, ErrClaimsJSON},
		{"unterminated string", `{"a":"x}`, ErrClaimsJSON},
		{"trailing comma in object", `{"a":1,}`, ErrClaimsJSON},
		{"trailing comma in array", `{"a":[1,]}`, ErrClaimsJSON},
		{"missing colon", `{"a" 1}`, ErrClaimsJSON},
		{"missing comma", `{"a":1 "b":2}`, ErrClaimsJSON},
		{"unquoted name", `{a:1}`, ErrClaimsJSON},
		{"single quotes", `{'a':1}`, ErrClaimsJSON},
		{"comment", `{"a":1 /* x */}`, ErrClaimsJSON},
		{"bad literal", `{"a":tru}`, ErrClaimsJSON},
		{"literal run-on", `{"a":truex}`, ErrClaimsJSON},
		{"capital literal", `{"a":True}`, ErrClaimsJSON},
		{"leading zero", `{"a":01}`, ErrClaimsJSON},
		{"plus sign", `{"a":+1}`, ErrClaimsJSON},
		{"leading dot", `{"a":.5}`, ErrClaimsJSON},
		{"trailing dot", `{"a":5.}`, ErrClaimsJSON},
		{"bare exponent", `{"a":1e}`, ErrClaimsJSON},
		{"signed bare exponent", `{"a":1e+}`, ErrClaimsJSON},
		{"lone minus", `{"a":-}`, ErrClaimsJSON},
		{"hex", `{"a":0x10}`, ErrClaimsJSON},
		{"NaN", `{"a":NaN}`, ErrClaimsJSON},
		{"Infinity", `{"a":Infinity}`, ErrClaimsJSON},
		{"number overflows float64", `{"exp":1e400}`, ErrClaimsJSON},
		{"negative overflow", `{"exp":-1e400}`, ErrClaimsJSON},
		{"raw control character", "{\"a\":\"x\ny\"}", ErrClaimsJSON},
		{"raw tab", "{\"a\":\"x\ty\"}", ErrClaimsJSON},
		{"unknown escape", `{"a":"\x"}`, ErrClaimsJSON},
		{"short unicode escape", `{"a":"\u12"}`, ErrClaimsJSON},
		{"non-hex unicode escape", `{"a":"\u12g4"}`, ErrClaimsJSON},
		{"escape at end", `{"a":"\`, ErrClaimsJSON},
		{"invalid UTF-8 value", "{\"a\":\"\xff\"}", ErrClaimsJSON},
		{"invalid UTF-8 after escape", "{\"a\":\"\\n\xc3\"}", ErrClaimsJSON},
		{"invalid UTF-8 name", "{\"\xc3\x28\":1}", ErrClaimsJSON},
		{"truncated UTF-8", "{\"a\":\"\xe2\x82\"}", ErrClaimsJSON},
		{"overlong UTF-8", "{\"a\":\"\xc0\xaf\"}", ErrClaimsJSON},
		{"UTF-8 encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}", ErrClaimsJSON},
		{"invalid UTF-8 in skipped array", "{\"a\":[{\"b\":\"\xff\"}]}", ErrClaimsJSON},
		{"lone high surrogate", `{"a":"\ud83d"}`, ErrClaimsJSON},
		{"lone low surrogate", `{"a":"\ude00"}`, ErrClaimsJSON},
		{"high surrogate then letter", `{"a":"\ud83dx"}`, ErrClaimsJSON},
		{"high surrogate then non-surrogate escape", `{"a":"\ud83d\u0041"}`, ErrClaimsJSON},
		{"two high surrogates", `{"a":"\ud83d\ud83d"}`, ErrClaimsJSON},
		{"depth 33", `{"a":` + strings.Repeat(`[`, 32) + strings.Repeat(`]`, 32) + `}`, ErrClaimsJSON},
		{"deep objects", strings.Repeat(`{"a":`, 33) + `1` + strings.Repeat(`}`, 33), ErrClaimsJSON},
		{"hostile depth", `{"a":` + strings.Repeat(`[`, 100000) + strings.Repeat(`]`, 100000) + `}`, ErrClaimsJSON},
		{"invalid JSON in skipped array", `{"a":[{"b":}]}`, ErrClaimsJSON},

		{"duplicate top", `{"sub":"alice","sub":"bob"}`, ErrDuplicate},
		{"duplicate top different types", `{"exp":1,"exp":{"x":1}}`, ErrDuplicate},
		{"duplicate via escape", `{"sub":"alice","\u0073ub":"bob"}`, ErrDuplicate},
		{"exp and EXP", `{"exp":1795887125,"EXP":1}`, ErrDuplicate},
		{"case variant object", `{"realm":{"a":1},"Realm":{"b":1}}`, ErrDuplicate},
		{"Kelvin sign folds to k", `{"kid":1,"` + "\u212aid" + `":2}`, ErrDuplicate},
		{"long s folds to s", `{"sub":1,"` + "\u017fub" + `":2}`, ErrDuplicate},
		{"duplicate nested", `{"realm":{"roles":["a"],"roles":["admin"]}}`, ErrDuplicate},
		{"duplicate deep", `{"a":{"b":{"c":1,"c":2}}}`, ErrDuplicate},
		{"duplicate in skipped array", `{"a":[{"b":1,"b":2}]}`, ErrDuplicate},
		{"duplicate after nested object closed", `{"a":{"x":1},"b":2,"a":3}`, ErrDuplicate},
		{"flattened collision", `{"a.b":1,"a":{"b":2}}`, ErrDuplicate},
		{"flattened collision reversed", `{"a":{"b":2},"a.b":1}`, ErrDuplicate},
		{"flattened collision nested", `{"x":{"a.b":1,"a":{"b":2}}}`, ErrDuplicate},
		{"many members duplicate", manyMembers(40, `"m7":1`), ErrDuplicate},
		{"many members case variant", manyMembers(40, `"M39":1`), ErrDuplicate},
		{"many members Kelvin", manyMembers(40, `"kid":1,"`+"\u212aID"+`":2`), ErrDuplicate},
		{"many nested members duplicate", `{"o":` + manyMembers(40, `"m0":1`) + `}`, ErrDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseClaims([]byte(tc.json))
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseClaims error = %v, want %v", err, tc.err)
			}
			if c != nil {
				t.Errorf("ParseClaims returned claims with error %v", err)
			}
		})
	}

	// Sanity checks for the helper: without the extra member the objects are accepted, and
	// nested case variants stay allowed past the pairwise limit.
	for _, ok := range []string{
		manyMembers(40, `"x":1`),
		`{"o":` + manyMembers(40, `"M0":1`) + `}`,
	} {
		if _, err := ParseClaims([]byte(ok)); err != nil {
			t.Errorf("ParseClaims(%.40q...): %v", ok, err)
		}
	}
}

func TestNameHash(t *testing.T) {
	for _, tc := range []struct {
		a, b string
	}{
		{"exp", "EXP"},
		{"kid", "\u212aid"},
		{"sub", "\u017fUB"},
		{"straße", "STRASSE"}, // not a simple fold: must differ, as with strings.EqualFold
		{"Σσς", "σΣΣ"},
		{"ǅ", "ǆ"},
		{"user_id", "userid"},
		{"a_very_long_member_name_that_does_not_fit_the_stack_buffer_of_64_bytes", "A_VERY_LONG_MEMBER_NAME_THAT_DOES_NOT_FIT_THE_STACK_BUFFER_OF_64_BYTES"},
	} {
		fold := strings.EqualFold(tc.a, tc.b)
		if got := nameHash(tc.a, true) == nameHash(tc.b, true); got != fold {
			t.Errorf("nameHash(%q) == nameHash(%q) is %v, strings.EqualFold is %v", tc.a, tc.b, got, fold)
		}
		if tc.a != tc.b && nameHash(tc.a, false) == nameHash(tc.b, false) {
			t.Errorf("exact nameHash(%q) == nameHash(%q)", tc.a, tc.b)
		}
	}
}

func TestClaimsGet(t *testing.T) {
	c, err := ParseClaims([]byte(`{"realm":{"roles":["a","b"],"level":{"n":1}},"sub":"alice","realmx":1,"e":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want Value
		ok   bool
	}{
		{"realm.roles", Value{Kind: Array, Text: "a,b", Items: []string{"a", "b"}, Strings: true}, true},
		{"sub", Value{Kind: String, Text: "alice"}, true},
		{"realm", Value{Kind: Object}, true},
		{"realm.level", Value{Kind: Object}, true},
		{"realm.level.n", Value{Kind: Number, Text: "1", Num: 1}, true},
		{"realmx", Value{Kind: Number, Text: "1", Num: 1}, true},
		{"SUB", Value{}, false},
		{"roles", Value{}, false},
		{"real", Value{}, false},
		{"realm.", Value{}, false},
		{"e", Value{Kind: Object}, true}, // an empty object is present, without text
		{"", Value{}, false},
	} {
		v, ok := c.Get(tc.name)
		if ok != tc.ok || !reflect.DeepEqual(v, tc.want) {
			t.Errorf("Get(%q) = %+v, %v; want %+v, %v", tc.name, v, ok, tc.want, tc.ok)
		}
	}
}

// TestWatchConcurrentGet reads one deferred claim set from many goroutines at once, as requests
// sharing a cached token do; run with -race, it checks that the members are built once, safely.
func TestWatchConcurrentGet(t *testing.T) {
	j, err := Split(accessToken)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"exp", "token_type"}
	vals := make([]Value, len(names))
	c, err := j.Watch(names, vals)
	if err != nil {
		t.Fatal(err)
	}
	if !c.lazy {
		t.Fatal("Watch built the members at once; this test needs them deferred")
	}
	if vals[0].Kind != Number || vals[0].Num != 1795887125 || vals[1].Text != "access" {
		t.Fatalf("watched values = %+v", vals)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, ok := c.Get("jti"); !ok || v.Text != "ade5487163b04c179848ad8b20abd158" {
				t.Errorf("Get(jti) = %+v, %v", v, ok)
			}
			if n := len(c.Members()); n != 5 {
				t.Errorf("%d members, want 5", n)
			}
		})
	}
	wg.Wait()
}
