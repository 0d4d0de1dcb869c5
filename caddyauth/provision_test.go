package caddyauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// TestSecretPlaceholders: {env.X} and {file.path} resolve at provision time; an unset variable or
// a missing file is an error naming it, never an empty key.
func TestSecretPlaceholders(t *testing.T) {
	dir := t.TempDir()
	secretFile := writeFile(t, dir, "secret", []byte(testSecret+"\n"))
	t.Setenv("GATEHOUSE_TEST_SECRET", testSecret)
	t.Setenv("GATEHOUSE_TEST_SHORT", "short")
	tests := []struct {
		secret  string
		wantErr string // "" for success
	}{
		{"{env.GATEHOUSE_TEST_SECRET}", ""},
		{"{file." + secretFile + "}", ""},
		{"{env.GATEHOUSE_TEST_UNSET}", "{env.GATEHOUSE_TEST_UNSET}"},
		{"{file." + filepath.Join(dir, "none") + "}", "none"},
		{"{env.GATEHOUSE_TEST_SHORT}", "HMAC needs at least 32"},
		{"{nonsense.placeholder}", "nonsense.placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.secret, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			j := &JWTAuth{Secret: tt.secret}
			err := provisionIn(ctx, j)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s := serve(j, bearer(hsToken(`"sub":"alice"`)), nil); !s.nextCalled {
					t.Errorf("token refused: %s", s.placeholder("http.auth.jwt.error"))
				}
				if j.Secret != tt.secret {
					t.Error("Provision replaced the configured secret with its value")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "short\"") || strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// TestValidate checks the JSON config errors (the Caddyfile parser has its own test).
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		j    JWTAuth
		want string
	}{
		{"none", JWTAuth{Secret: testSecret, Algorithms: []string{"none"}}, `"none" is never accepted`},
		{"leeway", JWTAuth{Secret: testSecret, Leeway: durationPtr(10 * time.Minute)}, "leeway 10m0s is out of range"},
		{"negative leeway", JWTAuth{Secret: testSecret, Leeway: durationPtr(-1)}, "out of range"},
		{"typ with a space", JWTAuth{Secret: testSecret, Typ: []string{"at jwt"}}, `typ "at jwt" is not a media type`},
		{"empty typ", JWTAuth{Secret: testSecret, Typ: []string{""}}, "typ must not contain an empty value"},
		{"scope of two words", JWTAuth{Secret: testSecret, Require: []Requirement{{Claim: "scope", Values: []string{"a b"}}}}, `require scope: "a b" is not a single scope`},
		{"size", JWTAuth{Secret: testSecret, MaxTokenSize: 1}, "max_token_size 1 is out of range"},
		{"source kind", JWTAuth{Secret: testSecret, Sources: []TokenSource{{From: "body", Name: "t"}}}, `token source "body" is unknown`},
		{"cookie schemes", JWTAuth{Secret: testSecret, Sources: []TokenSource{{From: "cookie", Name: "t", Schemes: []string{"Bearer"}}}}, "schemes are only for headers"},
		{"forward to Authorization", JWTAuth{Secret: testSecret, ForwardClaims: []ForwardClaim{{Claim: "sub", Header: "authorization"}}}, "header Authorization cannot carry a claim"},
		{"forward to token header", JWTAuth{Secret: testSecret, Sources: []TokenSource{{From: "header", Name: "X-Jwt"}},
			ForwardClaims: []ForwardClaim{{Claim: "sub", Header: "X-JWT"}}}, "also a token source"},
		{"empty claim", JWTAuth{Secret: testSecret, ForwardClaims: []ForwardClaim{{Header: "X-A"}}}, "claim name must not be empty"},
		{"require no values", JWTAuth{Secret: testSecret, Require: []Requirement{{Claim: "scope"}}}, "at least one accepted value"},
		{"realm", JWTAuth{Secret: testSecret, Realm: "a\"b"}, "realm"},
		{"http url", JWTAuth{JWKSURLs: []JWKSURL{{URL: "http://10.0.0.1/jwks"}}}, "use https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.j.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestProvisionKeyFiles: PEM and JWKS files are loaded, algorithms restrict them, and a bad file
// fails provisioning with its name.
func TestProvisionKeyFiles(t *testing.T) {
	dir := t.TempDir()
	ec := testEC(t)
	pemPath := writeFile(t, dir, "ec.pem", pemPublic(t, &ec.PublicKey))
	jwksPath := writeFile(t, dir, "jwks.json", ecJWKS(ec, "k1"))
	tok := signES256(t, ec, `{"alg":"ES256","kid":"k1"}`, claims(`"sub":"alice"`))

	for _, j := range []*JWTAuth{{PublicKeys: []string{pemPath}}, {JWKSFiles: []string{jwksPath}}} {
		provision(t, j)
		if s := serve(j, bearer(tok), nil); !s.nextCalled {
			t.Errorf("ES256 token refused: %s", s.placeholder("http.auth.jwt.error"))
		}
	}

	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	for _, tt := range []struct {
		j    *JWTAuth
		want string
	}{
		{&JWTAuth{PublicKeys: []string{pemPath}, Algorithms: []string{"RS256"}}, "no key allows any of the configured algorithms"},
		{&JWTAuth{PublicKeys: []string{filepath.Join(dir, "gone.pem")}}, "public_key " + filepath.Join(dir, "gone.pem") + ": cannot read the file"},
		{&JWTAuth{JWKSFiles: []string{pemPath}}, "jwks_file " + pemPath},
	} {
		if err := provisionIn(ctx, tt.j); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want one containing %q", err, tt.want)
		}
	}
}

// TestRemoteSharedAcrossReloads: a config reload (a second handler provisioned before the first
// is cleaned up) keeps the fetched keys even when the key server is down by then; the last
// Cleanup stops the fetcher and empties the pool.
func TestRemoteSharedAcrossReloads(t *testing.T) {
	ec := testEC(t)
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ecJWKS(ec, "k1"))
	}))
	defer srv.Close()
	tok := signES256(t, ec, `{"alg":"ES256","kid":"k1"}`, claims(`"sub":"alice"`))
	conf := func() *JWTAuth { return &JWTAuth{JWKSURLs: []JWKSURL{{URL: srv.URL + "/jwks"}}} }

	ctx1, cancel1 := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel1()
	old := conf()
	if err := provisionIn(ctx1, old); err != nil {
		t.Fatal(err)
	}
	key := old.remoteKeys[0]
	// Wait for the first fetch (it joins the one in flight, or makes it), so no sleeping is needed.
	pooled(t, key).RefreshFor(context.Background(), "k1")
	if s := serve(old, bearer(tok), nil); !s.nextCalled {
		t.Fatalf("token refused before reload: %s", s.placeholder("http.auth.jwt.error"))
	}

	down.Store(true)
	ctx2, cancel2 := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel2()
	cur := conf()
	if err := provisionIn(ctx2, cur); err != nil {
		t.Fatal(err)
	}
	if n, _ := remotes.References(key); n != 2 {
		t.Errorf("%d references during the reload, want 2", n)
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := old.Cleanup(); err != nil { // Cleanup may run twice
		t.Fatal(err)
	}
	if s := serve(cur, bearer(tok), nil); !s.nextCalled {
		t.Errorf("token refused after reload with the key server down: %s", s.placeholder("http.auth.jwt.error"))
	}

	// A handler that cannot share (another refresh interval) starts from nothing: refused.
	other := &JWTAuth{JWKSURLs: []JWKSURL{{URL: srv.URL + "/jwks", Refresh: caddy.Duration(2 * time.Hour)}}}
	provision(t, other)
	if s := serve(other, bearer(tok), nil); s.nextCalled {
		t.Error("a fresh fetcher with the key server down accepted the token")
	}

	if err := cur.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := remotes.References(key); ok {
		t.Error("the pool still holds the remote after the last Cleanup")
	}
}

// pooled returns the Remote in the pool under key.
func pooled(t *testing.T, key string) *keys.Remote {
	t.Helper()
	var r *keys.Remote
	remotes.Range(func(k, v any) bool {
		if k == key {
			r = v.(pooledRemote).Remote
		}
		return r == nil
	})
	if r == nil {
		t.Fatal("remote not in the pool")
	}
	return r
}

// TestProvisionDefaults: Provision fills in the documented defaults.
func TestProvisionDefaults(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret})
	if j.Realm != "api" || len(j.UserClaims) != 2 || j.UserClaims[0] != "sub" || j.UserClaims[1] != "user_id" ||
		len(j.Sources) != 1 || j.Sources[0].Name != "Authorization" || j.MaxTokenSize != 8192 {
		t.Errorf("defaults: realm %q, user claims %v, sources %v, max size %d", j.Realm, j.UserClaims, j.Sources, j.MaxTokenSize)
	}
}

// TestProvisionErrorSource: Provision's errors start with Source, where the Caddyfile adapter
// saw the directive, and a JSON configuration without it gets the bare message.
func TestProvisionErrorSource(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone.pem")
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	want := "public_key " + missing + ": cannot read the file: no such file or directory"
	err := provisionIn(ctx, &JWTAuth{Source: "Caddyfile:7", PublicKeys: []string{missing}})
	if err == nil || err.Error() != "Caddyfile:7: "+want {
		t.Errorf("with a source: %v, want %q", err, "Caddyfile:7: "+want)
	}
	err = provisionIn(ctx, &JWTAuth{PublicKeys: []string{missing}})
	if err == nil || err.Error() != want {
		t.Errorf("without a source: %v, want %q", err, want)
	}
}

// TestIssuerErrorSource: an issuer's load errors start with the Source of its settings, also
// when another handler serves it (the gatehouse global option's issuer is reported there, not
// at each jwt_issuer serving it); Source is no setting, so two places configuring one issuer
// alike share it.
func TestIssuerErrorSource(t *testing.T) {
	ctx := t.Context()
	storage := kv.NewMemory()
	app := newApp()
	app.Issuers = map[string]*IssuerConfig{"home": {Source: "Caddyfile:2", UsersFile: filepath.Join(t.TempDir(), "none")}}
	_, _, err := app.acquireIssuer(ctx, storage, "home", nil, zap.NewNop())
	if err == nil || !strings.HasPrefix(err.Error(), "Caddyfile:2: ") || !strings.Contains(err.Error(), "cannot open the users file") {
		t.Errorf("global issuer with a missing users file: %v", err)
	}
	// The handler serving it adds its own place only to errors that have none.
	if got := withSource("Caddyfile:12", err); got.Error() != err.Error() {
		t.Errorf("placed twice: %v", got)
	}

	cfg := func(source string) *IssuerConfig {
		return &IssuerConfig{Source: source, Users: testUsers(), SigningKey: &SigningKey{Source: keySecret, Secret: testSecret}}
	}
	first, release1, err := app.acquireIssuer(ctx, storage, "shop", cfg("Caddyfile:3"), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer release1()
	second, release2, err := app.acquireIssuer(ctx, storage, "shop", cfg("Caddyfile:9"), zap.NewNop())
	if err != nil || second != first {
		t.Fatalf("alike settings in two places: %v, shared %v", err, second == first)
	}
	defer release2()
	if j := (&JWTIssuer{Name: "home", IssuerConfig: IssuerConfig{Source: "Caddyfile:5"}}); j.hasSettings() {
		t.Error("a jwt_issuer serving a global issuer counts its source as a setting")
	}
}
