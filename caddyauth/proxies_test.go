package caddyauth

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestWarnLenientProxies: with login_limit on, a request through a trusted proxy of a server
// without trusted_proxies_strict makes jwt_issuer warn, once; a request from an untrusted
// address tells nothing yet; strict mode or limits off never warn.
func TestWarnLenientProxies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		srv   *caddyhttp.Server
		limit *LoginLimit
		warns int
	}{
		{"not strict", &caddyhttp.Server{}, nil, 1},
		{"explicit limit", &caddyhttp.Server{}, &LoginLimit{Attempts: 5}, 1},
		{"custom client IP header", &caddyhttp.Server{ClientIPHeaders: []string{"X-Real-IP"}}, nil, 1},
		{"strict", &caddyhttp.Server{TrustedProxiesStrict: 1}, nil, 0},
		{"limits off", &caddyhttp.Server{}, &LoginLimit{Off: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.WarnLevel)
			j := &JWTIssuer{core: &issuerCore{cfg: &IssuerConfig{LoginLimit: tc.limit}}, logger: zap.New(core)}
			for _, trusted := range []bool{false, false, true, true, false, true} {
				r := caddyhttp.PrepareRequest(httptest.NewRequest(http.MethodPost, "/api/token/", nil), caddy.NewReplacer(), httptest.NewRecorder(), tc.srv)
				caddyhttp.SetVar(r.Context(), caddyhttp.TrustedProxyVarKey, trusted)
				j.warnLenientProxies(r)
			}
			if n := logs.FilterMessageSnippet("trusted_proxies_strict").Len(); n != tc.warns || logs.Len() != tc.warns {
				t.Errorf("%d warnings (%d about trusted_proxies_strict), want %d", logs.Len(), n, tc.warns)
			}
		})
	}

	t.Run("untrusted requests only", func(t *testing.T) {
		core, logs := observer.New(zapcore.WarnLevel)
		j := &JWTIssuer{core: &issuerCore{cfg: &IssuerConfig{}}, logger: zap.New(core)}
		r := caddyhttp.PrepareRequest(httptest.NewRequest(http.MethodPost, "/api/token/", nil), caddy.NewReplacer(), httptest.NewRecorder(), &caddyhttp.Server{})
		j.warnLenientProxies(r)
		if logs.Len() != 0 || atomic.LoadUint32(&j.proxiesChecked) != 0 {
			t.Errorf("a request from an untrusted address warned (%d) or ended the check", logs.Len())
		}
	})
}
