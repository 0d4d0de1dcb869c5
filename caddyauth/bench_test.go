package caddyauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// benchServe measures ServeHTTP for one request shape. Each iteration gets a fresh replacer, as
// each request does in Caddy (a handler that adds to the replacer would otherwise grow one
// forever); BenchmarkServeHTTP_Baseline is that setup alone, to subtract.
func benchServe(b *testing.B, j *JWTAuth, r *http.Request) {
	benchServeNext(b, j, r, func() {})
}

// benchServeNext is benchServe with a next handler that calls reached.
func benchServeNext(b *testing.B, j *JWTAuth, r *http.Request, reached func()) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := j.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	defer j.Cleanup()
	j.logger = zap.NewNop() // the test logger writes debug lines; Caddy's default level is INFO
	w := httptest.NewRecorder()
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, new(caddyhttp.Server))
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { reached(); return nil })
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.Body.Reset()
		_ = j.ServeHTTP(w, withReplacer(r), next)
	}
}

// withReplacer is r with a new replacer in its context.
func withReplacer(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
}

// BenchmarkServeHTTP_Baseline is the per-iteration setup of benchServe without jwt_auth.
func BenchmarkServeHTTP_Baseline(b *testing.B) {
	w := httptest.NewRecorder()
	r := caddyhttp.PrepareRequest(httptest.NewRequest("GET", "/", nil), caddy.NewReplacer(), w, new(caddyhttp.Server))
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	b.ReportAllocs()
	for b.Loop() {
		_ = next.ServeHTTP(w, withReplacer(r))
	}
}

// BenchmarkServeHTTP_HS256 is the common case: a simplejwt access token, default settings.
func BenchmarkServeHTTP_HS256(b *testing.B) {
	tok := hsToken(`"token_type":"access","iat":1795886825,"jti":"ade5487163b04c179848ad8b20abd158","user_id":1`)
	benchServe(b, &JWTAuth{Secret: testSecret}, bearer(tok))
}

// BenchmarkServeHTTP_HS256Forward adds two forwarded claims and nested claims.
func BenchmarkServeHTTP_HS256Forward(b *testing.B) {
	tok := hsToken(`"sub":"alice","user_id":1,"realm":{"roles":["admin","dev"]},"email":"a@example.com"`)
	benchServe(b, &JWTAuth{Secret: testSecret, ForwardClaims: []ForwardClaim{
		{Claim: "sub", Header: "X-User-Id"}, {Claim: "realm.roles", Header: "X-Roles"},
	}}, bearer(tok))
}

// BenchmarkServeHTTP_Missing is a request without a token (the 401 JSON answer).
func BenchmarkServeHTTP_Missing(b *testing.B) {
	benchServe(b, &JWTAuth{Secret: testSecret}, httptest.NewRequest("GET", "/", nil))
}

// BenchmarkServeHTTP_SessionOIDC is a protected request of a browser logged in through another
// OpenID provider (session oidc): the site's own session cookie, checked locally (no request to
// the provider), with a forwarded claim. Compare with BenchmarkServeHTTP_HS256 (a bearer token)
// and BenchmarkServeHTTP_Baseline.
func BenchmarkServeHTTP_SessionOIDC(b *testing.B) {
	j := &JWTAuth{
		// A loopback issuer that refuses connections: the background discovery fails at once
		// and no request leaves the machine; the session path needs no discovery.
		SessionOIDC:   &OIDCSession{Issuer: "http://127.0.0.1:1", ClientID: "site", ClientSecret: "site-secret-0123456789"},
		ForwardClaims: []ForwardClaim{{Claim: "email", Header: "X-Email"}},
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := j.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	raw, err := j.rp.NewSession("alice", map[string]json.RawMessage{"email": json.RawMessage(`"alice@example.com"`)})
	if err != nil {
		b.Fatal(err)
	}
	_ = j.Cleanup()
	r := httptest.NewRequest("GET", "/private/", nil)
	r.Header.Set("Accept", "text/html")
	r.AddCookie(&http.Cookie{Name: "gatehouse_oidc", Value: raw})
	var admitted bool
	benchServeNext(b, j, r, func() { admitted = true })
	if !admitted {
		b.Fatal("the session cookie was not admitted")
	}
}
