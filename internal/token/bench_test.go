package token

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// accessPayload is a djangorestframework-simplejwt access token claim set.
const accessPayload = `{"token_type":"access","exp":1795887125,"iat":1795886825,"jti":"ade5487163b04c179848ad8b20abd158","user_id":1}`

// accessToken is an HS256 simplejwt access token (the signature bytes are arbitrary: Split does
// not verify).
var accessToken = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
	base64.RawURLEncoding.EncodeToString([]byte(accessPayload)) + "." +
	base64.RawURLEncoding.EncodeToString(make([]byte, 32))

func BenchmarkSplit(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(accessToken); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClaims measures decoding the payload segment and parsing it, as done once the
// signature checked out.
func BenchmarkClaims(b *testing.B) {
	j, err := Split(accessToken)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.Claims(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWatch is the claims step of a verification: validating the payload and locating the
// claims the verifier reads on every token (its list with user_id as the header-safe claim).
func BenchmarkWatch(b *testing.B) {
	j, err := Split(accessToken)
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"exp", "nbf", "iat", "token_type", "user_id"}
	vals := make([]Value, len(names))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.Watch(names, vals); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseClaims(b *testing.B) {
	for _, bc := range []struct{ name, json string }{
		{"simplejwt", accessPayload},
		{"keycloak", `{"exp":1795887125,"iat":1795886825,"jti":"0b7e3c2a-9f1d-4c6e-8a5b-2d4f6e8a0c1e",` +
			`"iss":"https://sso.example.com/realms/main","aud":["api","account"],"sub":"f0e1d2c3-b4a5-4968-8776-655443322110",` +
			`"typ":"Bearer","azp":"web","realm_access":{"roles":["offline_access","admin","user"]},` +
			`"scope":"openid email profile","email_verified":true,"name":"Alice Example","preferred_username":"alice",` +
			`"email":"alice@example.com"}`},
		// Worst cases for an 8 KiB payload: many top-level names (case-fold duplicate check), many
		// non-ASCII ones (fold keys), and escapes everywhere.
		{"many-members", manyNames(900, "m")},
		{"many-nonascii-members", manyNames(600, "K")},
		{"escapes", `{"s":"` + strings.Repeat(`\u00e9\n`, 700) + `"}`},
	} {
		data := []byte(bc.json)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ParseClaims(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// manyNames is a claim set with n top-level members named prefix0, prefix1...
func manyNames(n int, prefix string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%d", prefix+strconv.Itoa(i), i)
	}
	b.WriteString("}")
	return b.String()
}
