package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzz targets compare the hand-written scanner with a reference built on encoding/json.
// Seed corpora live in testdata/fuzz/<FuzzName>/.

// verdict is the reference's opinion of a JSON text.
type verdict int

const (
	accept  verdict = iota
	reject          // the scanner must refuse it
	unknown         // the reference cannot tell (lone surrogate escapes, which encoding/json replaces)
)

// surrogateEscape over-matches (an escaped backslash followed by "ud800" matches too), which
// only makes the reference abstain more often.
var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F]`)

// refValidate judges data by the documented rules using encoding/json: one JSON object, valid
// UTF-8, nesting at most maxDepth, finite numbers, no duplicate member names in any object and no
// case-variant names (strings.EqualFold) at the top level. Flattened-name collisions are
// refFlatten's business.
func refValidate(data []byte) verdict {
	if !json.Valid(data) || !utf8.Valid(data) {
		return reject
	}
	if surrogateEscape.Match(data) {
		return unknown
	}
	type frame struct {
		obj     bool
		wantKey bool
		keys    []string
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true
		}
	}
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err == io.EOF {
			return accept
		}
		if err != nil {
			return reject
		}
		if first && tok != json.Delim('{') {
			return reject
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			top := stack[n-1]
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			key := tok.(string)
			for _, k := range top.keys {
				if k == key || n == 1 && strings.EqualFold(k, key) {
					return reject
				}
			}
			top.keys = append(top.keys, key)
			top.wantKey = false
			continue
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				stack = append(stack, &frame{obj: tok == '{', wantKey: true})
				if len(stack) > maxDepth {
					return reject
				}
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case json.Number:
			if _, err := strconv.ParseFloat(string(tok), 64); err != nil {
				return reject
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

// refFlatten flattens a claim set that refValidate accepted, using encoding/json's decoding.
// collision reports two members with the same flattened name.
func refFlatten(t *testing.T, data []byte) (members map[string]Value, collision bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		t.Fatalf("encoding/json refuses what the reference accepted: %v", err)
	}
	members = map[string]Value{}
	scalar := func(v any) (Value, bool) {
		switch v := v.(type) {
		case string:
			return Value{Kind: String, Text: v}, true
		case json.Number:
			f, _ := strconv.ParseFloat(string(v), 64)
			return Value{Kind: Number, Text: string(v), Num: f}, true
		case bool:
			return Value{Kind: Bool, Text: strconv.FormatBool(v)}, true
		case nil:
			return Value{Kind: Null, Text: "null"}, true
		}
		return Value{}, false
	}
	add := func(name string, v Value) {
		if _, dup := members[name]; dup {
			collision = true
		}
		members[name] = v
	}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			name := prefix + k
			if s, ok := scalar(v); ok {
				add(name, s)
				continue
			}
			switch v := v.(type) {
			case map[string]any:
				if len(v) == 0 {
					add(name, Value{Kind: Object})
				}
				walk(name+".", v)
			case []any:
				items, strs := []string{}, true
				for _, item := range v {
					s, ok := scalar(item)
					if !ok {
						items = nil
						break
					}
					items = append(items, s.Text)
					strs = strs && s.Kind == String
				}
				if items != nil {
					add(name, Value{Kind: Array, Text: strings.Join(items, ","), Items: items, Strings: strs})
				} else {
					add(name, Value{Kind: Object})
				}
			}
		}
	}
	walk("", top)
	return members, collision
}

func FuzzParseClaims(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseClaims(data)
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			if !errors.Is(err, ErrClaimsJSON) && !errors.Is(err, ErrDuplicate) {
				t.Fatalf("unexpected error %v", err)
			}
		} else if !json.Valid(data) {
			t.Fatalf("accepted what encoding/json calls invalid: %q", data)
		}

		v := refValidate(data)
		switch {
		case v == reject && err == nil:
			t.Fatalf("accepted what the reference refuses: %q", data)
		case v == accept && err != nil && !errors.Is(err, ErrDuplicate):
			t.Fatalf("refused with %v what the reference accepts: %q", err, data)
		case v == reject || err != nil && v == unknown:
			return
		}
		want, collision := refFlatten(t, data)
		if collision {
			if !errors.Is(err, ErrDuplicate) {
				t.Fatalf("flattened names collide, but error = %v: %q", err, data)
			}
			return
		}
		if err != nil {
			t.Fatalf("refused with %v what the reference accepts: %q", err, data)
		}
		if len(c.Members()) != len(want) {
			t.Fatalf("%d members, reference has %d: %q", len(c.Members()), len(want), data)
		}
		for _, m := range c.Members() {
			w := want[m.Name]
			if len(w.Items) == 0 && len(m.Value.Items) == 0 {
				w.Items = m.Value.Items // nil and empty are the same here
			}
			if !reflect.DeepEqual(m.Value, w) {
				t.Fatalf("member %q = %+v, reference %+v", m.Name, m.Value, w)
			}
		}
	})
}

// refCanonical reports whether seg is canonical unpadded base64url by round trip: it decodes
// strictly and re-encodes to itself (which also rules out the CR and LF the decoder skips).
func refCanonical(seg string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	return err == nil && base64.RawURLEncoding.EncodeToString(b) == seg
}

func FuzzSplit(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		j, err := Split(raw)
		segs := strings.Split(raw, ".")
		shaped := len(segs) == 3 && segs[0] != "" && segs[1] != "" && segs[2] != ""
		canon := shaped && refCanonical(segs[0]) && refCanonical(segs[1]) && refCanonical(segs[2])
		switch {
		case errors.Is(err, ErrSegments) && shaped,
			errors.Is(err, ErrEmptySig) && (len(segs) != 3 || segs[2] != ""),
			errors.Is(err, ErrBase64) && canon:
			t.Fatalf("Split error %v for %q", err, raw)
		case err == nil && !canon:
			t.Fatalf("Split accepted %q", raw)
		}
		if !canon {
			return
		}

		// The header follows the claim set's JSON rules; then alg must be a non-empty string and
		// kid and typ strings when present.
		hb, _ := base64.RawURLEncoding.DecodeString(segs[0])
		v := refValidate(hb)
		var m map[string]json.RawMessage
		if v != reject {
			if e := json.Unmarshal(hb, &m); e != nil {
				t.Fatalf("encoding/json refuses the header the reference accepts: %v", e)
			}
		}
		member := func(name string) (s string, present, isString bool) {
			r, present := m[name]
			if !present || r[0] != '"' {
				return "", present, false
			}
			if e := json.Unmarshal(r, &s); e != nil {
				t.Fatalf("encoding/json: %v", e)
			}
			return s, true, true
		}
		alg, _, algOK := member("alg")
		kid, kidPresent, kidOK := member("kid")
		typ, typPresent, typOK := member("typ")
		wantErr := v == reject || !algOK || alg == "" || kidPresent && !kidOK || typPresent && !typOK
		if v != unknown && wantErr != (err != nil) {
			t.Fatalf("Split error = %v, reference wants an error: %v, header %q", err, wantErr, hb)
		}
		if err != nil {
			return
		}
		_, crit := m["crit"]
		if want := (Header{Alg: alg, Kid: kid, Typ: typ, Crit: crit}); j.Header != want {
			t.Fatalf("Header = %+v, encoding/json reads %+v", j.Header, want)
		}
		if j.SigningInput != segs[0]+"."+segs[1] {
			t.Fatalf("SigningInput = %q", j.SigningInput)
		}
		if base64.RawURLEncoding.EncodeToString(j.Signature) != segs[2] {
			t.Fatalf("Signature does not re-encode to the segment")
		}
		c, err := j.Claims()
		if err != nil {
			return
		}
		if pb, _ := base64.RawURLEncoding.DecodeString(segs[1]); !bytes.Equal(c.Raw, pb) {
			t.Fatalf("Raw = %q, payload decodes to %q", c.Raw, pb)
		}
		if !json.Valid(c.Raw) {
			t.Fatalf("Claims accepted invalid JSON %q", c.Raw)
		}
	})
}

// watchSets are the name lists FuzzWatch asks for: the verifier's (which lets Watch defer the
// members), with a name given twice, with a dotted path, and more than Watch locates.
var watchSets = [][]string{
	{"exp", "nbf", "iat", "token_type", "sub", "user_id"},
	{"exp", "nbf", "iat", "token_type", "sub", "exp"},
	{"exp", "nbf", "iat", "token_type", "realm.roles", "aud"},
	{"exp", "nbf", "iat", "token_type", "a", "b", "c", "d", "e"},
}

// FuzzWatch holds (*JWS).Watch to (*JWS).Claims: the same error, the same members, and for
// every watched name the value Get gives, whichever way Watch took.
func FuzzWatch(f *testing.F) {
	for _, p := range []string{
		accessPayload,
		`{"exp":1,"nbf":2,"iat":3,"token_type":"access","sub":"a\u00e9\n","user_id":7}`,
		`{"exp":{"a":1},"sub":"x"}`,
		`{"exp":[1,2],"sub":"x"}`,
		`{"exp.x":1,"sub":"x"}`,
		`{"e\u0078p":1,"EXP":2}`,
		`{"exp":1,"exp":2}`,
		`{"realm":{"roles":["a","b"]},"aud":["x","y"],"exp":5}`,
		`{"a":1,"b":"2","c":null,"d":true,"e":[],"exp":1e3}`,
		`{"exp":1e999}`,
		`[1]`,
		// At the edges of scanFlat's fast path.
		`{}`,
		` { "exp" : 1 , "sub" : "x" } `,
		`{"exp":123456789012345,"iat":-1234567890123456}`,
		`{"exp":0,"iat":-0,"nbf":01}`,
		`{"exp":1.5,"sub":"x"}`,
		`{"exp":1E3}`,
		`{"exp":-,"sub":"x"}`,
		`{"sub":"a\"b"}`,
		`{"sub":"\u0041","Sub":"x"}`,
		"{\"sub\":\"\x7f\",\"user_id\":\"\x01\"}",
		`{"sub":"é"}`,
		`{"Exp":1,"eXP":2}`,
		`{"token_type":tru}`,
		`{"token_type":true,"a":false,"b":null,"c":nul}`,
		`{"":1,"exp":2}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"exp":17}`,
		`{"exp":1}x`,
		`{"exp":1,}`,
		`{"exp":1`,
	} {
		for i := range watchSets {
			f.Add([]byte(p), uint8(i))
		}
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`))
	f.Fuzz(func(t *testing.T, payload []byte, set uint8) {
		if len(payload) == 0 {
			return
		}
		names := watchSets[int(set)%len(watchSets)]
		raw := header + "." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
		j, err := Split(raw)
		if err != nil {
			t.Fatalf("Split: %v", err)
		}
		want, wantErr := j.Claims()
		vals := make([]Value, len(names))
		got, err := j.Watch(names, vals)
		if err != wantErr {
			t.Fatalf("Watch error %v, Claims error %v: %q", err, wantErr, payload)
		}
		if err != nil {
			if got != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		for i, name := range names {
			w, ok := want.Get(name)
			if ok != (vals[i].Kind != 0) || !reflect.DeepEqual(vals[i], w) {
				t.Fatalf("watched %s = %+v, Get gives %+v (present %v): %q", name, vals[i], w, ok, payload)
			}
		}
		gm, wm := got.Members(), want.Members()
		if len(gm)+len(wm) > 0 && !reflect.DeepEqual(gm, wm) || !bytes.Equal(got.Raw, want.Raw) {
			t.Fatalf("Members = %+v, Claims gives %+v", got.Members(), want.Members())
		}
	})
}
