package integration

// Hostile tokens of issue 6, against the built Caddy. Where each item of the list is covered
// (refusals_test.go TestHostileTokens is "RT"; this file's TestHostileTokensMore is "HM", with
// its group names):
//
//   - none in every spelling: none/None/NONE on HMAC and EC routes (RT "alg none", "alg None",
//     "alg NONE with a signature", "alg none on a public key"), none on RSA and JWK Set routes
//     (algorithms_test.go TestAlgorithmsEndToEnd "alg none", "alg none on a JWK Set"); every
//     other spelling and route pair (HMAC, RSA, EC, Ed25519, JWK Set), and each spelling with a
//     kid of the JWK Set (HM "none").
//   - HMAC signed with a configured public key: the RSA PEM as an HS256 secret
//     (TestAlgorithmsEndToEnd "key confusion: ..."); every configured key (RSA, EC, Ed25519) in
//     every form (PEM, PEM without its final newline, DER, JWK JSON, the whole JWK Set file)
//     with HS256/384/512, on the key's PEM route and on the JWK Set with its kid (HM "key
//     confusion").
//   - kid: path traversal and /dev/null (RT "kid path injection", "kid /dev/null ..."); SQL
//     injection, traversal to the JWK Set file, a URL, NUL (HM "kid").
//   - jku/x5u/jwk/x5c: jku to a dead address, jwk with the attacker's key (RT); jku and x5u to
//     a live server (which must never be fetched), x5c with the attacker's certificate, jwk on
//     a JWK Set route (HM "key headers").
//   - crit: RT "crit header", "empty crit header"; b64:false (RFC 7797), a registered name,
//     not an array (HM "crit").
//   - ECDSA signatures: DER and all-zero on the EC route (RT); zero-length, all-zero and DER
//     on a JWK Set key, r=s=n, r=0, wrong lengths (HM "ecdsa").
//   - stripped and tampered signatures: HMAC (RT "empty signature", "tampered payload",
//     TestRefusalsAndPassThrough "require with a bad token ..."); RSA, ECDSA, EdDSA and JWK Set
//     keys, and a signature moved from another token (HM "signature").
//   - time: expired (static_test.go TestStaticFilesBehindJWT "expired", cache_test.go
//     TestCachedTokenExpires), not yet valid, future iat, missing, string, null, overflowing
//     exp (RT); exp 0, negative, true, array, object, empty string, and nbf/iat of the wrong
//     type (HM "time"); leeway bounds in clockskew_test.go TestClockSkewLeeway.
//   - wrong iss/aud: HM "iss and aud" (nothing else covered them end to end).
//   - refresh as access: token_type refresh (TestStaticFilesBehindJWT "refresh token",
//     handle_errors_test.go TestHandleErrors "refresh token", issuer_flow_test.go
//     TestIssuerLifecycle); case variants, arrays, other types, on a public-key route (HM
//     "token_type").
//   - base64: padded segments, non-canonical signature (RT); non-canonical header and payload,
//     the standard alphabet, padding on one segment (HM "base64").
//   - segment counts: 1, 2, 4, 5 and empty segments (RT "garbage", "two segments", "four
//     segments", "five segments (JWE shape)", "empty segments"); nothing missing.
//   - oversized: 9000 bytes, a signed 9 KB token, a 200 KiB header (TestRefusalsAndPassThrough);
//     the exact max_token_size boundary (HM "size").
//   - duplicate and case-variant claims: exp twice, exp/EXP, alg twice (RT); sub, token_type,
//     a nested member, escaped names, kid in the header (HM "duplicates").
//   - NUL/CR/LF in forwarded claims: CR LF in sub, LF in user_id, NUL in a nested claim, CR in
//     user_id (proxy_test.go TestReverseProxyForwardsClaims "refused: ..."); NUL in sub, CR
//     alone, LF in an array element, DEL and ESC, escaped \u000d\u000a (HM "forwarded").
//
// Every token here is refused with exactly 401 and simplejwt's body (never a 5xx, never a 200);
// the controls at the start show that each route accepts a good token.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signInput signs the exact text input (two segments) with HMAC-SHA256 and testSecret.
func signInput(input string) string {
	return input + "." + base64.RawURLEncoding.EncodeToString(hmacSum(testSecret, input))
}

// nonCanonical sets the unused low bits of the last character of an unpadded base64url segment
// whose length leaves some: the text changes, the bytes a lenient decoder returns do not.
func nonCanonical(t *testing.T, seg string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var unused int
	switch len(seg) % 4 {
	case 2:
		unused = 0xf // one byte in the last two characters: 4 unused bits
	case 3:
		unused = 0x3 // two bytes in the last three: 2 unused bits
	default:
		t.Fatalf("segment of length %d has no unused bits", len(seg))
	}
	i := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[i|unused])
}

// hostileServer is an attacker's server on loopback, serving the attacker's keys; Caddy must
// never fetch from it.
func hostileServer(t *testing.T, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s, &hits
}

// selfSigned is a DER certificate for key, signed by key.
func selfSigned(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "issuer.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestHostileTokensMore: the hostile tokens of issue 6 that the other tests do not send (see
// the list at the top of this file). Each is refused with 401 and simplejwt's body on a route
// that accepts a good token, and a refused token never reaches the upstream.
func TestHostileTokensMore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rsaPEMPath := writePEM(t, dir, "rsa.pem", &rsaKey.PublicKey)
	ecPEMPath := writePEM(t, dir, "ec.pem", &ecKey.PublicKey)
	edPEMPath := writePEM(t, dir, "ed.pem", edPub)
	rsaJWK, ecJWK, edJWK := jwkOf(t, "rsa-1", &rsaKey.PublicKey), jwkOf(t, "ec-1", &ecKey.PublicKey), jwkOf(t, "ed-1", edPub)
	jwksText := jwks(t, rsaJWK, ecJWK, edJWK)
	jwksPath := filepath.Join(dir, "jwks.json")
	writeFile(t, jwksPath, jwksText)
	up, upstreamHits := echoUpstream(t)

	const (
		iss     = "https://issuer.example"
		aud     = "api://gatehouse"
		maxSize = 1024
	)
	srv := startCaddy(t, `
	handle /hs/* {
		jwt_auth {
			secret `+testSecret+`
		}
		respond "hs {http.auth.user.id}"
	}
	handle /rsa/* {
		jwt_auth {
			public_key `+rsaPEMPath+`
		}
		respond "rsa {http.auth.user.id}"
	}
	handle /es/* {
		jwt_auth {
			public_key `+ecPEMPath+`
		}
		respond "es {http.auth.user.id}"
	}
	handle /ed/* {
		jwt_auth {
			public_key `+edPEMPath+`
		}
		respond "ed {http.auth.user.id}"
	}
	handle /jwks/* {
		jwt_auth {
			jwks_file `+jwksPath+`
		}
		respond "jwks {http.auth.user.id}"
	}
	handle /iss/* {
		jwt_auth {
			secret `+testSecret+`
			issuer `+iss+`
			audience `+aud+`
		}
		respond "iss {http.auth.user.id}"
	}
	handle /small/* {
		jwt_auth {
			secret `+testSecret+`
			max_token_size `+fmt.Sprint(maxSize)+`
		}
		respond "small {http.auth.user.id}"
	}
	handle /fwd/* {
		jwt_auth {
			secret `+testSecret+`
			forward_claim sub X-User-Id
			forward_claim groups X-Groups
			forward_claim realm.role X-Role
		}
		reverse_proxy `+strings.TrimPrefix(up.URL, "http://")+`
	}`)

	now := time.Now()
	exp := now.Add(5 * time.Minute).Unix()
	claims := access(jwt.MapClaims{"sub": "alice"})
	hsHeader := `{"alg":"HS256","typ":"JWT"}`
	payload := fmt.Sprintf(`{"sub":"alice","exp":%d,"token_type":"access"}`, exp)
	hsGood := rawHS256(testSecret, hsHeader, payload)
	good := map[string]string{
		"/hs/":   hsGood,
		"/rsa/":  sign(t, jwt.SigningMethodRS256, rsaKey, claims, nil),
		"/es/":   sign(t, jwt.SigningMethodES256, ecKey, claims, nil),
		"/ed/":   sign(t, jwt.SigningMethodEdDSA, edK, claims, nil),
		"/jwks/": sign(t, jwt.SigningMethodES256, ecKey, claims, map[string]any{"kid": "ec-1"}),
		"/iss/":  hs256(t, access(jwt.MapClaims{"sub": "alice", "iss": iss, "aud": aud})),
		"/fwd/":  hs256(t, access(jwt.MapClaims{"sub": "alice", "groups": []any{"staff"}, "realm": map[string]any{"role": "ed"}})),
	}
	for path, tok := range good {
		resp := get(t, srv.URL+path, bearer(tok))
		want := strings.Trim(path, "/") + " alice"
		if path == "/fwd/" {
			if h := upstreamHeaders(t, resp); h.Get("X-User-Id") != "alice" || h.Get("X-Groups") != "staff" || h.Get("X-Role") != "ed" {
				t.Fatalf("control %s: upstream saw %v", path, h)
			}
			continue
		}
		if resp.Status != http.StatusOK || resp.Body != want {
			t.Fatalf("control %s: got %d %q, want 200 %q", path, resp.Status, resp.Body, want)
		}
	}

	type hostile struct {
		group, name, path, token string
		body                     string // the 401 body; "" means bodyInvalid
	}
	var tests []hostile
	add := func(group, name, path, token string) {
		tests = append(tests, hostile{group: group, name: name, path: path, token: token})
	}

	// none, in the spellings and on the routes not covered elsewhere.
	nonePayload := b64(payload)
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		for _, path := range []string{"/hs/", "/rsa/", "/es/", "/ed/", "/jwks/"} {
			covered := path == "/hs/" && alg != "nOnE" || path == "/es/" && alg == "none" ||
				path == "/rsa/" && alg == "none" || path == "/jwks/" && alg == "none"
			if covered {
				continue
			}
			add("none", alg+" with an empty signature", path, b64(`{"alg":"`+alg+`","typ":"JWT"}`)+"."+nonePayload+".")
		}
		add("none", alg+" with a kid of the JWK Set", "/jwks/", b64(`{"alg":"`+alg+`","kid":"ec-1"}`)+"."+nonePayload+".")
	}

	// Key confusion: HMAC with every configured public key, in every form a key takes.
	pemOf := func(pub any) string { return publicPEM(t, pub) }
	derOf := func(pub any) string {
		b, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, k := range []struct {
		name, path, kid string
		pub             any
		jwk             map[string]any
	}{
		{"RSA", "/rsa/", "rsa-1", &rsaKey.PublicKey, rsaJWK},
		{"EC", "/es/", "ec-1", &ecKey.PublicKey, ecJWK},
		{"Ed25519", "/ed/", "ed-1", edPub, edJWK},
	} {
		secrets := []struct{ form, secret string }{
			{"PEM", pemOf(k.pub)},
			{"PEM without its final newline", strings.TrimSuffix(pemOf(k.pub), "\n")},
			{"DER", derOf(k.pub)},
			{"JWK JSON", jsonOf(k.jwk)},
			{"the JWK Set file", jwksText},
		}
		for _, s := range secrets {
			for _, m := range []*jwt.SigningMethodHMAC{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
				name := fmt.Sprintf("%s with the %s %s", m.Alg(), k.name, s.form)
				if !(k.name == "RSA" && s.form == "PEM" && m == jwt.SigningMethodHS256) { // algorithms_test.go
					add("key confusion", name, k.path, sign(t, m, []byte(s.secret), claims, nil))
				}
				add("key confusion", name+" on the JWK Set, kid "+k.kid, "/jwks/", sign(t, m, []byte(s.secret), claims, map[string]any{"kid": k.kid}))
			}
		}
	}

	// kid: a lookup among configured keys, never a path, query or URL.
	kidServer, kidHits := hostileServer(t, "attacker-secret-attacker-secret-0123")
	for _, c := range []struct{ name, kid, secret string }{
		{"SQL injection", "x' UNION SELECT 'attacker-secret-attacker-secret-0123' --", "attacker-secret-attacker-secret-0123"},
		{"SQL injection, always true", "' OR '1'='1", "attacker-secret-attacker-secret-0123"},
		{"traversal to the JWK Set file", "../../../../../../.." + jwksPath, jwksText},
		{"absolute path of the JWK Set file", jwksPath, jwksText},
		{"a URL", kidServer.URL + "/key", "attacker-secret-attacker-secret-0123"},
		{"NUL", "ec-1\x00../../etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"},
	} {
		for _, path := range []string{"/hs/", "/jwks/"} {
			add("kid", c.name, path, sign(t, jwt.SigningMethodHS256, []byte(c.secret), claims, map[string]any{"kid": c.kid}))
		}
	}
	add("kid", "the kid of an RSA key on an ES256 token by another key", "/jwks/",
		sign(t, jwt.SigningMethodES256, mustEC(), claims, map[string]any{"kid": "rsa-1"}))

	// Headers that name their own key are never followed: the attacker's server sees nothing.
	attackerKey := mustRSA(2048)
	attackerJWKS := jwks(t, jwkOf(t, "attacker", &attackerKey.PublicKey))
	keyServer, keyHits := hostileServer(t, attackerJWKS)
	cert := selfSigned(t, attackerKey)
	certServer, certHits := hostileServer(t, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert})))
	for _, h := range []struct {
		name   string
		header map[string]any
	}{
		{"jku to a live server", map[string]any{"jku": keyServer.URL + "/jwks.json", "kid": "attacker"}},
		{"jku to a live server, kid of the set", map[string]any{"jku": keyServer.URL + "/jwks.json", "kid": "rsa-1"}},
		{"x5u to a live server", map[string]any{"x5u": certServer.URL + "/cert.pem"}},
		{"x5c with the attacker's certificate", map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(cert)}}},
		{"jwk with the attacker's key", map[string]any{"jwk": jwkOf(t, "rsa-1", &attackerKey.PublicKey), "kid": "rsa-1"}},
	} {
		for _, path := range []string{"/rsa/", "/jwks/"} {
			add("key headers", h.name, path, sign(t, jwt.SigningMethodRS256, attackerKey, claims, h.header))
		}
	}

	// crit: refused whatever it lists.
	add("crit", "b64 false (RFC 7797), payload not encoded", "/hs/",
		signInput(b64(`{"alg":"HS256","b64":false,"crit":["b64"]}`)+"."+payload))
	add("crit", "b64 false (RFC 7797), payload encoded", "/hs/", rawHS256(testSecret, `{"alg":"HS256","b64":false,"crit":["b64"]}`, payload))
	add("crit", "a registered header name", "/hs/", rawHS256(testSecret, `{"alg":"HS256","crit":["alg"]}`, payload))
	add("crit", "not an array", "/hs/", rawHS256(testSecret, `{"alg":"HS256","crit":"x-policy","x-policy":1}`, payload))
	add("crit", "on an asymmetric route", "/es/", rawES256(t, `{"alg":"ES256","crit":["x-policy"],"x-policy":1}`, payload, false))

	// ECDSA signatures that are not r||s of the key.
	esHeaderKid := `{"alg":"ES256","kid":"ec-1"}`
	esInput := b64(esHeaderKid) + "." + b64(payload)
	esSig := func(sig []byte) string { return esInput + "." + base64.RawURLEncoding.EncodeToString(sig) }
	n := ecKey.Curve.Params().N.FillBytes(make([]byte, 32))
	validES := rawES256(t, esHeaderKid, payload, false)
	validSig, _ := base64.RawURLEncoding.DecodeString(validES[strings.LastIndexByte(validES, '.')+1:])
	if resp := get(t, srv.URL+"/jwks/", bearer(validES)); resp.Status != http.StatusOK || resp.Body != "jwks alice" {
		t.Fatalf("control: a valid ES256 token with kid ec-1 got %d %q", resp.Status, resp.Body)
	}
	for _, c := range []struct {
		name string
		sig  []byte
	}{
		{"zero-length", nil},
		{"all zero", make([]byte, 64)},
		{"DER", nil}, // filled below
		{"r = s = n", append(append([]byte{}, n...), n...)},
		{"r = 0", append(make([]byte, 32), validSig[32:]...)},
		{"63 bytes", validSig[:63]},
		{"65 bytes", append(append([]byte{}, validSig...), 0)},
		{"ES384 length", append(append([]byte{}, validSig...), make([]byte, 32)...)},
	} {
		tok := esSig(c.sig)
		if c.name == "DER" {
			tok = rawES256(t, esHeaderKid, payload, true)
		}
		add("ecdsa", c.name, "/jwks/", tok)
		if c.name != "DER" && c.name != "all zero" { // RT covers those on /es/
			add("ecdsa", c.name+" without kid", "/es/", b64(`{"alg":"ES256"}`)+"."+b64(payload)+"."+base64.RawURLEncoding.EncodeToString(c.sig))
		}
	}

	// Stripped and tampered signatures on the asymmetric routes, and a signature moved from
	// another token.
	for _, path := range []string{"/rsa/", "/es/", "/ed/", "/jwks/"} {
		tok := good[path]
		cut := strings.LastIndexByte(tok, '.')
		add("signature", "stripped", path, tok[:cut+1])
		add("signature", "tampered", path, tamper(tok))
		var header map[string]any
		if path == "/jwks/" {
			header = map[string]any{"kid": "ec-1"}
		}
		other := sign(t, methodFor(path), keyFor(path), access(jwt.MapClaims{"sub": "bob"}), header)
		add("signature", "moved from another token", path, tok[:cut]+other[strings.LastIndexByte(other, '.'):])
	}

	// Time claims of the wrong type or value.
	for _, c := range []struct{ name, claims string }{
		{"exp 0", `"exp":0`},
		{"exp negative", `"exp":-1`},
		{"exp true", `"exp":true`},
		{"exp an array", fmt.Sprintf(`"exp":[%d]`, exp)},
		{"exp an object", fmt.Sprintf(`"exp":{"v":%d}`, exp)},
		{"exp an empty string", `"exp":""`},
		{"exp 1 second ago", fmt.Sprintf(`"exp":%d`, now.Add(-time.Second).Unix())},
		{"nbf a string", fmt.Sprintf(`"exp":%d,"nbf":"0"`, exp)},
		{"nbf null", fmt.Sprintf(`"exp":%d,"nbf":null`, exp)},
		{"iat a string", fmt.Sprintf(`"exp":%d,"iat":"0"`, exp)},
		{"iat true", fmt.Sprintf(`"exp":%d,"iat":true`, exp)},
	} {
		add("time", c.name, "/hs/", rawHS256(testSecret, hsHeader, `{"sub":"alice",`+c.claims+`}`))
	}

	// iss and aud, on the route that requires both.
	for _, c := range []struct{ name, claims string }{
		{"iss wrong", `"iss":"https://evil.example","aud":"` + aud + `"`},
		{"iss missing", `"aud":"` + aud + `"`},
		{"iss in another case", `"iss":"HTTPS://ISSUER.EXAMPLE","aud":"` + aud + `"`},
		{"iss with a trailing slash", `"iss":"` + iss + `/","aud":"` + aud + `"`},
		{"iss an array", `"iss":["` + iss + `"],"aud":"` + aud + `"`},
		{"iss null", `"iss":null,"aud":"` + aud + `"`},
		{"iss a prefix", `"iss":"https://issuer.ex","aud":"` + aud + `"`},
		{"aud wrong", `"iss":"` + iss + `","aud":"api://other"`},
		{"aud missing", `"iss":"` + iss + `"`},
		{"aud in another case", `"iss":"` + iss + `","aud":"API://GATEHOUSE"`},
		{"aud an array without it", `"iss":"` + iss + `","aud":["api://other","api://gatehouse2"]`},
		{"aud an empty array", `"iss":"` + iss + `","aud":[]`},
		{"aud null", `"iss":"` + iss + `","aud":null`},
		{"aud an object", `"iss":"` + iss + `","aud":{"aud":"` + aud + `"}`},
		{"aud an array of arrays", `"iss":"` + iss + `","aud":[["` + aud + `"]]`},
	} {
		add("iss and aud", c.name, "/iss/", rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,%s}`, exp, c.claims)))
	}

	// token_type: anything but "access" (or no claim) is refused.
	for _, c := range []struct{ name, value string }{
		{"Refresh", `"Refresh"`},
		{"REFRESH", `"REFRESH"`},
		{"an array holding access and refresh", `["access","refresh"]`},
		{"an array holding access", `["access"]`},
		{"Access", `"Access"`},
		{"access with a trailing space", `"access "`},
		{"empty", `""`},
		{"null", `null`},
		{"a number", `1`},
		{"an object", `{"type":"access"}`},
	} {
		tests = append(tests, hostile{group: "token_type", name: c.name, path: "/hs/",
			token: rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"token_type":%s}`, exp, c.value)), body: bodyWrongType})
	}
	tests = append(tests, hostile{group: "token_type", name: "refresh on a public-key route", path: "/es/",
		token: sign(t, jwt.SigningMethodES256, ecKey, access(jwt.MapClaims{"sub": "alice", "token_type": "refresh"}), nil), body: bodyWrongType})

	// base64: one canonical form only.
	hp := strings.Split(hsGood, ".")
	// A header and payload whose encodings end with unused bits; canonical, they pass.
	ncHeader, ncPayload := b64(`{"alg":"HS256","typ":"JWT","k":"v"}`), b64(payload+" ")
	if len(ncPayload)%4 == 0 {
		ncPayload = b64(payload + "  ")
	}
	canonical := signInput(ncHeader + "." + ncPayload)
	if resp := get(t, srv.URL+"/hs/", bearer(canonical)); resp.Status != http.StatusOK || resp.Body != "hs alice" {
		t.Fatalf("control: canonical token got %d %q", resp.Status, resp.Body)
	}
	add("base64", "non-canonical header", "/hs/", signInput(nonCanonical(t, ncHeader)+"."+ncPayload))
	add("base64", "non-canonical payload", "/hs/", signInput(ncHeader+"."+nonCanonical(t, ncPayload)))
	std := func(s string) string { return strings.NewReplacer("-", "+", "_", "/").Replace(s) }
	// A payload whose encoding holds '-' or '_', so that the standard alphabet differs.
	var stdPayload string
	for i := 0; ; i++ {
		p := b64(fmt.Sprintf(`{"sub":"alice","exp":%d,"n":"%d~~?>"}`, exp, i))
		if strings.ContainsAny(p, "-_") {
			stdPayload = p
			break
		}
	}
	add("base64", "standard alphabet in the payload", "/hs/", signInput(hp[0]+"."+std(stdPayload)))
	var stdSigTok string
	for i := 0; ; i++ {
		tok := rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"n":%d}`, exp, i))
		if sig := tok[strings.LastIndexByte(tok, '.')+1:]; strings.ContainsAny(sig, "-_") {
			stdSigTok = tok[:strings.LastIndexByte(tok, '.')+1] + std(sig)
			break
		}
	}
	add("base64", "standard alphabet in the signature", "/hs/", stdSigTok)
	add("base64", "padding on the signature only", "/hs/", hsGood+"=")
	padPayload := b64(payload)
	for len(padPayload)%4 != 0 {
		padPayload += "="
	}
	if padPayload != b64(payload) {
		add("base64", "padding on the payload only", "/hs/", signInput(hp[0]+"."+padPayload))
	}
	add("base64", "percent-encoded", "/hs/", strings.Replace(hsGood, ".", "%2E", 1))

	// The max_token_size boundary: a valid token of exactly maxSize bytes passes, one byte more is
	// refused before it is decoded.
	sized := func(size int) string {
		for pad := 0; pad < maxSize; pad++ {
			for _, h := range []string{hsHeader, `{"alg":"HS256"}`} {
				tok := rawHS256(testSecret, h, fmt.Sprintf(`{"sub":"alice","exp":%d,"pad":"%s"}`, exp, strings.Repeat("p", pad)))
				if len(tok) == size {
					return tok
				}
			}
		}
		t.Fatalf("no token of %d bytes", size)
		return ""
	}
	if resp := get(t, srv.URL+"/small/", bearer(sized(maxSize))); resp.Status != http.StatusOK || resp.Body != "small alice" {
		t.Errorf("token of exactly max_token_size bytes: got %d %q, want 200", resp.Status, resp.Body)
	}
	add("size", "one byte over max_token_size", "/small/", sized(maxSize+1))

	// Duplicate and case-variant names.
	for _, c := range []struct{ name, header, payload string }{
		{"sub twice", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"sub":"admin"}`, exp)},
		{"sub and SUB", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"SUB":"admin"}`, exp)},
		{"sub and Sub", hsHeader, fmt.Sprintf(`{"Sub":"admin","exp":%d,"sub":"alice"}`, exp)},
		{"token_type refresh then access", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"token_type":"refresh","token_type":"access"}`, exp)},
		{"sub and an escaped sub", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"s\u0075b":"admin"}`, exp)},
		{"exp and an escaped exp", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"\u0065xp":1}`, exp)},
		{"a nested member twice", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"realm":{"role":"user","role":"admin"}}`, exp)},
		{"kid twice in the header", `{"alg":"HS256","kid":"a","kid":"b"}`, payload},
		{"alg and an escaped alg in the header", `{"alg":"HS256","\u0061lg":"none"}`, payload},
	} {
		add("duplicates", c.name, "/hs/", rawHS256(testSecret, c.header, c.payload))
	}

	// Control characters in claims that would be forwarded as headers.
	for _, c := range []struct{ name, claims string }{
		{"NUL in sub", `"sub":"alice\u0000"`},
		{"CR alone in sub", `"sub":"alice\rX-Admin: 1"`},
		{"LF in an array element", `"sub":"alice","groups":["staff","ops\nX-Admin: 1"]`},
		{"DEL in a nested claim", `"sub":"alice","realm":{"role":"ed\u007f"}`},
		{"ESC in sub", `"sub":"alice\u001b[2J"`},
		{"escaped CR LF in sub", `"sub":"alice\u000d\u000aX-Admin: 1"`},
		{"CR LF in a forwarded number-like string", `"sub":"alice","groups":"1\r\n2"`},
	} {
		add("forwarded", c.name, "/fwd/", rawHS256(testSecret, hsHeader, fmt.Sprintf(`{%s,"exp":%d}`, c.claims, exp)))
	}

	hitsBefore := upstreamHits.Load()
	for _, tt := range tests {
		t.Run(tt.group+"/"+tt.name+" "+tt.path, func(t *testing.T) {
			want := tt.body
			if want == "" {
				want = bodyInvalid
			}
			resp := get(t, srv.URL+tt.path, bearer(tt.token))
			if resp.Status < 400 || resp.Status > 499 {
				t.Fatalf("status = %d, want 4xx; body %q", resp.Status, resp.Body)
			}
			if resp.Status != http.StatusUnauthorized || resp.Body != want {
				t.Errorf("got %d %q, want 401 %q", resp.Status, resp.Body, want)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="api", error="invalid_token", error_description="`) {
				t.Errorf("WWW-Authenticate = %q, want error=\"invalid_token\"", got)
			}
		})
	}
	if got := upstreamHits.Load(); got != hitsBefore {
		t.Errorf("the upstream was reached %d times by refused tokens", got-hitsBefore)
	}
	for name, hits := range map[string]*atomic.Int64{"kid URL": kidHits, "jku": keyHits, "x5u": certHits} {
		if got := hits.Load(); got != 0 {
			t.Errorf("caddy fetched the %s server %d times", name, got)
		}
	}
	// A claim with control characters that is neither forwarded nor the user id is no header
	// risk, and passes.
	h := upstreamHeaders(t, get(t, srv.URL+"/fwd/", bearer(rawHS256(testSecret, hsHeader,
		fmt.Sprintf(`{"sub":"alice","exp":%d,"note":"line 1\r\nline 2\u0000"}`, exp)))))
	if h.Get("X-User-Id") != "alice" {
		t.Errorf("upstream X-User-Id = %q, want alice", h.Get("X-User-Id"))
	}
	if !srv.running() {
		t.Fatal("caddy exited")
	}
}

// methodFor and keyFor are the signing method and private key of the good tokens of a route
// of TestHostileTokensMore (ES256 with ec-1 on /jwks/).
func methodFor(path string) jwt.SigningMethod {
	switch path {
	case "/rsa/":
		return jwt.SigningMethodRS256
	case "/ed/":
		return jwt.SigningMethodEdDSA
	}
	return jwt.SigningMethodES256
}

func keyFor(path string) any {
	switch path {
	case "/rsa/":
		return rsaKey
	case "/ed/":
		return edK
	}
	return ecKey
}
