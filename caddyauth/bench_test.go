package caddyauth

import (
	"context"
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
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := j.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	defer j.Cleanup()
	j.logger = zap.NewNop() // the test logger writes debug lines; Caddy's default level is INFO
	w := httptest.NewRecorder()
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, new(caddyhttp.Server))
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
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
