package caddyauth

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// Password hashes of the test users: bcrypt at cost 4 and argon2id at 8 MiB, so that tests run
// fast; the format is what `caddy hash-password` and `htpasswd -B` make.
const (
	aliceHash = "$2a$04$jtbYAZjfJVFuB5at.e72.ubgghvlf88CJne.EDJvHG.RiW1tnH4DC"                                     // alice-pw
	bobHash   = "$2a$04$By8wSEr6u4E8tE9POQqOqeqWAZEOFdep1yl7lRzxx9euHMHwdGvnW"                                     // bob-pw
	carolHash = "$argon2id$v=19$m=8192,t=1,p=1$ePUuJYfaf35QPKzzkg0yBQ$Pa/zVYy6XfGwqQAc5XlhuxCtBXzpqsYa/+UFH0LybL0" // carol-pw
)

// testUsers are alice (bcrypt, with claims), bob (bcrypt) and carol (argon2id).
func testUsers() []IssuerUser {
	return []IssuerUser{
		{Name: "alice", Hash: aliceHash, Claims: map[string]json.RawMessage{
			"user_id": json.RawMessage(`7`), "roles": json.RawMessage(`["admin","editor"]`), "team": json.RawMessage(`"blue"`),
		}},
		{Name: "bob", Hash: bobHash},
		{Name: "carol", Hash: carolHash},
	}
}

// provisionIssuer provisions and validates j on storage (a new Memory when nil) and cleans it up
// after the test.
func provisionIssuer(t *testing.T, j *JWTIssuer, storage kv.Storage) *JWTIssuer {
	t.Helper()
	if err := provisionIssuerIn(j, storage); err != nil {
		t.Fatalf("provision: %v", err)
	}
	t.Cleanup(func() { _ = j.Cleanup() })
	return j
}

func provisionIssuerIn(j *JWTIssuer, storage kv.Storage) error {
	if storage == nil {
		storage = kv.NewMemory()
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := j.provision(ctx, storage); err != nil {
		_ = j.Cleanup() // as Caddy does after a failed Provision
		return err
	}
	return j.Validate()
}

// call sends one request through j as Caddy's server would, with clientIP as the client_ip
// variable ("" leaves what Caddy derived from RemoteAddr). The issuer must never call next.
func call(t *testing.T, j *JWTIssuer, method, path, body, clientIP string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), rec, new(caddyhttp.Server))
	if clientIP != "" {
		caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, clientIP)
	}
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Error("jwt_issuer called the next handler")
		return nil
	})
	if err := j.ServeHTTP(rec, r, next); err != nil {
		t.Fatalf("ServeHTTP returned %v", err)
	}
	return rec
}

// login posts credentials to base + "/" and returns the answer.
func login(t *testing.T, j *JWTIssuer, base, user, password, clientIP string) *httptest.ResponseRecorder {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	return call(t, j, http.MethodPost, base+"/", string(body), clientIP)
}

// pair decodes a 200 token answer.
func pair(t *testing.T, rec *httptest.ResponseRecorder) (access, refresh string) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", rec.Code, rec.Body)
	}
	var p struct{ Access, Refresh string }
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p.Access, p.Refresh
}

// jwtPart decodes part i (0 header, 1 payload) of a compact JWS, numbers kept as json.Number.
func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	raw, err := b64.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestIssuerEndToEnd: the adapter wires users (bcrypt and argon2id, inline claims), the signing
// key, rotation and the registry: tokens carry the configured claims, refresh rotates, reuse is
// refused, and a jwt_auth without key settings accepts the access tokens.
func TestIssuerEndToEnd(t *testing.T) {
	j := provisionIssuer(t, &JWTIssuer{
		BasePath: "/api/token",
		IssuerConfig: IssuerConfig{
			Users:         testUsers(),
			SigningKey:    &SigningKey{Source: keySecret, Secret: testSecret},
			Issuer:        "https://gatehouse.test",
			Audiences:     []string{"shop"},
			AccessTTL:     caddy.Duration(2 * time.Minute),
			RotateRefresh: true,
		},
	}, nil)
	auth := provision(t, &JWTAuth{})

	access, refresh := pair(t, login(t, j, "/api/token", "alice", "alice-pw", ""))
	if h := jwtPart(t, access, 0); !reflect.DeepEqual(h, map[string]any{"alg": "HS256", "typ": "JWT"}) {
		t.Errorf("header %v", h)
	}
	c := jwtPart(t, access, 1)
	for name, want := range map[string]any{
		"token_type": "access", "user_id": json.Number("7"), "roles": []any{"admin", "editor"}, "team": "blue",
		"iss": "https://gatehouse.test", "aud": "shop",
	} {
		if !reflect.DeepEqual(c[name], want) {
			t.Errorf("claim %s = %#v, want %#v", name, c[name], want)
		}
	}
	exp, _ := c["exp"].(json.Number).Int64()
	iat, _ := c["iat"].(json.Number).Int64()
	if exp-iat != 120 {
		t.Errorf("access lifetime %ds, want 120 (access_ttl 2m)", exp-iat)
	}
	if s := serve(auth, bearer(access), nil); !s.nextCalled || s.placeholder("http.auth.user.id") != "7" {
		t.Errorf("zero-config jwt_auth refused the issuer's token: %s", s.placeholder("http.auth.jwt.error"))
	}
	if s := serve(auth, bearer(refresh), nil); s.nextCalled || s.placeholder("http.auth.jwt.error") != "wrong_token_type" {
		t.Errorf("refresh token as access: next %v, reason %q", s.nextCalled, s.placeholder("http.auth.jwt.error"))
	}

	for _, u := range [][2]string{{"bob", "bob-pw"}, {"carol", "carol-pw"}} {
		a, _ := pair(t, login(t, j, "/api/token", u[0], u[1], ""))
		if got := jwtPart(t, a, 1)["user_id"]; got != u[0] {
			t.Errorf("%s: user_id %v, want the username", u[0], got)
		}
	}
	if rec := login(t, j, "/api/token", "carol", "wrong", ""); rec.Code != http.StatusUnauthorized ||
		rec.Header().Get("WWW-Authenticate") != `Bearer realm="api"` {
		t.Errorf("wrong password: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}

	rec := call(t, j, http.MethodPost, "/api/token/refresh/", `{"refresh":"`+refresh+`"}`, "")
	newAccess, newRefresh := pair(t, rec)
	if newRefresh == "" || newAccess == "" {
		t.Fatalf("rotation answered %s", rec.Body)
	}
	rec = call(t, j, http.MethodPost, "/api/token/refresh/", `{"refresh":"`+refresh+`"}`, "")
	if rec.Code != http.StatusUnauthorized || rec.Body.String() != `{"detail":"Token is blacklisted","code":"token_not_valid"}` {
		t.Errorf("reuse of a rotated token: %d %s", rec.Code, rec.Body)
	}
	rec = call(t, j, http.MethodPost, "/api/token/refresh/", `{"refresh":"`+newRefresh+`"}`, "")
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("successor after reuse (family revoked): %d %s", rec.Code, rec.Body)
	}
}

// TestIssuerBasePath: the endpoints are under BasePath, and nothing else is answered but 404.
func TestIssuerBasePath(t *testing.T) {
	tests := []struct {
		base, path string
		want       int
	}{
		{"/api/token", "/api/token/", http.StatusOK},
		{"/api/token", "/api/token", http.StatusOK},
		{"/api/token", "/", http.StatusNotFound},
		{"/api/token", "/api/other/", http.StatusNotFound},
		{"", "/", http.StatusOK},
		{"", "/api/token/", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.base+" "+tt.path, func(t *testing.T) {
			j := provisionIssuer(t, &JWTIssuer{BasePath: tt.base, IssuerConfig: IssuerConfig{Users: testUsers(), SigningKey: &SigningKey{Source: keySecret, Secret: testSecret}}}, nil)
			rec := call(t, j, http.MethodPost, tt.path, `{"username":"bob","password":"bob-pw"}`, "")
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
		})
	}
}

// TestIssuerSigningKeys: each signing key source signs as configured; generated keys are kept
// in the storage, so a second issuer on the same storage (a restart, a reload, another Caddy)
// signs with the same key and publishes it.
func TestIssuerSigningKeys(t *testing.T) {
	pemFile := writeFile(t, t.TempDir(), "key.pem", privatePEM(t))
	tests := []struct {
		name       string
		key        *SigningKey
		alg        string
		kid        bool
		storageKey string // "" for none
	}{
		{"default", nil, "ES256", true, "gatehouse/issuer/keys/ES256.json"},
		{"auto EdDSA", &SigningKey{Source: keyAuto, Alg: "EdDSA"}, "EdDSA", true, "gatehouse/issuer/keys/EdDSA.json"},
		{"file", &SigningKey{Source: keyFile, File: pemFile}, "ES256", true, ""},
		{"secret", &SigningKey{Source: keySecret, Secret: testSecret}, "HS256", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storage := kv.NewMemory()
			first := provisionIssuer(t, &JWTIssuer{IssuerConfig: IssuerConfig{Users: testUsers(), SigningKey: tt.key}}, storage)
			second := provisionIssuer(t, &JWTIssuer{IssuerConfig: IssuerConfig{Users: testUsers(), SigningKey: tt.key}}, storage)
			a1, _ := pair(t, login(t, first, "", "bob", "bob-pw", ""))
			a2, _ := pair(t, login(t, second, "", "bob", "bob-pw", ""))
			h1, h2 := jwtPart(t, a1, 0), jwtPart(t, a2, 0)
			if h1["alg"] != tt.alg {
				t.Errorf("alg %v, want %s", h1["alg"], tt.alg)
			}
			if _, ok := h1["kid"]; ok != tt.kid {
				t.Errorf("kid present %v, want %v", ok, tt.kid)
			}
			if !reflect.DeepEqual(h1, h2) {
				t.Errorf("two issuers on one storage sign differently: %v, %v", h1, h2)
			}
			stored, _ := storage.List(context.Background(), "gatehouse/issuer/keys", true)
			if want := []string{tt.storageKey}; tt.storageKey != "" && !reflect.DeepEqual(stored, want) {
				t.Errorf("stored keys %v, want %v", stored, want)
			}
			if tt.storageKey == "" && len(stored) != 0 {
				t.Errorf("a configured key was stored: %v", stored)
			}
			jwks := call(t, first, http.MethodGet, "/jwks.json", "", "")
			var set struct{ Keys []map[string]any }
			if err := json.Unmarshal(jwks.Body.Bytes(), &set); err != nil || jwks.Code != http.StatusOK {
				t.Fatalf("jwks.json: %d %s", jwks.Code, jwks.Body)
			}
			if tt.kid && (len(set.Keys) != 1 || set.Keys[0]["kid"] != h1["kid"] || set.Keys[0]["d"] != nil) {
				t.Errorf("jwks.json %s does not publish just the public signing key", jwks.Body)
			}
			if !tt.kid && len(set.Keys) != 0 {
				t.Errorf("jwks.json %s publishes something for an HMAC secret", jwks.Body)
			}
		})
	}
}

// TestIssuerLoginLimit: the limits are per client_ip variable (what Caddy derived, honouring
// trusted_proxies), per (username, client_ip) and per username with a ceiling of 10 times the
// attempts (or per_user), 20 per minute by default, and can be turned off.
func TestIssuerLoginLimit(t *testing.T) {
	t.Run("per client_ip", func(t *testing.T) {
		j := provisionIssuer(t, &JWTIssuer{
			IssuerConfig: IssuerConfig{Users: testUsers(), SigningKey: &SigningKey{Source: keySecret, Secret: testSecret},
				LoginLimit: &LoginLimit{Attempts: 1, Per: caddy.Duration(time.Hour), PerUser: 2},
			},
		}, nil)
		steps := []struct {
			ip, user string
			want     int
		}{
			{"203.0.113.1", "u1", http.StatusUnauthorized},
			{"203.0.113.2", "u2", http.StatusUnauthorized}, // same connection address, other client_ip
			{"203.0.113.1", "u3", http.StatusTooManyRequests},
			{"203.0.113.3", "u1", http.StatusUnauthorized},    // another address: not locked out
			{"203.0.113.4", "u1", http.StatusTooManyRequests}, // the per-user ceiling of 2
		}
		for i, s := range steps {
			rec := login(t, j, "", s.user, "x", s.ip)
			if rec.Code != s.want {
				t.Fatalf("step %d: status %d, want %d; body %s", i, rec.Code, s.want, rec.Body)
			}
			if s.want == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
				t.Errorf("step %d: 429 without Retry-After", i)
			}
		}
	})
	for _, tt := range []struct {
		name     string
		limit    *LoginLimit
		attempts int
		want429  bool
	}{
		{"default allows 20", nil, 20, false},
		{"default refuses the 21st", nil, 21, true},
		{"off", &LoginLimit{Off: true}, 40, false},
		{"custom", &LoginLimit{Attempts: 3, Per: caddy.Duration(time.Minute)}, 4, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := provisionIssuer(t, &JWTIssuer{IssuerConfig: IssuerConfig{Users: testUsers(), SigningKey: &SigningKey{Source: keySecret, Secret: testSecret}, LoginLimit: tt.limit}}, nil)
			var last int
			for i := range tt.attempts {
				last = login(t, j, "", "nobody"+strconv.Itoa(i), "x", "198.51.100.7").Code
			}
			if got := last == http.StatusTooManyRequests; got != tt.want429 {
				t.Errorf("attempt %d: status %d; want 429 %v", tt.attempts, last, tt.want429)
			}
		})
	}
}

// TestIssuerLoginLimitCeiling: the per-username ceiling defaults to 10 times the attempts:
// one failure each from 10 addresses is allowed, the 11th address is refused; other users are
// not (the ceiling is per user).
func TestIssuerLoginLimitCeiling(t *testing.T) {
	j := provisionIssuer(t, &JWTIssuer{
		IssuerConfig: IssuerConfig{Users: testUsers(), SigningKey: &SigningKey{Source: keySecret, Secret: testSecret},
			LoginLimit: &LoginLimit{Attempts: 1, Per: caddy.Duration(time.Hour)},
		},
	}, nil)
	for i := range 10 {
		if rec := login(t, j, "", "alice", "guess", "198.51.100."+strconv.Itoa(i+1)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, rec.Code)
		}
	}
	if rec := login(t, j, "", "alice", "guess", "198.51.100.11"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("11th address: status %d, want 429", rec.Code)
	}
	if rec := login(t, j, "", "bob", "guess", "198.51.100.12"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("another user: status %d, want 401", rec.Code)
	}
}

// TestIssuerUsersFile: users of the file log in, whatever the hash format; a bad line is
// skipped without dropping the others; inline users win over file users.
func TestIssuerUsersFile(t *testing.T) {
	file := writeFile(t, t.TempDir(), "users", []byte("# users\nbob:"+bobHash+"\nbroken line\ncarol:"+carolHash+"\nalice:"+bobHash+"\n"))
	j := provisionIssuer(t, &JWTIssuer{IssuerConfig: IssuerConfig{UsersFile: file, Users: testUsers()[:1], SigningKey: &SigningKey{Source: keySecret, Secret: testSecret}}}, nil)
	for _, tt := range []struct {
		user, password string
		want           int
	}{
		{"bob", "bob-pw", http.StatusOK},
		{"carol", "carol-pw", http.StatusOK},
		{"alice", "alice-pw", http.StatusOK},         // inline
		{"alice", "bob-pw", http.StatusUnauthorized}, // the file's alice does not count
		{"broken line", "x", http.StatusUnauthorized},
	} {
		if rec := login(t, j, "", tt.user, tt.password, ""); rec.Code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.user, rec.Code, tt.want)
		}
	}
}

// TestIssuerCredentialsURL: the app's answer decides (200 claims, 401 no, anything else 503),
// and its claims reach the token.
func TestIssuerCredentialsURL(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&c)
		switch c.Password {
		case "yes":
			_, _ = w.Write([]byte(`{"user_id":12345678901234567890,"email":"` + c.Username + `@example.com"}`))
		case "no":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer app.Close()
	j := provisionIssuer(t, &JWTIssuer{IssuerConfig: IssuerConfig{CredentialsURL: app.URL, SigningKey: &SigningKey{Source: keySecret, Secret: testSecret}}}, nil)

	access, _ := pair(t, login(t, j, "", "dana", "yes", ""))
	c := jwtPart(t, access, 1)
	if c["user_id"] != json.Number("12345678901234567890") || c["email"] != "dana@example.com" {
		t.Errorf("claims %v: the app's claims are not in the token (exactly)", c)
	}
	for pw, want := range map[string]int{"no": http.StatusUnauthorized, "boom": http.StatusServiceUnavailable} {
		if rec := login(t, j, "", "dana", pw, ""); rec.Code != want {
			t.Errorf("app answer for %q: status %d, want %d", pw, rec.Code, want)
		}
	}
}

// TestIssuerCleanup: Cleanup removes the handler from the gatehouse app (a zero-config jwt_auth
// refuses its tokens with no_keys_loaded) and releases its issuer; it may run twice.
func TestIssuerCleanup(t *testing.T) {
	auth := provision(t, &JWTAuth{})
	j := new(JWTIssuer)
	*j = JWTIssuer{IssuerConfig: IssuerConfig{Users: testUsers(), SigningKey: &SigningKey{Source: keySecret, Secret: testSecret}}}
	if err := provisionIssuerIn(j, nil); err != nil {
		t.Fatal(err)
	}
	access, _ := pair(t, login(t, j, "", "bob", "bob-pw", ""))
	if s := serve(auth, bearer(access), nil); !s.nextCalled {
		t.Fatalf("token refused while the issuer is loaded: %s", s.placeholder("http.auth.jwt.error"))
	}
	for range 2 {
		if err := j.Cleanup(); err != nil {
			t.Fatal(err)
		}
	}
	if c := testApp.cores[defaultIssuer]; c != nil {
		t.Errorf("the issuer is still held by the app (%d handlers)", c.refs)
	}
	s := serve(auth, bearer(access), nil)
	if s.nextCalled || s.rec.Code != http.StatusUnauthorized || s.placeholder("http.auth.jwt.error") != "no_keys_loaded" {
		t.Errorf("after Cleanup: next %v, status %d, reason %q", s.nextCalled, s.rec.Code, s.placeholder("http.auth.jwt.error"))
	}
}

// TestIssuerProvisionErrors: configurations that only fail when loaded say what to fix.
func TestIssuerProvisionErrors(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_SHORT", "short")
	dir := t.TempDir()
	public := writeFile(t, dir, "public.pem", pemPublic(t, &testEC(t).PublicKey))
	tests := []struct {
		name string
		j    JWTIssuer
		want string
	}{
		{"unset secret", JWTIssuer{IssuerConfig: IssuerConfig{Users: testUsers(), SigningKey: &SigningKey{Source: keySecret, Secret: "{env.GATEHOUSE_TEST_UNSET}"}}}, "{env.GATEHOUSE_TEST_UNSET}"},
		{"short secret", JWTIssuer{IssuerConfig: IssuerConfig{Users: testUsers(), SigningKey: &SigningKey{Source: keySecret, Secret: "{env.GATEHOUSE_TEST_SHORT}"}}}, "HMAC needs at least 32"},
		{"public key file", JWTIssuer{IssuerConfig: IssuerConfig{Users: testUsers(), SigningKey: &SigningKey{Source: keyFile, File: public}}}, "signing_key file " + public},
		{"missing users file", JWTIssuer{IssuerConfig: IssuerConfig{UsersFile: dir + "/none", SigningKey: &SigningKey{Source: keySecret, Secret: testSecret}}}, "users file"},
		{"bad hash", JWTIssuer{IssuerConfig: IssuerConfig{Users: []IssuerUser{{Name: "eve", Hash: "plaintext"}}}}, "unknown password hash format"},
		{"frequent rotation", JWTIssuer{IssuerConfig: IssuerConfig{Users: testUsers(), RotateKeys: caddy.Duration(10 * time.Minute)}}, "would keep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := tt.j
			err := provisionIssuerIn(&j, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "short\"") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// TestIssuerValidate checks the JSON config errors (the Caddyfile parser has its own test).
func TestIssuerValidate(t *testing.T) {
	secret := &SigningKey{Source: keySecret, Secret: testSecret}
	users := testUsers()
	tests := []struct {
		name string
		j    JWTIssuer
		want string // "" for valid
	}{
		{"minimal", JWTIssuer{IssuerConfig: IssuerConfig{Users: users}}, ""},
		{"no users", JWTIssuer{}, "needs users: set users_file, user or credentials_url"},
		{"credentials_url and users", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, CredentialsURL: "https://app.example/check"}}, "credentials_url cannot be combined"},
		{"credentials_url and users_file", JWTIssuer{IssuerConfig: IssuerConfig{UsersFile: "u", CredentialsURL: "https://app.example/check"}}, "credentials_url cannot be combined"},
		{"credentials_url plain http", JWTIssuer{IssuerConfig: IssuerConfig{CredentialsURL: "http://app.example/check"}}, "credentials_url: the credentials URL must use https"},
		{"login_limit per_user below attempts", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, LoginLimit: &LoginLimit{PerUser: 19}}}, "login_limit per_user 19 is below the 20 attempts"},
		{"login_limit per_user negative", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, LoginLimit: &LoginLimit{Attempts: 2, PerUser: -1}}}, "login_limit per_user -1 is out of range"},
		{"nameless user", JWTIssuer{IssuerConfig: IssuerConfig{Users: []IssuerUser{{Hash: aliceHash}}}}, "user 1 has no name"},
		{"reserved claim", JWTIssuer{IssuerConfig: IssuerConfig{Users: []IssuerUser{{Name: "a", Hash: aliceHash, Claims: map[string]json.RawMessage{"EXP": json.RawMessage("1")}}}}}, "claim EXP is set by the issuer"},
		{"unknown source", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, SigningKey: &SigningKey{Source: "vault"}}}, `signing_key "vault" is unknown`},
		{"auto alg", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, SigningKey: &SigningKey{Source: keyAuto, Alg: "HS256"}}}, `cannot generate "HS256" keys`},
		{"file without path", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, SigningKey: &SigningKey{Source: keyFile}}}, "signing_key file takes the path"},
		{"secret empty", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, SigningKey: &SigningKey{Source: keySecret}}}, "signing_key secret takes the secret"},
		{"rotate with secret", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, SigningKey: secret, RotateKeys: caddy.Duration(time.Hour)}}, "rotate_keys works only with signing_key auto"},
		{"negative rotate", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, RotateKeys: -1}}, "rotate_keys must be a positive duration"},
		{"short access", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, AccessTTL: caddy.Duration(time.Millisecond)}}, "access_ttl 1ms is out of range"},
		{"long refresh", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, RefreshTTL: caddy.Duration(9000 * time.Hour)}}, "refresh_ttl 9000h0m0s is out of range"},
		{"limit window", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, LoginLimit: &LoginLimit{Attempts: 5, Per: caddy.Duration(time.Millisecond)}}}, "login_limit per 1ms is out of range"},
		{"base path slash", JWTIssuer{BasePath: "/api/token/", IssuerConfig: IssuerConfig{Users: users}}, "must be a clean absolute path"},
		{"base path relative", JWTIssuer{BasePath: "api", IssuerConfig: IssuerConfig{Users: users}}, "must be a clean absolute path"},
		{"base path wildcard", JWTIssuer{BasePath: "/api/*", IssuerConfig: IssuerConfig{Users: users}}, "without a trailing slash or wildcards"},
		{"empty audience", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, Audiences: []string{""}}}, "audience must not contain an empty value"},
		{"realm", JWTIssuer{IssuerConfig: IssuerConfig{Users: users, Realm: `a"b`}}, "realm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.j.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
