package yaegitest

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testsign"
)

// TestManifestTestDataLoads checks that .traefik.yml names the package and its entry points and
// that its testData makes a middleware that refuses a request without a token and admits one
// signed with the testData secret.
func TestManifestTestDataLoads(t *testing.T) {
	m := readManifest(t)
	if m.DisplayName == "" || m.Summary == "" || m.BasePkg != "gatehouse" {
		t.Errorf(".traefik.yml: displayName %q, summary %q, basePkg %q", m.DisplayName, m.Summary, m.BasePkg)
	}
	for _, md := range modes(t) {
		rec, s := serve(t, md, m.TestData, httptest.NewRequest(http.MethodGet, "http://x/", nil))
		if rec.Code != http.StatusUnauthorized || s.called {
			t.Errorf("%s: no token: %d, next called %v", md.name, rec.Code, s.called)
		}
		secret, _ := m.TestData["secret"].(string)
		tok := testsign.Mint("HS256", secret, nil, map[string]any{"sub": "demo", "iss": "https://id.example.com", "exp": time.Now().Unix() + 60})
		rec, s = serve(t, md, m.TestData, bearer(tok))
		if rec.Code != http.StatusOK || !s.called || s.header.Get("X-User-Id") != "demo" {
			t.Errorf("%s: testData token: %d, next called %v, X-User-Id %q", md.name, rec.Code, s.called, s.header.Get("X-User-Id"))
		}
	}
}

// TestEveryAlgorithmPasses sends a valid token of each algorithm: each reaches the next handler
// with the identity headers from its claims.
func TestEveryAlgorithmPasses(t *testing.T) {
	for _, md := range modes(t) {
		for _, a := range algKeys {
			rec, s := serve(t, md, allKeys(), bearer(mint(a.alg, a.key, nil)))
			if rec.Code != http.StatusOK || !s.called {
				t.Errorf("%s %s: %d %s (%s), next called %v", md.name, a.alg, rec.Code, rec.Body, rec.Header().Get("WWW-Authenticate"), s.called)
				continue
			}
			if s.header.Get("X-User-Id") != "alice" || s.header.Get("X-Scope") != "api:read api:write" {
				t.Errorf("%s %s: identity headers %v", md.name, a.alg, s.header)
			}
		}
	}
}

// TestJWKSFileAndURL checks keys from a JWK Set file and from a JWK Set URL (fetched by the
// plugin's background fetcher, in the interpreter too), found by kid.
func TestJWKSFileAndURL(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/keys.json"
	writeFile(t, file, testsign.JWKS(testsign.JWK(p256, map[string]any{"kid": "file-ec", "alg": "ES256"})))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, testsign.JWKS(testsign.JWK(rsaKey, map[string]any{"kid": "url-rsa"}), testsign.JWK(edKey, map[string]any{"kid": "url-ed"})))
	}))
	defer srv.Close()
	options := map[string]any{"jwksFile": file, "jwksUrl": srv.URL + "/jwks", "headers": map[string]any{"sub": "X-User-Id"}}
	for _, md := range modes(t) {
		for _, c := range []struct {
			alg, kid string
			key      any
		}{{"ES256", "file-ec", p256}, {"RS256", "url-rsa", rsaKey}, {"PS384", "url-rsa", rsaKey}, {"EdDSA", "url-ed", edKey}} {
			tok := testsign.Mint(c.alg, c.key, map[string]any{"kid": c.kid}, claims(nil))
			rec, s := serve(t, md, options, bearer(tok))
			if rec.Code != http.StatusOK || s.header.Get("X-User-Id") != "alice" {
				t.Errorf("%s %s kid %s: %d %s", md.name, c.alg, c.kid, rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
		}
		// A key of the file under another kid, and an unknown kid: refused.
		tok := testsign.Mint("ES256", p256, map[string]any{"kid": "nobody"}, claims(nil))
		if rec, s := serve(t, md, options, bearer(tok)); rec.Code != http.StatusUnauthorized || s.called {
			t.Errorf("%s unknown kid: %d", md.name, rec.Code)
		}
	}
}

// hostile are tokens that must be refused with 401 by a middleware configured with allKeys.
func hostile(t *testing.T) []struct{ name, token string } {
	t.Helper()
	now := time.Now().Unix()
	hs := testsign.Mint("HS256", secret, nil, claims(nil))
	parts := strings.Split(hs, ".")
	var cases []struct{ name, token string }
	add := func(name, tok string) { cases = append(cases, struct{ name, token string }{name, tok}) }

	payload := testsign.JSON(claims(nil))
	for _, none := range []string{"none", "None", "NONE", "nOnE"} {
		header := `{"alg":"` + none + `","typ":"JWT"}`
		add("alg "+none+", no signature", testsign.Input(header, payload)+".")
		add("alg "+none+", HMAC signature", testsign.Token("HS256", secret, header, payload))
	}
	for _, alg := range []string{"hs256", "Hs256", "rs256", "es256", "eddsa", "EDDSA", "HS256 ", ""} {
		add("alg "+fmt.Sprintf("%q", alg)+" signed HS256", testsign.Token("HS256", secret, `{"alg":"`+alg+`"}`, payload))
	}
	// Algorithm confusion: an HMAC token whose secret is a public key, as an attacker who holds
	// the public key would sign it, for each key type; and asymmetric algorithms with the
	// signature of another key type.
	for name, pub := range map[string]any{"RSA": rsaKey, "P-256": p256, "P-384": p384, "P-521": p521, "Ed25519": edKey} {
		pemKey := testsign.PublicPEM(pub)
		derKey := testsign.PublicDER(pub)
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			add(alg+" with the "+name+" public key PEM as secret", mint(alg, pemKey, nil))
			add(alg+" with the "+name+" public key DER as secret", mint(alg, derKey, nil))
		}
	}
	add("HS256 with the raw Ed25519 public key as secret", mint("HS256", []byte(edPublic()), nil))
	add("RS256 header, ES256 signature", testsign.Token("ES256", p256, `{"alg":"RS256"}`, payload))
	add("ES256 header, RS256 signature", testsign.Token("RS256", rsaKey, `{"alg":"ES256"}`, payload))
	add("ES256 header, P-384 key's signature", testsign.Token("ES384", p384, `{"alg":"ES256"}`, payload))
	add("EdDSA header, HMAC signature", testsign.Token("HS512", secret, `{"alg":"EdDSA"}`, payload))
	add("PS256 header, RS256 signature", testsign.Token("RS256", rsaKey, `{"alg":"PS256"}`, payload))
	// A well-formed signature by another key of the same type (an attacker's own key).
	add("HS256 with another secret", mint("HS256", "another-secret-another-secret-another-secret-xx", nil))
	add("RS256 with another RSA key", mint("RS256", otherRSA, nil))
	add("PS256 with another RSA key", mint("PS256", otherRSA, nil))
	add("ES256 with another P-256 key", mint("ES256", testsign.NewEC("P-256"), nil))
	add("ES512 with another P-521 key", mint("ES512", testsign.NewEC("P-521"), nil))
	add("EdDSA with another Ed25519 key", mint("EdDSA", testsign.NewEd25519(), nil))
	add("ES256 signature in DER", parts0(mint("ES256", p256, nil))+"."+testsign.B64(testsign.DER(sigOf(t, mint("ES256", p256, nil)))))

	// Tampering.
	other := testsign.B64([]byte(testsign.JSON(claims(map[string]any{"sub": "admin"}))))
	add("payload changed", parts[0]+"."+other+"."+parts[2])
	sig := []byte(parts[2])
	sig[3] ^= 1
	add("signature changed", parts[0]+"."+parts[1]+"."+string(sig))
	add("signature removed", parts[0]+"."+parts[1]+".")
	add("signature of another token", parts[0]+"."+parts[1]+"."+strings.Split(mint("HS256", secret, map[string]any{"sub": "bob"}), ".")[2])
	es := strings.Split(mint("ES256", p256, nil), ".")
	add("ES256 payload changed", es[0]+"."+other+"."+es[2])
	ed := strings.Split(mint("EdDSA", edKey, nil), ".")
	add("EdDSA payload changed", ed[0]+"."+other+"."+ed[2])

	// Claims.
	add("expired", mint("HS256", secret, map[string]any{"exp": now - 3600, "iat": now - 7200}))
	add("expired, ES256", mint("ES256", p256, map[string]any{"exp": now - 3600, "iat": now - 7200}))
	add("no exp", mint("HS256", secret, map[string]any{"exp": nil}))
	add("exp a string", mint("HS256", secret, map[string]any{"exp": fmt.Sprint(now + 600)}))
	add("nbf in the future", mint("HS256", secret, map[string]any{"nbf": now + 3600}))
	add("iat in the future", mint("HS256", secret, map[string]any{"iat": now + 3600}))
	add("wrong issuer", mint("HS256", secret, map[string]any{"iss": "https://evil.example.com"}))
	add("no issuer", mint("HS256", secret, map[string]any{"iss": nil}))
	add("wrong audience", mint("HS256", secret, map[string]any{"aud": "https://other.example.com"}))
	add("wrong audiences", mint("RS256", rsaKey, map[string]any{"aud": []string{"a", "b"}}))
	add("no audience", mint("HS256", secret, map[string]any{"aud": nil}))
	add("refresh token", mint("HS256", secret, map[string]any{"token_type": "refresh"}))
	add("refresh token, EdDSA", mint("EdDSA", edKey, map[string]any{"token_type": "refresh"}))
	add("sub with a line break (forwarded)", mint("HS256", secret, map[string]any{"sub": "alice\r\nX-Admin: 1"}))
	add("duplicate exp", testsign.Token("HS256", secret, `{"alg":"HS256"}`, `{"sub":"a","iss":"`+testIssuer+`","aud":"`+testAudience+`","exp":1,"exp":`+fmt.Sprint(now+600)+`}`))

	// Header.
	add("unknown crit", testsign.Mint("HS256", secret, map[string]any{"crit": []string{"exp"}, "exp": now}, claims(nil)))
	add("crit names an unknown extension", testsign.Mint("HS256", secret, map[string]any{"crit": []string{"urn:example:policy"}, "urn:example:policy": "x"}, claims(nil)))
	add("crit names an absent header", testsign.Mint("ES256", p256, map[string]any{"crit": []string{"x-absent"}}, claims(nil)))
	add("crit empty", testsign.Mint("HS256", secret, map[string]any{"crit": []string{}}, claims(nil)))
	add("crit not a list", testsign.Mint("HS256", secret, map[string]any{"crit": "exp"}, claims(nil)))
	add("crit with b64", testsign.Mint("HS256", secret, map[string]any{"crit": []string{"b64"}, "b64": false}, claims(nil)))
	add("jku header pointing elsewhere", testsign.Mint("HS384", "another-secret-another-secret-another-secret-xx", map[string]any{"jku": "https://evil.example.com/jwks"}, claims(nil)))
	add("embedded jwk", testsign.Mint("ES256", testsign.NewEC("P-256"), map[string]any{"jwk": testsign.JWK(testsign.NewEC("P-256"), nil)}, claims(nil)))

	// Size and shape.
	add("oversized", mint("HS256", secret, map[string]any{"pad": strings.Repeat("x", 9000)}))
	for name, tok := range map[string]string{
		"two segments":       parts[0] + "." + parts[1],
		"four segments":      hs + ".x",
		"empty segments":     "..",
		"empty header":       "." + parts[1] + "." + parts[2],
		"padded base64":      parts[0] + "=." + parts[1] + "." + parts[2],
		"standard base64":    strings.ReplaceAll(parts[0], "J", "+") + "/." + parts[1] + "." + parts[2],
		"not base64":         "!!!." + parts[1] + "." + parts[2],
		"header not JSON":    testsign.B64([]byte("alg=HS256")) + "." + parts[1] + "." + parts[2],
		"payload not JSON":   testsign.Token("HS256", secret, `{"alg":"HS256"}`, "not json"),
		"payload an array":   testsign.Token("HS256", secret, `{"alg":"HS256"}`, `[1,2]`),
		"trailing garbage":   testsign.Token("HS256", secret, `{"alg":"HS256"}`, payload+"x"),
		"header twice alg":   testsign.Token("HS256", secret, `{"alg":"HS256","alg":"none"}`, payload),
		"one character":      "x",
		"dots and spaces":    ". . .",
		"nul in token":       parts[0] + "\x00." + parts[1] + "." + parts[2],
		"a very long header": testsign.B64([]byte(`{"alg":"HS256","x":"`+strings.Repeat("y", 5000)+`"}`)) + "." + parts[1] + "." + parts[2],
	} {
		add("malformed: "+name, tok)
	}
	return cases
}

func parts0(tok string) string { return strings.Join(strings.Split(tok, ".")[:2], ".") }

func sigOf(t *testing.T, tok string) []byte {
	t.Helper()
	s := strings.Split(tok, ".")[2]
	b, err := b64d(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileTokensRefused sends each hostile token: 401 with an RFC 6750 challenge, simplejwt's
// body, and the next handler never called.
func TestHostileTokensRefused(t *testing.T) {
	cases := hostile(t)
	for _, md := range modes(t) {
		for _, c := range cases {
			r := httptest.NewRequest(http.MethodGet, "http://app.example.com/api/me", nil)
			r.Header["Authorization"] = []string{"Bearer " + c.token}
			rec, s := serve(t, md, allKeys(), r)
			if s.called || rec.Code != http.StatusUnauthorized {
				t.Errorf("%s %s: %d, next called %v", md.name, c.name, rec.Code, s.called)
				continue
			}
			ch := rec.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, `Bearer realm="api"`) {
				t.Errorf("%s %s: challenge %q", md.name, c.name, ch)
			}
			if !strings.Contains(rec.Body.String(), `"detail"`) || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: body %q", md.name, c.name, rec.Body)
			}
		}
	}
}

// TestRequestShapes covers what is not a token: no token (401, bare challenge), another scheme,
// a malformed header, a token in two places (400), an unmet require (403).
func TestRequestShapes(t *testing.T) {
	tok := mint("HS256", secret, nil)
	options := allKeys()
	options["fromHeader"] = "Authorization Bearer" // with fromCookie, the header must be listed too
	options["fromCookie"] = "access"
	options["require"] = map[string]any{"scope": "api:read"}
	admin := allKeys()
	admin["require"] = map[string]any{"scope": "admin"}
	for _, md := range modes(t) {
		for _, c := range []struct {
			name      string
			options   map[string]any
			header    http.Header
			status    int
			challenge string
		}{
			{"no token", options, nil, 401, `Bearer realm="api"`},
			{"Basic credentials", options, http.Header{"Authorization": {"Basic YWxpY2U6cHc="}}, 401, `Bearer realm="api"`},
			{"tab after Bearer", options, http.Header{"Authorization": {"Bearer\t" + tok}}, 401, `Bearer realm="api", error="invalid_token"`},
			{"two tokens in the header", options, http.Header{"Authorization": {"Bearer " + tok + " " + tok}}, 401, `Bearer realm="api", error="invalid_token"`},
			{"two Authorization headers", options, http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, 400, `Bearer realm="api", error="invalid_request"`},
			{"header and cookie", options, http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {"access=" + tok}}, 400, `Bearer realm="api", error="invalid_request"`},
			{"cookie", options, http.Header{"Cookie": {"access=" + tok}}, 200, ""},
			{"require met", options, http.Header{"Authorization": {"Bearer " + tok}}, 200, ""},
			{"require unmet", admin, http.Header{"Authorization": {"Bearer " + tok}}, 403, `Bearer realm="api", error="insufficient_scope"`},
		} {
			r := httptest.NewRequest(http.MethodGet, "http://app.example.com/api/me", nil)
			for k, v := range c.header {
				r.Header[k] = v
			}
			rec, s := serve(t, md, c.options, r)
			if rec.Code != c.status || s.called != (c.status == 200) || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), c.challenge) {
				t.Errorf("%s %s: %d %q, next called %v; want %d %q", md.name, c.name, rec.Code, rec.Header().Get("WWW-Authenticate"), s.called, c.status, c.challenge)
			}
		}
	}
}

// TestSpoofedIdentityHeaders checks that client-sent identity headers, in any spelling a CGI
// server would read as the same, never reach the next handler: not with a valid token, not
// without one on an optional middleware.
func TestSpoofedIdentityHeaders(t *testing.T) {
	optional := allKeys()
	optional["optional"] = true
	spoof := func(r *http.Request) *http.Request {
		r.Header["X-User-Id"] = []string{"admin"}
		r.Header["X_user_id"] = []string{"admin"}
		r.Header["X-Scope"] = []string{"admin"}
		r.Header["X_Scope"] = []string{"admin"}
		return r
	}
	for _, md := range modes(t) {
		rec, s := serve(t, md, allKeys(), spoof(bearer(mint("ES256", p256, map[string]any{"scope": nil}))))
		if rec.Code != 200 || s.header.Get("X-User-Id") != "alice" || len(s.header.Values("X-User-Id")) != 1 {
			t.Errorf("%s valid token: %d, X-User-Id %q", md.name, rec.Code, s.header.Values("X-User-Id"))
		}
		if _, ok := s.header["X-Scope"]; ok {
			t.Errorf("%s valid token without scope: X-Scope %q reached next", md.name, s.header["X-Scope"])
		}
		for name := range s.header {
			if strings.Contains(name, "_") {
				t.Errorf("%s valid token: %s reached next", md.name, name)
			}
		}
		rec, s = serve(t, md, optional, spoof(httptest.NewRequest(http.MethodGet, "http://x/", nil)))
		if rec.Code != 200 || !s.called {
			t.Fatalf("%s optional, no token: %d", md.name, rec.Code)
		}
		for _, h := range []string{"X-User-Id", "X_user_id", "X-Scope", "X_Scope"} {
			if _, ok := s.header[h]; ok {
				t.Errorf("%s optional, no token: %s reached next", md.name, h)
			}
		}
		rec, s = serve(t, md, optional, spoof(bearer(mint("HS256", secret, map[string]any{"exp": time.Now().Unix() - 3600}))))
		if rec.Code != 401 || s.called {
			t.Errorf("%s optional, expired token: %d, next called %v", md.name, rec.Code, s.called)
		}
	}
}

// TestQueryTokenRemoved checks fromQuery: the token is read from the parameter, which the next
// handler never sees.
func TestQueryTokenRemoved(t *testing.T) {
	options := allKeys()
	options["fromQuery"] = "access_token"
	for _, md := range modes(t) {
		r := httptest.NewRequest(http.MethodGet, "http://x/ws?a=1&access_token="+mint("HS256", secret, nil)+"&b=2", nil)
		rec, s := serve(t, md, options, r)
		if rec.Code != 200 || s.uri != "/ws?a=1&b=2" {
			t.Errorf("%s: %d, next saw %q", md.name, rec.Code, s.uri)
		}
	}
}

// TestBadConfiguration checks that New fails, through the interpreter as compiled, with a
// message that names the key at fault.
func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	notKey := dir + "/not-a-key.pem"
	writeFile(t, notKey, "this is not a PEM key\n")
	for _, md := range modes(t) {
		for _, c := range []struct {
			name    string
			options map[string]any
			want    string
		}{
			{"no keys", map[string]any{"issuer": "x"}, "no keys: set secret"},
			{"misspelt key", map[string]any{"secret": secret, "issuers": "x"}, "unknown key issuers"},
			{"short secret", map[string]any{"secret": "short"}, "secret is 5 bytes"},
			{"PEM as secret", map[string]any{"secret": string(testsign.PublicPEM(rsaKey))}, "secret looks like a PEM key"},
			{"missing key file", map[string]any{"publicKeyFiles": dir + "/nope.pem"}, "publicKeyFiles " + dir + "/nope.pem: cannot read the file"},
			{"key file not a key", map[string]any{"publicKeyFiles": notKey}, "publicKeyFiles " + notKey + ": not a PEM file"},
			{"bad PEM", map[string]any{"publicKeys": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}, "publicKeys[0]"},
			{"missing JWKS file", map[string]any{"jwksFile": dir + "/nope.json"}, "jwksFile " + dir + "/nope.json"},
			{"JWKS URL not https", map[string]any{"jwksUrl": "http://id.example.com/jwks"}, "jwksUrl http://id.example.com/jwks: use https"},
			{"JWKS URL unparsable", map[string]any{"jwksUrl": "https://[::1"}, "jwksUrl is not a valid URL"},
			{"JWKS URL not a URL", map[string]any{"jwksUrl": "id.example.com/jwks"}, "jwksUrl id.example.com/jwks: must be an absolute https:// URL"},
			{"JWKS URL with a space", map[string]any{"jwksUrl": "https://id example.com/jwks"}, "jwksUrl is not a valid URL"},
			{"algorithm unknown", map[string]any{"secret": secret, "algorithms": "HS257"}, "algorithms:"},
			{"algorithm none", map[string]any{"secret": secret, "algorithms": "none"}, "algorithms:"},
			{"algorithm that fits no key", map[string]any{"secret": secret, "algorithms": "RS256"}, "secret: no key allows any of the configured algorithms (RS256)"},
			{"HS256 for an RSA key", map[string]any{"publicKeys": string(testsign.PublicPEM(rsaKey)), "algorithms": "HS256"}, "publicKeys[0]: no key allows"},
			{"RS256 for an Ed25519 key", map[string]any{"publicKeys": string(testsign.PublicPEM(edKey)), "algorithms": "RS256"}, "publicKeys[0]: no key allows"},
			{"ES256 for a P-384 key", map[string]any{"publicKeys": string(testsign.PublicPEM(p384)), "algorithms": "ES256"}, "publicKeys[0]: no key allows"},
			{"leeway", map[string]any{"secret": secret, "leeway": "1h"}, `leeway "1h"`},
			{"jwksRefresh", map[string]any{"secret": secret, "jwksRefresh": "1ms"}, `jwksRefresh "1ms"`},
			{"require scope with a space", map[string]any{"secret": secret, "require": map[string]any{"scope": []any{"a b"}}}, "require: require scope"},
			{"header name", map[string]any{"secret": secret, "headers": map[string]any{"sub": "X User"}}, `headers sub: "X User" is not a valid header name`},
			{"reserved header", map[string]any{"secret": secret, "headers": map[string]any{"sub": "authorization"}}, "headers sub: header Authorization cannot carry a claim"},
			{"header is a token source", map[string]any{"secret": secret, "fromHeader": "X-Token", "headers": map[string]any{"sub": "x-token"}}, "headers sub: header X-Token is also in fromHeader"},
			{"fromHeader scheme", map[string]any{"secret": secret, "fromHeader": "Authorization Bear:er"}, `fromHeader "Authorization Bear:er"`},
			{"fromCookie name", map[string]any{"secret": secret, "fromCookie": "a b"}, `fromCookie "a b"`},
			{"cacheSize", map[string]any{"secret": secret, "cacheSize": -2}, "cacheSize -2"},
			{"maxTokenSize", map[string]any{"secret": secret, "maxTokenSize": 10}, "maxTokenSize 10"},
			{"realm", map[string]any{"secret": secret, "realm": `a"b`}, "realm"},
			{"typ", map[string]any{"secret": secret, "typ": "a b"}, "typ:"},
			{"tokenType", map[string]any{"secret": secret, "tokenType": "a\x01"}, "tokenType:"},
			{"secret and secretFile", map[string]any{"secret": secret, "secretFile": "/x"}, "secret and secretFile"},
		} {
			_, err := md.new(c.options, http.NotFoundHandler(), "bad")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "gatehouse bad: ") {
				t.Errorf("%s %s: err = %v, want one starting with %q and containing %q", md.name, c.name, err, "gatehouse bad: ", c.want)
			}
		}
	}
}

// TestSecretFile reads the secret from a file.
func TestSecretFile(t *testing.T) {
	file := t.TempDir() + "/secret"
	writeFile(t, file, secret+"\n")
	for _, md := range modes(t) {
		rec, _ := serve(t, md, map[string]any{"secretFile": file}, bearer(mint("HS512", secret, nil)))
		if rec.Code != 200 {
			t.Errorf("%s: %d %s", md.name, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestConfigFromLabels decodes options as Docker labels give them (every value a string, lists
// comma-separated) and checks they take effect.
func TestConfigFromLabels(t *testing.T) {
	options := map[string]any{
		"secret":    secret,
		"issuer":    testIssuer + ",https://other.example.com",
		"audience":  testAudience,
		"leeway":    "0",
		"optional":  "false",
		"cacheSize": "100",
		"headers":   map[string]any{"sub": "X-User-Id"},
		"require":   map[string]any{"scope": "api:read,api:admin"},
	}
	for _, md := range modes(t) {
		rec, s := serve(t, md, options, bearer(mint("HS256", secret, nil)))
		if rec.Code != 200 || s.header.Get("X-User-Id") != "alice" {
			t.Errorf("%s: %d %s", md.name, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		// leeway 0: a token that expired a second ago is refused.
		rec, _ = serve(t, md, options, bearer(mint("HS256", secret, map[string]any{"exp": time.Now().Unix() - 1})))
		if rec.Code != 401 {
			t.Errorf("%s leeway 0, expired: %d", md.name, rec.Code)
		}
	}
}

// TestGarbageNeverPasses sends a stream of random and mutated tokens: none passes, and none
// makes the plugin panic (a panic would fail the test) or answer other than 400/401.
func TestGarbageNeverPasses(t *testing.T) {
	seed := mint("HS256", secret, nil)
	mac := hmac.New(sha256.New, []byte("x"))
	for _, md := range modes(t) {
		h, err := md.new(allKeys(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Errorf("%s: a garbage token reached next: %q", md.name, r.Header.Get("Authorization"))
		}), "garbage")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 400 {
			mac.Write([]byte{byte(i)})
			noise := mac.Sum(nil)
			b := []byte(seed)
			for j := 0; j < 1+i%4; j++ {
				b[int(noise[j])*len(b)/256] = "AZaz09-_.=+/\x00 "[noise[j+4]%14]
			}
			if string(b) == seed {
				continue // the mutation changed nothing
			}
			r := httptest.NewRequest(http.MethodGet, "http://x/", nil)
			r.Header["Authorization"] = []string{"Bearer " + string(b)}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != 401 && rec.Code != 400 {
				t.Errorf("%s: mutated token answered %d", md.name, rec.Code)
			}
		}
	}
}
