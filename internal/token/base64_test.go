package token

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeCanonical compares decodeCanonical with the reference (strict decoding that
// re-encodes to the segment) on every segment of up to 3 symbols over the alphabet and the bytes
// base64 variants or sloppy encoders use, and on every tail after a full quantum.
func TestDecodeCanonical(t *testing.T) {
	symbols := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
	symbols = append(symbols, '+', '/', '=', '.', ' ', '\r', '\n', 0, 0x80, 0xff)
	check := func(seg string) {
		t.Helper()
		want, err := base64.RawURLEncoding.Strict().DecodeString(seg)
		wantOK := err == nil && base64.RawURLEncoding.EncodeToString(want) == seg
		got, ok := decodeCanonical(make([]byte, b64.DecodedLen(len(seg))), seg)
		if ok != wantOK || ok && !bytes.Equal(got, want) {
			t.Fatalf("decodeCanonical(%q) = %x, %v; want %x, %v", seg, got, ok, want, wantOK)
		}
	}
	check("")
	for _, a := range symbols {
		check(string(a))
		for _, b := range symbols {
			check(string([]byte{a, b}))
			check("QUJD" + string([]byte{a, b}))
			for _, c := range symbols {
				check(string([]byte{a, b, c}))
				check("QUJD" + string([]byte{a, b, c}))
			}
		}
	}
	// A bad byte in any position of a long segment.
	long := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte("gatehouse"), 20))
	for i := range long {
		for _, bad := range []byte{'=', '+', '\n', 0x80} {
			check(long[:i] + string(bad) + long[i+1:])
		}
	}
	check(long)
}

// TestSplitHeaderMemo: a header segment seen on the previous Split is not parsed again, and
// gives the same Header as a parse; another segment replaces it; a refused one never does.
func TestSplitHeaderMemo(t *testing.T) {
	headers := []struct {
		json string
		want Header
	}{
		{`{"alg":"HS256","typ":"JWT"}`, Header{Alg: "HS256", Typ: "JWT"}},
		{`{"alg":"ES256","kid":"k1"}`, Header{Alg: "ES256", Kid: "k1"}},
		{`{"alg":"ES256","kid":"k2","crit":["b64"]}`, Header{Alg: "ES256", Kid: "k2", Crit: true}},
	}
	for round := range 3 {
		for _, h := range headers {
			j, err := Split(jws(h.json, `{"sub":"alice"}`))
			if err != nil || j.Header != h.want {
				t.Fatalf("round %d: Split of %s = %+v, %v; want %+v", round, h.json, j.Header, err, h.want)
			}
			if memo, _ := lastHeader.Load().(*headerMemo); memo == nil || string(memo.seg[:memo.n]) != enc(h.json) || memo.header != h.want {
				t.Fatalf("round %d: after %s the memo is %+v", round, h.json, memo)
			}
		}
	}
	// A header that fails to parse is refused, and the memo keeps the last good one.
	before := lastHeader.Load()
	for _, bad := range []string{`{"alg":"HS256","alg":"HS256"}`, `{"typ":"JWT"}`, `{"alg":""}`} {
		if _, err := Split(jws(bad, `{"sub":"alice"}`)); err == nil {
			t.Fatalf("Split accepted header %s", bad)
		}
		if lastHeader.Load() != before {
			t.Fatalf("a refused header %s replaced the memo", bad)
		}
	}
	// A payload or signature error refuses the token even when its header is the memo's.
	known := enc(headers[len(headers)-1].json)
	for _, raw := range []string{known + ".e30=." + testSig, known + "." + enc("{}") + ".a"} {
		if _, err := Split(raw); !errors.Is(err, ErrBase64) {
			t.Fatalf("Split(%q) error = %v, want ErrBase64", raw, err)
		}
	}
}

// TestJWSClaimsMatchesParseClaims: (*JWS).Claims, which parses its own decoded payload in
// place, gives the members ParseClaims gives for a copy, for claim sets of every size around the
// blocks newClaims allocates.
func TestJWSClaimsMatchesParseClaims(t *testing.T) {
	for n := 0; n <= 70; n++ {
		var b strings.Builder
		b.WriteString(`{"realm":{"roles":["a","b"]}`)
		for i := range n {
			fmt.Fprintf(&b, `,"c%d":"v%d:x"`, i, i)
		}
		b.WriteString("}")
		j, err := Split(jws(testHeader, b.String()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := j.Claims()
		if err != nil {
			t.Fatal(err)
		}
		want, err := ParseClaims([]byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Members()) != n+1 || !reflect.DeepEqual(got.Members(), want.Members()) || string(got.Raw) != b.String() {
			t.Fatalf("%d members: Claims = %+v, ParseClaims = %+v", n+1, got.Members(), want.Members())
		}
	}
}
