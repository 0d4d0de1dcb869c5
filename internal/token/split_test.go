package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// enc is the canonical base64url encoding of s.
func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// testSig is a canonical, non-empty signature segment; Split does not verify signatures.
var testSig = enc("signature")

// jws assembles a token from a JSON header and payload.
func jws(header, payload string) string { return enc(header) + "." + enc(payload) + "." + testSig }

const testHeader = `{"alg":"HS256","typ":"JWT"}`

// bumpLast replaces the last character of a segment whose length is 2 or 3 mod 4 with the next
// one in the alphabet, which sets a trailing bit that encodes nothing.
func bumpLast(t *testing.T, seg string) string {
	t.Helper()
	if len(seg)%4 < 2 {
		t.Fatalf("segment length %d has no trailing bits", len(seg))
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last+1])
}

func TestSplitGolangJWT(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte("k"), 64)
	for _, tc := range []struct {
		method    jwt.SigningMethod
		signKey   any
		verifyKey any
	}{
		{jwt.SigningMethodHS256, secret, secret},
		{jwt.SigningMethodHS384, secret, secret},
		{jwt.SigningMethodHS512, secret, secret},
		{jwt.SigningMethodES256, ecKey, &ecKey.PublicKey},
		{jwt.SigningMethodEdDSA, edKey, edKey.Public()},
	} {
		t.Run(tc.method.Alg(), func(t *testing.T) {
			tok := jwt.NewWithClaims(tc.method, jwt.MapClaims{
				"token_type": "access", "exp": 1795887125, "user_id": 1, "sub": "alice",
			})
			tok.Header["kid"] = "key-1"
			raw, err := tok.SignedString(tc.signKey)
			if err != nil {
				t.Fatal(err)
			}
			j, err := Split(raw)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			want := Header{Alg: tc.method.Alg(), Kid: "key-1", Typ: "JWT"}
			if j.Header != want {
				t.Errorf("Header = %+v, want %+v", j.Header, want)
			}
			if wantInput := raw[:strings.LastIndexByte(raw, '.')]; j.SigningInput != wantInput {
				t.Errorf("SigningInput = %q, want %q", j.SigningInput, wantInput)
			}
			// The split pieces are exactly what the signature covers.
			if err := tc.method.Verify(j.SigningInput, j.Signature, tc.verifyKey); err != nil {
				t.Errorf("signature over SigningInput does not verify: %v", err)
			}
			c, err := j.Claims()
			if err != nil {
				t.Fatalf("Claims: %v", err)
			}
			for name, text := range map[string]string{"token_type": "access", "exp": "1795887125", "user_id": "1", "sub": "alice"} {
				if v, ok := c.Get(name); !ok || v.Text != text {
					t.Errorf("Get(%q) = %+v, %v; want Text %q", name, v, ok, text)
				}
			}
		})
	}
}

func TestSplit(t *testing.T) {
	h, p := enc(testHeader), enc(`{"sub":"alice"}`)
	// segments whose lengths are 2 and 3 mod 4, so they have trailing bits
	p2, p3 := enc(`{"sub":"ali"}`), enc(`{"sub":"alic"}`)
	if len(p2)%4 != 2 || len(p3)%4 != 3 {
		t.Fatalf("test payload lengths %d, %d: want 2 and 3 mod 4", len(p2), len(p3))
	}
	sig2 := enc("sig1")

	for _, tc := range []struct {
		name string
		raw  string
		want Header // checked when err is nil
		err  error
	}{
		{name: "valid", raw: h + "." + p + "." + testSig, want: Header{Alg: "HS256", Typ: "JWT"}},
		{name: "payload trailing bits 2", raw: h + "." + p2 + "." + testSig, want: Header{Alg: "HS256", Typ: "JWT"}},
		{name: "payload trailing bits 3", raw: h + "." + p3 + "." + testSig, want: Header{Alg: "HS256", Typ: "JWT"}},
		{name: "kid and escapes", raw: jws(`{"alg":"HS\u0032\u0035\u0036","kid":"k\"1"}`, `{}`), want: Header{Alg: "HS256", Kid: `k"1`}},
		{name: "whitespace in header JSON", raw: jws(" {\n\t\"alg\" : \"ES256\" }\r\n", `{}`), want: Header{Alg: "ES256"}},
		{name: "alg case kept", raw: jws(`{"alg":"hs256"}`, `{}`), want: Header{Alg: "hs256"}},
		{name: "crit", raw: jws(`{"alg":"HS256","crit":["exp"],"exp":1}`, `{}`), want: Header{Alg: "HS256", Crit: true}},
		{name: "crit of any type", raw: jws(`{"alg":"HS256","crit":null}`, `{}`), want: Header{Alg: "HS256", Crit: true}},
		{name: "key source members ignored", raw: jws(`{"alg":"RS256","jku":"https://evil/","x5u":"https://evil/","jwk":{"kty":"oct","k":"AA"},"x5c":["AA"]}`, `{}`), want: Header{Alg: "RS256"}},
		{name: "payload not JSON is not parsed", raw: jws(testHeader, "not json"), want: Header{Alg: "HS256", Typ: "JWT"}},

		{name: "empty", raw: "", err: ErrSegments},
		{name: "one segment", raw: h, err: ErrSegments},
		{name: "two segments", raw: h + "." + p, err: ErrSegments},
		{name: "four segments", raw: h + "." + p + "." + testSig + "." + testSig, err: ErrSegments},
		{name: "trailing dot", raw: h + "." + p + "." + testSig + ".", err: ErrSegments},
		{name: "JWE-like five segments", raw: h + ".." + p + "." + p + "." + testSig, err: ErrSegments},
		{name: "empty header", raw: "." + p + "." + testSig, err: ErrSegments},
		{name: "empty payload", raw: h + ".." + testSig, err: ErrSegments},
		{name: "empty signature", raw: h + "." + p + ".", err: ErrEmptySig},
		{name: "unsecured alg none", raw: enc(`{"alg":"none"}`) + "." + p + ".", err: ErrEmptySig},
		{name: "only dots", raw: "..", err: ErrSegments},

		{name: "padding on signature", raw: h + "." + p + "." + sig2 + "==", err: ErrBase64},
		{name: "padding on payload", raw: h + "." + p2 + "==." + testSig, err: ErrBase64},
		{name: "padding on header", raw: h + "=." + p + "." + testSig, err: ErrBase64},
		{name: "std alphabet plus", raw: h + "." + p + ".ab+d", err: ErrBase64},
		{name: "std alphabet slash", raw: h + "." + p + ".ab/d", err: ErrBase64},
		{name: "LF inside header", raw: h[:8] + "\n" + h[8:] + "." + p + "." + testSig, err: ErrBase64},
		{name: "CRLF inside payload", raw: h + "." + p[:8] + "\r\n" + p[8:] + "." + testSig, err: ErrBase64},
		// Whitespace that keeps the length a multiple of 4, so only the alphabet check sees it:
		// encoding/base64 skips CR and LF even in strict mode.
		{name: "four LF inside header", raw: h[:8] + "\n\n\n\n" + h[8:] + "." + p + "." + testSig, err: ErrBase64},
		{name: "CRLF completing payload length", raw: h + "." + p2[:4] + "\r\n" + p2[4:] + "." + testSig, err: ErrBase64},
		{name: "CRLF CRLF inside signature", raw: h + "." + p + "." + testSig[:4] + "\r\n\r\n" + testSig[4:], err: ErrBase64},
		{name: "CR ending signature", raw: h + "." + p + "." + testSig + "\r", err: ErrBase64},
		{name: "space inside signature", raw: h + "." + p + "." + testSig[:4] + " " + testSig[4:], err: ErrBase64},
		{name: "tab inside header", raw: "\t" + h + "." + p + "." + testSig, err: ErrBase64},
		{name: "NUL inside payload", raw: h + "." + p + "\x00." + testSig, err: ErrBase64},
		{name: "non-ASCII", raw: h + "." + p + "." + testSig + "é", err: ErrBase64},
		{name: "length 1 mod 4", raw: h + "." + p + ".AAAAA", err: ErrBase64},
		{name: "non-canonical signature", raw: h + "." + p + "." + bumpLast(t, sig2), err: ErrBase64},
		{name: "non-canonical payload 2", raw: h + "." + bumpLast(t, p2) + "." + testSig, err: ErrBase64},
		{name: "non-canonical payload 3", raw: h + "." + bumpLast(t, p3) + "." + testSig, err: ErrBase64},
		{name: "non-canonical header", raw: bumpLast(t, enc(`{"alg":"HS256"}  `)) + "." + p + "." + testSig, err: ErrBase64},

		{name: "header not JSON", raw: jws("HS256", `{}`), err: ErrHeader},
		{name: "header empty JSON text", raw: jws(" ", `{}`), err: ErrHeader},
		{name: "header array", raw: jws(`[{"alg":"HS256"}]`, `{}`), err: ErrHeader},
		{name: "header string", raw: jws(`"HS256"`, `{}`), err: ErrHeader},
		{name: "header null", raw: jws(`null`, `{}`), err: ErrHeader},
		{name: "header trailing data", raw: jws(`{"alg":"HS256"}{}`, `{}`), err: ErrHeader},
		{name: "header truncated", raw: jws(`{"alg":"HS256"`, `{}`), err: ErrHeader},
		{name: "header invalid UTF-8", raw: jws("{\"alg\":\"HS256\",\"x\":\"\xff\"}", `{}`), err: ErrHeader},
		{name: "header invalid nested JSON", raw: jws(`{"alg":"HS256","jwk":{"k":}}`, `{}`), err: ErrHeader},
		{name: "kid number", raw: jws(`{"alg":"HS256","kid":1}`, `{}`), err: ErrHeader},
		{name: "kid null", raw: jws(`{"alg":"HS256","kid":null}`, `{}`), err: ErrHeader},
		{name: "typ object", raw: jws(`{"alg":"HS256","typ":{}}`, `{}`), err: ErrHeader},
		{name: "alg missing", raw: jws(`{"typ":"JWT"}`, `{}`), err: ErrHeaderAlg},
		{name: "empty header object", raw: jws(`{}`, `{}`), err: ErrHeaderAlg},
		{name: "alg empty", raw: jws(`{"alg":""}`, `{}`), err: ErrHeaderAlg},
		{name: "alg number", raw: jws(`{"alg":256}`, `{}`), err: ErrHeaderAlg},
		{name: "alg null", raw: jws(`{"alg":null}`, `{}`), err: ErrHeaderAlg},
		{name: "alg array", raw: jws(`{"alg":["HS256"]}`, `{}`), err: ErrHeaderAlg},
		{name: "alg nested only", raw: jws(`{"jwk":{"alg":"HS256"}}`, `{}`), err: ErrHeaderAlg},
		{name: "duplicate alg", raw: jws(`{"alg":"HS256","alg":"none"}`, `{}`), err: ErrDuplicate},
		{name: "duplicate alg escaped", raw: jws(`{"alg":"HS256","\u0061lg":"none"}`, `{}`), err: ErrDuplicate},
		{name: "case-variant alg", raw: jws(`{"alg":"HS256","ALG":"none"}`, `{}`), err: ErrDuplicate},
		{name: "duplicate kid", raw: jws(`{"alg":"HS256","kid":"a","kid":"b"}`, `{}`), err: ErrDuplicate},
		{name: "duplicate nested", raw: jws(`{"alg":"HS256","jwk":{"k":"a","k":"b"}}`, `{}`), err: ErrDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := Split(tc.raw)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Split error = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if j.Header != tc.want {
				t.Errorf("Header = %+v, want %+v", j.Header, tc.want)
			}
			dot := strings.LastIndexByte(tc.raw, '.')
			if j.SigningInput != tc.raw[:dot] {
				t.Errorf("SigningInput = %q, want %q", j.SigningInput, tc.raw[:dot])
			}
			if got := base64.RawURLEncoding.EncodeToString(j.Signature); got != tc.raw[dot+1:] {
				t.Errorf("Signature re-encodes to %q, want %q", got, tc.raw[dot+1:])
			}
		})
	}
}

func TestJWSClaims(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		sub     string
		err     error
	}{
		{name: "object", payload: `{"sub":"alice","exp":1}`, sub: "alice"},
		{name: "not JSON", payload: "not json", err: ErrClaimsJSON},
		{name: "array", payload: `[{"sub":"alice"}]`, err: ErrClaimsJSON},
		{name: "duplicate", payload: `{"sub":"alice","sub":"bob"}`, err: ErrDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := Split(jws(testHeader, tc.payload))
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			c, err := j.Claims()
			if !errors.Is(err, tc.err) {
				t.Fatalf("Claims error = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if string(c.Raw) != tc.payload {
				t.Errorf("Raw = %q, want %q", c.Raw, tc.payload)
			}
			if v, _ := c.Get("sub"); v.Text != tc.sub {
				t.Errorf("sub = %q, want %q", v.Text, tc.sub)
			}
		})
	}

	// A JWS that did not come from Split has no payload: it decodes to nothing, not to claims.
	var zero JWS
	if _, err := zero.Claims(); !errors.Is(err, ErrClaimsJSON) {
		t.Errorf("zero JWS Claims error = %v, want %v", err, ErrClaimsJSON)
	}
}
