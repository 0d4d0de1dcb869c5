package integration

// Hostile tokens against the built Caddy, one test per attack. Each test starts its own
// hostileSite: a route per kind of key (secret, RSA, EC and Ed25519 PEMs, a JWK Set file), one
// that requires iss and aud, one with a small max_token_size and one that forwards claims to an
// upstream. Every route first accepts a good token, so a refusal is about the token, not the
// route; every hostile token is then refused with exactly 401, simplejwt's body and an
// invalid_token challenge (never a 5xx, never a 200), and none reaches the upstream.
//
// Other files send the same attacks in other settings: none and key confusion with an RSA PEM
// and a JWK Set (algorithms_test.go), expired tokens (static_test.go, cache_test.go), leeway
// bounds (clockskew_test.go), refresh tokens where access tokens belong (static_test.go,
// handle_errors_test.go, issuer_flow_test.go), CR and LF in forwarded claims (proxy_test.go).

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

// The iss, aud and max_token_size of hostileSite's /iss/ and /small/ routes.
const (
	hostileIss     = "https://issuer.example"
	hostileAud     = "api://gatehouse"
	hostileMaxSize = 1024
)

// hostileSite is a running Caddy whose routes each accept a good token, and what the hostile
// tokens are made from.
type hostileSite struct {
	*caddyServer
	// jwksPath and jwksText are /jwks/'s JWK Set file (rsa-1, ec-1, ed-1) and its content.
	jwksPath, jwksText   string
	rsaJWK, ecJWK, edJWK map[string]any
	now                  time.Time
	exp                  int64  // five minutes from now
	hsHeader             string // {"alg":"HS256","typ":"JWT"}
	payload              string // sub alice, exp, token_type access
	hsGood               string // hsHeader and payload, signed with testSecret
	claims               jwt.MapClaims
	// good is a token each route accepts.
	good         map[string]string
	upstreamHits *atomic.Int64
}

// newHostileSite starts a hostileSite and checks that each route accepts its good token.
func newHostileSite(t *testing.T) *hostileSite {
	t.Helper()
	dir := t.TempDir()
	rsaPEMPath := writePEM(t, dir, "rsa.pem", &rsaKey.PublicKey)
	ecPEMPath := writePEM(t, dir, "ec.pem", &ecKey.PublicKey)
	edPEMPath := writePEM(t, dir, "ed.pem", edPub)
	s := &hostileSite{
		rsaJWK: jwkOf(t, "rsa-1", &rsaKey.PublicKey),
		ecJWK:  jwkOf(t, "ec-1", &ecKey.PublicKey),
		edJWK:  jwkOf(t, "ed-1", edPub),
	}
	s.jwksText = jwks(t, s.rsaJWK, s.ecJWK, s.edJWK)
	s.jwksPath = filepath.Join(dir, "jwks.json")
	writeFile(t, s.jwksPath, s.jwksText)
	var up *httptest.Server
	up, s.upstreamHits = echoUpstream(t)

	s.caddyServer = startCaddy(t, `
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
			jwks_file `+s.jwksPath+`
		}
		respond "jwks {http.auth.user.id}"
	}
	handle /iss/* {
		jwt_auth {
			secret `+testSecret+`
			issuer `+hostileIss+`
			audience `+hostileAud+`
		}
		respond "iss {http.auth.user.id}"
	}
	handle /small/* {
		jwt_auth {
			secret `+testSecret+`
			max_token_size `+fmt.Sprint(hostileMaxSize)+`
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

	s.now = time.Now()
	s.exp = s.now.Add(5 * time.Minute).Unix()
	s.claims = access(jwt.MapClaims{"sub": "alice"})
	s.hsHeader = `{"alg":"HS256","typ":"JWT"}`
	s.payload = fmt.Sprintf(`{"sub":"alice","exp":%d,"token_type":"access"}`, s.exp)
	s.hsGood = rawHS256(testSecret, s.hsHeader, s.payload)
	s.good = map[string]string{
		"/hs/":   s.hsGood,
		"/rsa/":  sign(t, jwt.SigningMethodRS256, rsaKey, s.claims, nil),
		"/es/":   sign(t, jwt.SigningMethodES256, ecKey, s.claims, nil),
		"/ed/":   sign(t, jwt.SigningMethodEdDSA, edK, s.claims, nil),
		"/jwks/": sign(t, jwt.SigningMethodES256, ecKey, s.claims, map[string]any{"kid": "ec-1"}),
		"/iss/":  hs256(t, access(jwt.MapClaims{"sub": "alice", "iss": hostileIss, "aud": hostileAud})),
		"/fwd/":  hs256(t, access(jwt.MapClaims{"sub": "alice", "groups": []any{"staff"}, "realm": map[string]any{"role": "ed"}})),
	}
	for path, tok := range s.good {
		if path == "/fwd/" {
			if h := upstreamHeaders(t, get(t, s.URL+path, bearer(tok))); h.Get("X-User-Id") != "alice" || h.Get("X-Groups") != "staff" || h.Get("X-Role") != "ed" {
				t.Fatalf("control %s: upstream saw %v", path, h)
			}
			continue
		}
		s.accepts(t, path, tok)
	}
	return s
}

// accepts fails the test unless path answers 200 "<route> alice" to tok: the control that shows
// a route refuses a hostile token for the token's sake.
func (s *hostileSite) accepts(t *testing.T, path, tok string) {
	t.Helper()
	want := strings.Trim(path, "/") + " alice"
	if resp := get(t, s.URL+path, bearer(tok)); resp.Status != http.StatusOK || resp.Body != want {
		t.Fatalf("control %s: got %d %q, want 200 %q", path, resp.Status, resp.Body, want)
	}
}

// refused is a hostile token and the route it is sent to; body is the 401 body expected, ""
// for bodyInvalid.
type refused struct {
	name, path, token string
	body              string
}

// refuseAll sends each token to its route in a subtest "<name> <path>": each gets 401 with its
// body and an invalid_token challenge, the upstream sees none of them, and Caddy keeps serving.
func (s *hostileSite) refuseAll(t *testing.T, tests []refused) {
	t.Helper()
	hitsBefore := s.upstreamHits.Load()
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.path, func(t *testing.T) {
			want := tt.body
			if want == "" {
				want = bodyInvalid
			}
			resp := get(t, s.URL+tt.path, bearer(tt.token))
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
	if got := s.upstreamHits.Load(); got != hitsBefore {
		t.Errorf("the upstream was reached %d times by refused tokens", got-hitsBefore)
	}
	if !s.running() {
		t.Fatal("caddy exited")
	}
}

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

// TestForgedAlgorithmsRefused: the token's header does not choose how it is checked. alg none
// in any spelling, with or without a signature, on every kind of key, is refused; so are an
// alg in the wrong case, a missing alg, and an ES256 token on an HMAC route.
func TestForgedAlgorithmsRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	parts := strings.Split(s.hsGood, ".")
	esGood := rawES256(t, `{"alg":"ES256","typ":"JWT"}`, s.payload, false)
	s.accepts(t, "/es/", esGood)
	tests := []refused{
		{"alg None", "/hs/", b64(`{"alg":"None"}`) + "." + parts[1] + ".", ""},
		{"alg NONE with a signature", "/hs/", b64(`{"alg":"NONE"}`) + "." + parts[1] + "." + parts[2], ""},
		{"alg none on a public key", "/es/", b64(`{"alg":"none"}`) + "." + parts[1] + ".", ""},
		{"alg lowercase hs256", "/hs/", rawHS256(testSecret, `{"alg":"hs256"}`, s.payload), ""},
		{"alg missing", "/hs/", rawHS256(testSecret, `{"typ":"JWT"}`, s.payload), ""},
		{"ES256 header on the HMAC route", "/hs/", esGood, ""},
	}
	nonePayload := b64(s.payload)
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		for _, path := range []string{"/hs/", "/rsa/", "/es/", "/ed/", "/jwks/"} {
			tests = append(tests, refused{alg + " with an empty signature", path, b64(`{"alg":"`+alg+`","typ":"JWT"}`) + "." + nonePayload + ".", ""})
		}
		tests = append(tests, refused{alg + " with a kid of the JWK Set", "/jwks/", b64(`{"alg":"`+alg+`","kid":"ec-1"}`) + "." + nonePayload + ".", ""})
	}
	s.refuseAll(t, tests)
}

// TestKeyConfusionRefused: a public key is never an HMAC secret. Every configured key (RSA, EC,
// Ed25519), in every form an attacker may find it (PEM, PEM without its final newline, DER,
// JWK JSON, the whole JWK Set file), used as an HS256/384/512 secret, is refused on the key's
// PEM route and on the JWK Set with the key's kid.
func TestKeyConfusionRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
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
	var tests []refused
	for _, k := range []struct {
		name, path, kid string
		pub             any
		jwk             map[string]any
	}{
		{"RSA", "/rsa/", "rsa-1", &rsaKey.PublicKey, s.rsaJWK},
		{"EC", "/es/", "ec-1", &ecKey.PublicKey, s.ecJWK},
		{"Ed25519", "/ed/", "ed-1", edPub, s.edJWK},
	} {
		secrets := []struct{ form, secret string }{
			{"PEM", publicPEM(t, k.pub)},
			{"PEM without its final newline", strings.TrimSuffix(publicPEM(t, k.pub), "\n")},
			{"DER", derOf(k.pub)},
			{"JWK JSON", jsonOf(k.jwk)},
			{"the JWK Set file", s.jwksText},
		}
		for _, sec := range secrets {
			for _, m := range []*jwt.SigningMethodHMAC{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
				name := fmt.Sprintf("%s with the %s %s", m.Alg(), k.name, sec.form)
				tests = append(tests,
					refused{name, k.path, sign(t, m, []byte(sec.secret), s.claims, nil), ""},
					refused{name + " on the JWK Set, kid " + k.kid, "/jwks/", sign(t, m, []byte(sec.secret), s.claims, map[string]any{"kid": k.kid}), ""})
			}
		}
	}
	s.refuseAll(t, tests)
}

// TestInjectedKidRefused: kid is a lookup among the configured keys, never a path, a query or
// a URL. Tokens signed with what a path, SQL or URL kid would load (/etc/passwd, an empty
// /dev/null, the JWK Set file, the attacker's server) are refused, the attacker's server is
// never fetched, and a kid never makes one key verify another key's algorithm.
func TestInjectedKidRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	tests := []refused{
		{"kid path injection", "/hs/", sign(t, jwt.SigningMethodHS256, []byte("root:x:0:0:root:/root:/bin/bash\n"),
			access(jwt.MapClaims{"sub": "alice"}), map[string]any{"kid": "../../../../etc/passwd"}), ""},
		{"kid /dev/null with an empty key", "/hs/", sign(t, jwt.SigningMethodHS256, []byte{}, access(jwt.MapClaims{"sub": "alice"}),
			map[string]any{"kid": "/dev/null"}), ""},
	}
	kidServer, kidHits := hostileServer(t, "attacker-secret-attacker-secret-0123")
	for _, c := range []struct{ name, kid, secret string }{
		{"SQL injection", "x' UNION SELECT 'attacker-secret-attacker-secret-0123' --", "attacker-secret-attacker-secret-0123"},
		{"SQL injection, always true", "' OR '1'='1", "attacker-secret-attacker-secret-0123"},
		{"traversal to the JWK Set file", "../../../../../../.." + s.jwksPath, s.jwksText},
		{"absolute path of the JWK Set file", s.jwksPath, s.jwksText},
		{"a URL", kidServer.URL + "/key", "attacker-secret-attacker-secret-0123"},
		{"NUL", "ec-1\x00../../etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"},
	} {
		for _, path := range []string{"/hs/", "/jwks/"} {
			tests = append(tests, refused{c.name, path, sign(t, jwt.SigningMethodHS256, []byte(c.secret), s.claims, map[string]any{"kid": c.kid}), ""})
		}
	}
	tests = append(tests, refused{"the kid of an RSA key on an ES256 token by another key", "/jwks/",
		sign(t, jwt.SigningMethodES256, mustEC(), s.claims, map[string]any{"kid": "rsa-1"}), ""})
	s.refuseAll(t, tests)
	if got := kidHits.Load(); got != 0 {
		t.Errorf("caddy fetched the kid URL server %d times", got)
	}
}

// TestTokenSuppliedKeysRefused: keys come from the configuration only. A token signed with the
// attacker's key, naming it in jku or x5u (a dead address, or a live server that must never be
// fetched), or carrying it in jwk or x5c, is refused on PEM, JWK Set and HMAC routes.
func TestTokenSuppliedKeysRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	attacker := mustRSA(2048)
	tests := []refused{
		{"jku header with the attacker's key", "/hs/", sign(t, jwt.SigningMethodRS256, attacker, access(jwt.MapClaims{"sub": "alice"}),
			map[string]any{"jku": "http://127.0.0.1:1/jwks.json", "kid": "attacker"}), ""},
		{"jwk header with the attacker's key", "/es/", sign(t, jwt.SigningMethodRS256, attacker, access(jwt.MapClaims{"sub": "alice"}),
			map[string]any{"jwk": jwkOf(t, "attacker", &attacker.PublicKey)}), ""},
	}
	attackerKey := mustRSA(2048)
	keyServer, keyHits := hostileServer(t, jwks(t, jwkOf(t, "attacker", &attackerKey.PublicKey)))
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
			tests = append(tests, refused{h.name, path, sign(t, jwt.SigningMethodRS256, attackerKey, s.claims, h.header), ""})
		}
	}
	s.refuseAll(t, tests)
	for name, hits := range map[string]*atomic.Int64{"jku": keyHits, "x5u": certHits} {
		if got := hits.Load(); got != 0 {
			t.Errorf("caddy fetched the %s server %d times", name, got)
		}
	}
}

// TestCritHeaderRefused: Gatehouse understands no JOSE extension, so a token that says one is
// critical is refused whatever crit lists, even an empty list, b64 false (RFC 7797) or a
// registered name, and when crit is not an array.
func TestCritHeaderRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	p := s.payload
	s.refuseAll(t, []refused{
		{"crit header", "/hs/", rawHS256(testSecret, `{"alg":"HS256","crit":["x-policy"],"x-policy":"strict"}`, p), ""},
		{"empty crit header", "/hs/", rawHS256(testSecret, `{"alg":"HS256","crit":[]}`, p), ""},
		{"b64 false (RFC 7797), payload not encoded", "/hs/", signInput(b64(`{"alg":"HS256","b64":false,"crit":["b64"]}`) + "." + p), ""},
		{"b64 false (RFC 7797), payload encoded", "/hs/", rawHS256(testSecret, `{"alg":"HS256","b64":false,"crit":["b64"]}`, p), ""},
		{"a registered header name", "/hs/", rawHS256(testSecret, `{"alg":"HS256","crit":["alg"]}`, p), ""},
		{"not an array", "/hs/", rawHS256(testSecret, `{"alg":"HS256","crit":"x-policy","x-policy":1}`, p), ""},
		{"on an asymmetric route", "/es/", rawES256(t, `{"alg":"ES256","crit":["x-policy"],"x-policy":1}`, p, false), ""},
	})
}

// TestForgedSignaturesRefused: only the key's own signature over the exact header and payload
// passes. Stripped, zeroed, tampered and moved signatures are refused on every kind of key, and
// an ECDSA signature must be r||s of the curve's size: DER, r = s = n, r = 0 and wrong lengths
// are refused.
func TestForgedSignaturesRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	parts := strings.Split(s.hsGood, ".")
	esHeader := `{"alg":"ES256","typ":"JWT"}`
	tests := []refused{
		{"ECDSA signature in DER", "/es/", rawES256(t, esHeader, s.payload, true), ""},
		{"ECDSA zero signature", "/es/", b64(esHeader) + "." + b64(s.payload) + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), ""},
		{"HMAC zero signature", "/hs/", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32)), ""},
		{"empty signature", "/hs/", parts[0] + "." + parts[1] + ".", ""},
		{"tampered payload", "/hs/", parts[0] + "." + b64(fmt.Sprintf(`{"sub":"admin","exp":%d,"token_type":"access"}`, s.exp)) + "." + parts[2], ""},
	}

	// ECDSA signatures that are not r||s of the key, on a JWK Set key and (but for DER and all
	// zero, sent above with typ) on the EC PEM route.
	esHeaderKid := `{"alg":"ES256","kid":"ec-1"}`
	esInput := b64(esHeaderKid) + "." + b64(s.payload)
	esSig := func(sig []byte) string { return esInput + "." + base64.RawURLEncoding.EncodeToString(sig) }
	n := ecKey.Curve.Params().N.FillBytes(make([]byte, 32))
	validES := rawES256(t, esHeaderKid, s.payload, false)
	validSig, _ := base64.RawURLEncoding.DecodeString(validES[strings.LastIndexByte(validES, '.')+1:])
	s.accepts(t, "/jwks/", validES)
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
			tok = rawES256(t, esHeaderKid, s.payload, true)
		}
		tests = append(tests, refused{c.name, "/jwks/", tok, ""})
		if c.name != "DER" && c.name != "all zero" {
			tests = append(tests, refused{c.name + " without kid", "/es/", b64(`{"alg":"ES256"}`) + "." + b64(s.payload) + "." + base64.RawURLEncoding.EncodeToString(c.sig), ""})
		}
	}

	// Stripped and tampered signatures on the asymmetric routes, and a signature moved from
	// another token by the same key.
	for _, path := range []string{"/rsa/", "/es/", "/ed/", "/jwks/"} {
		tok := s.good[path]
		cut := strings.LastIndexByte(tok, '.')
		var header map[string]any
		if path == "/jwks/" {
			header = map[string]any{"kid": "ec-1"}
		}
		other := sign(t, methodFor(path), keyFor(path), access(jwt.MapClaims{"sub": "bob"}), header)
		tests = append(tests,
			refused{"stripped", path, tok[:cut+1], ""},
			refused{"tampered", path, tamper(tok), ""},
			refused{"moved from another token", path, tok[:cut] + other[strings.LastIndexByte(other, '.'):], ""})
	}
	s.refuseAll(t, tests)
}

// methodFor and keyFor are the signing method and private key of hostileSite's good token for
// an asymmetric route (ES256 with ec-1 on /jwks/).
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

// TestBadTimeClaimsRefused: a token is valid only inside its lifetime, and only when exp, nbf
// and iat are numbers. Expired, not yet valid, issued in the future, without exp, and time
// claims of any other type (string, null, bool, array, object, an overflowing number) are
// refused.
func TestBadTimeClaimsRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	exp, now := s.exp, s.now
	var tests []refused
	for _, c := range []struct{ name, payload string }{
		{"exp as a string", fmt.Sprintf(`{"sub":"alice","exp":"%d"}`, exp)},
		{"exp missing", `{"sub":"alice"}`},
		{"exp overflowing", `{"sub":"alice","exp":1e400}`},
		{"exp null", `{"sub":"alice","exp":null}`},
		{"iat in the future", fmt.Sprintf(`{"sub":"alice","exp":%d,"iat":%d}`, exp, now.Add(time.Hour).Unix())},
		{"nbf an empty object", fmt.Sprintf(`{"sub":"alice","exp":%d,"nbf":{}}`, exp)},
		{"iat an array of arrays", fmt.Sprintf(`{"sub":"alice","exp":%d,"iat":[[1]]}`, exp)},
		{"nbf in the future", fmt.Sprintf(`{"sub":"alice","exp":%d,"nbf":%d}`, exp, now.Add(time.Hour).Unix())},
	} {
		tests = append(tests, refused{c.name, "/hs/", rawHS256(testSecret, s.hsHeader, c.payload), ""})
	}
	for _, c := range []struct{ name, claims string }{
		{"exp 0", `"exp":0`},
		{"exp negative", `"exp":-1`},
		{"exp true", `"exp":true`},
		{"exp an array", fmt.Sprintf(`"exp":[%d]`, exp)},
		{"exp an object", fmt.Sprintf(`"exp":{"v":%d}`, exp)},
		{"exp an empty string", `"exp":""`},
		// Beyond the default leeway (60 s with a secret); exp within a leeway: clockskew_test.go.
		{"exp 2 minutes ago", fmt.Sprintf(`"exp":%d`, now.Add(-2*time.Minute).Unix())},
		{"nbf a string", fmt.Sprintf(`"exp":%d,"nbf":"0"`, exp)},
		{"nbf null", fmt.Sprintf(`"exp":%d,"nbf":null`, exp)},
		{"iat a string", fmt.Sprintf(`"exp":%d,"iat":"0"`, exp)},
		{"iat true", fmt.Sprintf(`"exp":%d,"iat":true`, exp)},
	} {
		tests = append(tests, refused{c.name, "/hs/", rawHS256(testSecret, s.hsHeader, `{"sub":"alice",`+c.claims+`}`), ""})
	}
	s.refuseAll(t, tests)
}

// TestWrongIssuerOrAudienceRefused: on a route that names an issuer and an audience, a token
// for another issuer or audience is refused, and so is one whose iss or aud merely looks like
// them: another case, a trailing slash, a prefix, the wrong type, missing or null.
func TestWrongIssuerOrAudienceRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	iss, aud := hostileIss, hostileAud
	var tests []refused
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
		tests = append(tests, refused{c.name, "/iss/", rawHS256(testSecret, s.hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,%s}`, s.exp, c.claims)), ""})
	}
	s.refuseAll(t, tests)
}

// TestRefreshTokenAsAccessRefused: a refresh token cannot be used where an access token belongs.
// A token_type other than exactly "access" (or no claim at all) is refused with simplejwt's
// "wrong type" body: other cases, arrays, empty, null, other types, on HMAC and public-key
// routes.
func TestRefreshTokenAsAccessRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	var tests []refused
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
		tests = append(tests, refused{c.name, "/hs/",
			rawHS256(testSecret, s.hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"token_type":%s}`, s.exp, c.value)), bodyWrongType})
	}
	tests = append(tests, refused{"refresh on a public-key route", "/es/",
		sign(t, jwt.SigningMethodES256, ecKey, access(jwt.MapClaims{"sub": "alice", "token_type": "refresh"}), nil), bodyWrongType})
	s.refuseAll(t, tests)
}

// TestMalformedTokensRefused: a token is three segments of canonical, unpadded base64url, a
// JSON object header and a JSON object payload; anything else is refused before its claims are
// read, so that no two texts verify as one token. Valid JSON that is merely odd (deeply nested)
// may pass or be refused, but never crashes the server.
func TestMalformedTokensRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	hsHeader, payload, exp := s.hsHeader, s.payload, s.exp
	good := s.hsGood
	parts := strings.Split(good, ".")
	tests := []refused{
		{"garbage", "/hs/", "garbage", ""},
		{"two segments", "/hs/", parts[0] + "." + parts[1], ""},
		{"four segments", "/hs/", good + ".e30", ""},
		{"five segments (JWE shape)", "/hs/", good + ".e30.e30", ""},
		{"empty segments", "/hs/", "..", ""},
		{"space inside", "/hs/", parts[0] + ". " + parts[1] + "." + parts[2], ""},
		{"payload is an array", "/hs/", rawHS256(testSecret, hsHeader, `[]`), ""},
		{"payload is null", "/hs/", rawHS256(testSecret, hsHeader, `null`), ""},
		{"payload is not JSON", "/hs/", rawHS256(testSecret, hsHeader, `sub=alice`), ""},
		{"trailing data after the payload", "/hs/", rawHS256(testSecret, hsHeader, payload+`{}`), ""},
		{"header is not an object", "/hs/", rawHS256(testSecret, `"HS256"`, payload), ""},
	}

	// base64: one canonical form only.
	padded := func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }
	paddedInput := padded(hsHeader) + "." + padded(payload)
	tests = append(tests, refused{"padded base64", "/hs/", paddedInput + "." + base64.URLEncoding.EncodeToString(hmacSum(testSecret, paddedInput)), ""})
	// The signature's last character carries two unused bits; setting them changes the text but
	// not the bytes a lenient decoder would see.
	sig := parts[2]
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
	tests = append(tests, refused{"non-canonical base64 signature", "/hs/", parts[0] + "." + parts[1] + "." + sig[:len(sig)-1] +
		string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1]), ""})
	// A header and payload whose encodings end with unused bits; canonical, they pass.
	ncHeader, ncPayload := b64(`{"alg":"HS256","typ":"JWT","k":"v"}`), b64(payload+" ")
	if len(ncPayload)%4 == 0 {
		ncPayload = b64(payload + "  ")
	}
	s.accepts(t, "/hs/", signInput(ncHeader+"."+ncPayload))
	tests = append(tests,
		refused{"non-canonical header", "/hs/", signInput(nonCanonical(t, ncHeader) + "." + ncPayload), ""},
		refused{"non-canonical payload", "/hs/", signInput(ncHeader + "." + nonCanonical(t, ncPayload)), ""})
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
	tests = append(tests, refused{"standard alphabet in the payload", "/hs/", signInput(parts[0] + "." + std(stdPayload)), ""})
	var stdSigTok string
	for i := 0; ; i++ {
		tok := rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"n":%d}`, exp, i))
		if sig := tok[strings.LastIndexByte(tok, '.')+1:]; strings.ContainsAny(sig, "-_") {
			stdSigTok = tok[:strings.LastIndexByte(tok, '.')+1] + std(sig)
			break
		}
	}
	tests = append(tests,
		refused{"standard alphabet in the signature", "/hs/", stdSigTok, ""},
		refused{"padding on the signature only", "/hs/", good + "=", ""})
	padPayload := b64(payload)
	for len(padPayload)%4 != 0 {
		padPayload += "="
	}
	if padPayload != b64(payload) {
		tests = append(tests, refused{"padding on the payload only", "/hs/", signInput(parts[0] + "." + padPayload), ""})
	}
	tests = append(tests, refused{"percent-encoded", "/hs/", strings.Replace(good, ".", "%2E", 1), ""})
	s.refuseAll(t, tests)

	deep := rawHS256(testSecret, hsHeader,
		fmt.Sprintf(`{"sub":"alice","exp":%d,"x":%s%s}`, exp, strings.Repeat("[", 3000), strings.Repeat("]", 3000)))
	if resp := get(t, s.URL+"/hs/", bearer(deep)); resp.Status != http.StatusOK && resp.Status != http.StatusUnauthorized {
		t.Errorf("deeply nested claim: status = %d, want 200 or 401", resp.Status)
	}
	if !s.running() {
		t.Fatal("caddy exited")
	}
}

// TestOversizedTokensRefused: a token longer than max_token_size (default 8 KiB) is refused
// before it is decoded, signed or not, so a client cannot make Caddy parse megabytes; a valid
// token of exactly max_token_size bytes passes, and a header past Caddy's own limit is a 4xx.
func TestOversizedTokensRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	sized := func(size int) string {
		for pad := 0; pad < hostileMaxSize; pad++ {
			for _, h := range []string{s.hsHeader, `{"alg":"HS256"}`} {
				tok := rawHS256(testSecret, h, fmt.Sprintf(`{"sub":"alice","exp":%d,"pad":"%s"}`, s.exp, strings.Repeat("p", pad)))
				if len(tok) == size {
					return tok
				}
			}
		}
		t.Fatalf("no token of %d bytes", size)
		return ""
	}
	s.accepts(t, "/small/", sized(hostileMaxSize))
	s.refuseAll(t, []refused{
		{"one byte over max_token_size", "/small/", sized(hostileMaxSize + 1), ""},
		{"oversized token", "/hs/", strings.Repeat("a", 9000), ""},
		{"oversized signed token", "/hs/", hs256(t, access(jwt.MapClaims{"sub": "alice", "pad": strings.Repeat("p", 9000)})), ""},
	})
	t.Run("huge header is a 4xx", func(t *testing.T) {
		resp := get(t, s.URL+"/hs/", bearer(strings.Repeat("a", 200<<10)))
		if resp.Status < 400 || resp.Status > 499 {
			t.Errorf("status = %d, want 4xx", resp.Status)
		}
	})
	if !s.running() {
		t.Fatal("caddy exited")
	}
}

// TestDuplicateClaimsRefused: a name given twice, or in two spellings that decode alike, is
// refused in the payload and in the header, so that two JSON parsers (Gatehouse's and the
// upstream's) never read two different tokens from one text. Top-level names that differ only
// in case (exp and EXP) are refused too: a reader that folds case would take them for one.
func TestDuplicateClaimsRefused(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	exp, hsHeader := s.exp, s.hsHeader
	var tests []refused
	for _, c := range []struct{ name, header, payload string }{
		{"duplicate exp", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":1,"exp":%d}`, exp)},
		{"exp and EXP", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"EXP":1}`, exp)},
		{"duplicate header alg", `{"alg":"none","alg":"HS256"}`, s.payload},
		{"sub twice", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"sub":"admin"}`, exp)},
		{"sub and SUB", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"SUB":"admin"}`, exp)},
		{"sub and Sub", hsHeader, fmt.Sprintf(`{"Sub":"admin","exp":%d,"sub":"alice"}`, exp)},
		{"token_type refresh then access", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"token_type":"refresh","token_type":"access"}`, exp)},
		{"sub and an escaped sub", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"s\u0075b":"admin"}`, exp)},
		{"exp and an escaped exp", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"\u0065xp":1}`, exp)},
		{"a nested member twice", hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"realm":{"role":"user","role":"admin"}}`, exp)},
		{"kid twice in the header", `{"alg":"HS256","kid":"a","kid":"b"}`, s.payload},
		{"alg and an escaped alg in the header", `{"alg":"HS256","\u0061lg":"none"}`, s.payload},
	} {
		tests = append(tests, refused{c.name, "/hs/", rawHS256(testSecret, c.header, c.payload), ""})
	}
	s.refuseAll(t, tests)
}

// TestClaimsCannotInjectHeaders: a claim forwarded as a request header (forward_claim) or used
// as the user id must not smuggle a header or a terminal escape to the upstream. A control
// character in one (NUL, CR alone, LF, DEL, ESC, an escaped CR LF, also in an array element or
// a nested claim) refuses the token before the upstream is reached; the same characters in a
// claim that is neither forwarded nor the user id are no header risk, and pass.
func TestClaimsCannotInjectHeaders(t *testing.T) {
	t.Parallel()
	s := newHostileSite(t)
	var tests []refused
	for _, c := range []struct{ name, claims string }{
		{"NUL in sub", `"sub":"alice\u0000"`},
		{"CR alone in sub", `"sub":"alice\rX-Admin: 1"`},
		{"LF in an array element", `"sub":"alice","groups":["staff","ops\nX-Admin: 1"]`},
		{"DEL in a nested claim", `"sub":"alice","realm":{"role":"ed\u007f"}`},
		{"ESC in sub", `"sub":"alice\u001b[2J"`},
		{"escaped CR LF in sub", `"sub":"alice\u000d\u000aX-Admin: 1"`},
		{"CR LF in a forwarded number-like string", `"sub":"alice","groups":"1\r\n2"`},
	} {
		tests = append(tests, refused{c.name, "/fwd/", rawHS256(testSecret, s.hsHeader, fmt.Sprintf(`{%s,"exp":%d}`, c.claims, s.exp)), ""})
	}
	s.refuseAll(t, tests)
	h := upstreamHeaders(t, get(t, s.URL+"/fwd/", bearer(rawHS256(testSecret, s.hsHeader,
		fmt.Sprintf(`{"sub":"alice","exp":%d,"note":"line 1\r\nline 2\u0000"}`, s.exp)))))
	if h.Get("X-User-Id") != "alice" {
		t.Errorf("upstream X-User-Id = %q, want alice", h.Get("X-User-Id"))
	}
}
