package caddyauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

const (
	wantMissing   = `{"detail":"Authentication credentials were not provided."}`
	wantInvalid   = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`
	wantWrongType = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}`
	wantMultiple  = `{"detail":"Send the token in one place only.","code":"invalid_request"}`
	wantForbidden = `{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`
)

// TestRefusals checks status, WWW-Authenticate, body and the error placeholders of every kind of
// refusal, and that next is never called.
func TestRefusals(t *testing.T) {
	j := provision(t, &JWTAuth{
		Secret:  testSecret,
		Require: []Requirement{{Claim: "scope", Values: []string{"read"}}},
	})
	badSig := hsToken(`"sub":"alice","scope":"read"`)
	badSig = badSig[:strings.LastIndexByte(badSig, '.')+1] + b64.EncodeToString(make([]byte, 32))
	twice := bearer(hsToken(`"sub":"alice","scope":"read"`))
	twice.Header.Add("Authorization", "Bearer "+hsToken(`"sub":"bob","scope":"read"`))

	tests := []struct {
		name       string
		req        *http.Request
		status     int
		challenge  string // exact, or a prefix when it ends in error_description="
		body       string
		wantReason verify.Reason
	}{
		{"missing", httptest.NewRequest("GET", "/", nil), 401, `Bearer realm="api"`, wantMissing, verify.ReasonMissing},
		{"wrong scheme counts as missing", func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Basic YWxpY2U6cHc=")
			return r
		}(), 401, `Bearer realm="api"`, wantMissing, verify.ReasonMissing},
		{"garbage", bearer("not-a-token"), 401, `Bearer realm="api", error="invalid_token", error_description="`, wantInvalid, verify.ReasonMalformed},
		{"bad signature", bearer(badSig), 401, `Bearer realm="api", error="invalid_token", error_description="`, wantInvalid, verify.ReasonSignature},
		{"expired", bearer(signHS256(testSecret, `{"alg":"HS256"}`, `{"exp":1000000000,"sub":"alice","scope":"read"}`)),
			401, `Bearer realm="api", error="invalid_token", error_description="`, wantInvalid, verify.ReasonExpired},
		{"refresh token", bearer(hsToken(`"sub":"alice","scope":"read","token_type":"refresh"`)),
			401, `Bearer realm="api", error="invalid_token", error_description="`, wantWrongType, verify.ReasonTokenType},
		{"require unmet", bearer(hsToken(`"sub":"alice","scope":"write"`)), 403, `Bearer realm="api", error="insufficient_scope"`, wantForbidden, verify.ReasonScope},
		{"two tokens", twice, 400, `Bearer realm="api", error="invalid_request"`, wantMultiple, verify.ReasonMultiple},
		{"unsafe user id", bearer(hsToken(`"sub":"alice\r\nX-Admin: 1","scope":"read"`)),
			401, `Bearer realm="api", error="invalid_token", error_description="`, wantInvalid, verify.ReasonUnsafeClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(j, tt.req, nil)
			if s.err != nil {
				t.Fatalf("ServeHTTP error %v; want the response written", s.err)
			}
			if s.nextCalled {
				t.Fatal("next was called")
			}
			if s.rec.Code != tt.status {
				t.Errorf("status %d, want %d", s.rec.Code, tt.status)
			}
			if got := s.rec.Body.String(); got != tt.body {
				t.Errorf("body\n%s\nwant\n%s", got, tt.body)
			}
			if ct := s.rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			reason := s.placeholder("http.auth.jwt.error")
			if reason != string(tt.wantReason) {
				t.Errorf("{http.auth.jwt.error} = %q, want %q", reason, tt.wantReason)
			}
			desc := s.placeholder("http.auth.jwt.error_description")
			if desc == "" {
				t.Error("{http.auth.jwt.error_description} is empty")
			}
			ch := s.rec.Header().Get("WWW-Authenticate")
			if strings.HasSuffix(tt.challenge, `error_description="`) {
				if want := tt.challenge + verify.Quotable(desc) + `"`; ch != want {
					t.Errorf("WWW-Authenticate %q, want %q", ch, want)
				}
			} else if ch != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", ch, tt.challenge)
			}
			if strings.ContainsAny(ch, "\r\n") || strings.Contains(ch, "alice") {
				t.Errorf("WWW-Authenticate %q carries token content", ch)
			}
		})
	}
}

// TestSuccess checks the placeholders and forwarded headers of an accepted token.
func TestSuccess(t *testing.T) {
	j := provision(t, &JWTAuth{
		Secret:        testSecret,
		ForwardClaims: []ForwardClaim{{Claim: "sub", Header: "x-user-id"}, {Claim: "realm.roles", Header: "X-Roles"}},
	})
	tok := hsToken(`"sub":"alice","user_id":7,"email":"a@example.com","realm":{"roles":["admin","dev"],"level":2},"id":"mallory"`)
	r := bearer(tok)
	r.Header.Set("X-User-Id", "root") // spoofed
	r.Header.Add("X-User-Id", "root2")
	s := serve(j, r, nil)
	if s.err != nil || !s.nextCalled {
		t.Fatalf("err %v, next called %v; want the request passed on", s.err, s.nextCalled)
	}
	for name, want := range map[string]string{
		"http.auth.user.id":          "alice",
		"http.auth.user.sub":         "alice",
		"http.auth.user.user_id":     "7",
		"http.auth.user.email":       "a@example.com",
		"http.auth.user.realm.roles": "admin,dev",
		"http.auth.user.realm.level": "2",
	} {
		if got := s.placeholder(name); got != want {
			t.Errorf("{%s} = %q, want %q", name, got, want)
		}
	}
	if got := s.nextHeader.Values("X-User-Id"); len(got) != 1 || got[0] != "alice" {
		t.Errorf("X-User-Id %q, want [alice] (the client's copies deleted)", got)
	}
	if got := s.nextHeader.Get("X-Roles"); got != "admin,dev" {
		t.Errorf("X-Roles %q, want admin,dev", got)
	}
	if s.placeholder("http.auth.jwt.error") != "" {
		t.Error("error placeholder set on success")
	}
}

// TestUserID checks the user_claim order and that a claim named "id" never becomes the user id.
func TestUserID(t *testing.T) {
	tests := []struct {
		name       string
		userClaims []string
		claims     string
		want       string
	}{
		{"sub first", nil, `"sub":"alice","user_id":7`, "alice"},
		{"user_id when no sub", nil, `"user_id":7`, "7"},
		{"null sub skipped", nil, `"sub":null,"user_id":7`, "7"},
		{"claim named id is not the user id", nil, `"id":"mallory"`, ""},
		{"configured order", []string{"email", "sub"}, `"sub":"alice","email":"a@example.com"`, "a@example.com"},
		{"nested", []string{"user.name"}, `"user":{"name":"bob"}`, "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := provision(t, &JWTAuth{Secret: testSecret, UserClaims: tt.userClaims})
			s := serve(j, bearer(hsToken(tt.claims)), nil)
			if !s.nextCalled {
				t.Fatalf("refused: %s", s.placeholder("http.auth.jwt.error"))
			}
			if got := s.placeholder("http.auth.user.id"); got != tt.want {
				t.Errorf("{http.auth.user.id} = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestForwardHeaderAlwaysDeleted checks that a client-sent forward_claim header never reaches
// next (or stays on the request) whatever the outcome.
func TestForwardHeaderAlwaysDeleted(t *testing.T) {
	strict := provision(t, &JWTAuth{Secret: testSecret, ForwardClaims: []ForwardClaim{{Claim: "sub", Header: "X-User-Id"}}})
	optional := provision(t, &JWTAuth{Secret: testSecret, Optional: true, ForwardClaims: []ForwardClaim{{Claim: "sub", Header: "X-User-Id"}}})
	preflight := func() *http.Request {
		r := httptest.NewRequest(http.MethodOptions, "/api/x", nil)
		r.Header.Set("Origin", "https://app.example")
		r.Header.Set("Access-Control-Request-Method", "POST")
		return r
	}
	tests := []struct {
		name     string
		j        *JWTAuth
		req      *http.Request
		wantNext bool
	}{
		{"refused", strict, httptest.NewRequest("GET", "/", nil), false},
		{"bad token", strict, bearer("x.y.z"), false},
		{"valid token without the claim", strict, bearer(hsToken(`"user_id":7`)), true},
		{"anonymous", optional, httptest.NewRequest("GET", "/", nil), true},
		{"preflight", strict, preflight(), false},
		{"preflight passed through", provision(t, &JWTAuth{Secret: testSecret, CORS: &CORS{Passthrough: true},
			ForwardClaims: []ForwardClaim{{Claim: "sub", Header: "X-User-Id"}}}), preflight(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Header.Set("x-user-id", "admin")
			s := serve(tt.j, tt.req, nil)
			if s.nextCalled != tt.wantNext {
				t.Fatalf("next called %v, want %v", s.nextCalled, tt.wantNext)
			}
			if s.nextCalled && s.nextHeader.Get("X-User-Id") != "" {
				t.Errorf("next saw X-User-Id %q", s.nextHeader.Get("X-User-Id"))
			}
			if v := tt.req.Header.Get("X-User-Id"); v != "" {
				t.Errorf("request still has X-User-Id %q", v)
			}
		})
	}
}

// TestOptional: no token passes anonymously (no user placeholders); a bad token is still refused.
func TestOptional(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret, Optional: true})

	s := serve(j, httptest.NewRequest("GET", "/", nil), nil)
	if !s.nextCalled || s.err != nil {
		t.Fatalf("anonymous request: next %v err %v", s.nextCalled, s.err)
	}
	if id := s.placeholder("http.auth.user.id"); id != "" {
		t.Errorf("anonymous {http.auth.user.id} = %q", id)
	}

	s = serve(j, bearer("garbage"), nil)
	if s.nextCalled || s.rec.Code != 401 || s.rec.Body.String() != wantInvalid {
		t.Errorf("bad token with optional: next %v, status %d, body %s", s.nextCalled, s.rec.Code, s.rec.Body)
	}

	s = serve(j, bearer(hsToken(`"sub":"alice"`)), nil)
	if !s.nextCalled || s.placeholder("http.auth.user.id") != "alice" {
		t.Errorf("good token with optional: next %v, id %q", s.nextCalled, s.placeholder("http.auth.user.id"))
	}
}

// TestPreflight: without a cors setting a CORS preflight needs a token like any request (the
// review found it passing unauthenticated, body included); with cors origins jwt_auth answers it
// itself and never calls next; with cors passthrough only a bodiless preflight goes on, stripped
// of credentials.
func TestPreflight(t *testing.T) {
	plain := provision(t, &JWTAuth{Secret: testSecret})
	answering := provision(t, &JWTAuth{Secret: testSecret, CORS: &CORS{Origins: []string{"https://a.example"}}})
	passing := provision(t, &JWTAuth{Secret: testSecret, CORS: &CORS{Passthrough: true}})
	preflight := func(origin, body string) *http.Request {
		r := httptest.NewRequest("OPTIONS", "/api/x", strings.NewReader(body))
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "PUT")
		r.Header.Set("Authorization", "Bearer not-verified")
		r.Header.Set("Cookie", "session=x")
		return r
	}
	tests := []struct {
		name       string
		j          *JWTAuth
		req        *http.Request
		wantNext   bool
		wantStatus int
		wantACAO   string
	}{
		{"no cors: preflight refused", plain, preflight("https://a.example", ""), false, 401, ""},
		{"no cors: preflight with a body refused", plain, preflight("https://a.example", `{"x":1}`), false, 401, ""},
		{"cors origins: allowed preflight answered", answering, preflight("https://a.example", ""), false, 204, "https://a.example"},
		{"cors origins: other origin refused", answering, preflight("https://b.example", ""), false, 403, ""},
		{"cors origins: OPTIONS that is no preflight needs a token", answering, httptest.NewRequest("OPTIONS", "/api/x", nil), false, 401, ""},
		{"passthrough: bodiless preflight goes on", passing, preflight("https://a.example", ""), true, 204, ""},
		{"passthrough: preflight with a body refused", passing, preflight("https://a.example", `{"x":1}`), false, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(tt.j, tt.req, nil)
			if s.nextCalled != tt.wantNext || s.rec.Code != tt.wantStatus {
				t.Fatalf("next called %v, status %d; want %v, %d", s.nextCalled, s.rec.Code, tt.wantNext, tt.wantStatus)
			}
			if got := s.rec.Header().Get("Access-Control-Allow-Origin"); got != tt.wantACAO {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tt.wantACAO)
			}
			if s.nextCalled && (s.nextHeader.Get("Authorization") != "" || s.nextHeader.Get("Cookie") != "") {
				t.Errorf("a passed-through preflight kept credentials: %v", s.nextHeader)
			}
		})
	}

	// An allowed origin's ordinary request is marked, refusals included, so the page can read
	// the 401 and log in again.
	r := httptest.NewRequest("GET", "/api/x", nil)
	r.Header.Set("Origin", "https://a.example")
	s := serve(answering, r, nil)
	if s.rec.Code != 401 || s.rec.Header().Get("Access-Control-Allow-Origin") != "https://a.example" {
		t.Errorf("refusal to an allowed origin: %d %v", s.rec.Code, s.rec.Header())
	}
}

// TestHandleErrors: with handle_errors routes, the handler returns a HandlerError with the status,
// sets the challenge and the placeholders, and writes no body.
func TestHandleErrors(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret, Require: []Requirement{{Claim: "scope", Values: []string{"read"}}}})
	srv := &caddyhttp.Server{Errors: &caddyhttp.HTTPErrorConfig{Routes: caddyhttp.RouteList{{}}}}
	twice := bearer(hsToken(`"scope":"read"`))
	twice.Header.Add("Authorization", "Bearer x")
	tests := []struct {
		name      string
		req       *http.Request
		status    int
		reason    verify.Reason
		challenge string
	}{
		{"missing", httptest.NewRequest("GET", "/", nil), 401, verify.ReasonMissing, `Bearer realm="api"`},
		{"expired", bearer(signHS256(testSecret, `{"alg":"HS256"}`, `{"exp":1000000000,"scope":"read"}`)), 401, verify.ReasonExpired, `Bearer realm="api", error="invalid_token"`},
		{"forbidden", bearer(hsToken(`"scope":"none"`)), 403, verify.ReasonScope, `Bearer realm="api", error="insufficient_scope"`},
		{"two tokens", twice, 400, verify.ReasonMultiple, `Bearer realm="api", error="invalid_request"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(j, tt.req, srv)
			var he caddyhttp.HandlerError
			if !errors.As(s.err, &he) {
				t.Fatalf("error %v (%T), want a caddyhttp.HandlerError", s.err, s.err)
			}
			if he.StatusCode != tt.status {
				t.Errorf("status %d, want %d", he.StatusCode, tt.status)
			}
			var ve *verify.Error
			if !errors.As(he.Err, &ve) || ve.Reason != tt.reason {
				t.Errorf("wrapped error %v, want reason %s", he.Err, tt.reason)
			}
			if s.placeholder("http.auth.jwt.error") != string(tt.reason) {
				t.Errorf("{http.auth.jwt.error} = %q", s.placeholder("http.auth.jwt.error"))
			}
			if ch := s.rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(ch, tt.challenge) {
				t.Errorf("WWW-Authenticate %q, want prefix %q", ch, tt.challenge)
			}
			if s.rec.Body.Len() != 0 || s.nextCalled {
				t.Errorf("wrote body %q / called next %v", s.rec.Body, s.nextCalled)
			}
		})
	}
}

// TestRealm: a configured realm appears in every challenge.
func TestRealm(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret, Realm: "shop"})
	s := serve(j, httptest.NewRequest("GET", "/", nil), nil)
	if ch := s.rec.Header().Get("WWW-Authenticate"); ch != `Bearer realm="shop"` {
		t.Errorf("WWW-Authenticate %q", ch)
	}
}

// TestSources: configured sources replace the default Authorization header.
func TestSources(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret, Sources: []TokenSource{{From: "cookie", Name: "access"}}})
	tok := hsToken(`"sub":"alice"`)

	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "access", Value: tok})
	if s := serve(j, r, nil); !s.nextCalled {
		t.Errorf("cookie token refused: %s", s.placeholder("http.auth.jwt.error"))
	}
	if s := serve(j, bearer(tok), nil); s.nextCalled {
		t.Error("Authorization header accepted though only the cookie is configured")
	}
}

func TestForwardedHeaderAliases(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret, ForwardClaims: []ForwardClaim{{Claim: "sub", Header: "X-User-Id"}}})
	r := bearer(hsToken(""))
	for _, name := range []string{"X_User_Id", "x_user_id", "X-User_Id", "X_USER-ID"} {
		r.Header[name] = []string{"999"}
	}
	r.Header["X_User_Ids"] = []string{"kept"}
	r.Header["X_Other"] = []string{"kept"}
	got := serve(j, r, nil)
	if !got.nextCalled {
		t.Fatalf("status %d", got.rec.Code)
	}
	for name, v := range got.nextHeader {
		if strings.EqualFold(strings.ReplaceAll(name, "_", "-"), "X-User-Id") && name != "X-User-Id" {
			t.Errorf("the alias %s: %q reached the upstream", name, v)
		}
	}
	if got.nextHeader.Get("X-User-Id") == "999" || got.nextHeader["X_User_Ids"] == nil || got.nextHeader["X_Other"] == nil {
		t.Errorf("upstream headers %v", got.nextHeader)
	}
}

func TestPlaceholderControlCharacters(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret})
	got := serve(j, bearer(hsToken(`"sub":"7","note":"a\r\nX-Admin: yes","nul":"a\u0000b","tab":"a\tb","plain":"ok"`)), nil)
	if !got.nextCalled {
		t.Fatalf("status %d", got.rec.Code)
	}
	for name, want := range map[string]string{
		"http.auth.user.note":  "", // CR LF: not handed out, so no header_up can break on it
		"http.auth.user.nul":   "",
		"http.auth.user.tab":   "a\tb",
		"http.auth.user.plain": "ok",
		"http.auth.user.id":    "7",
	} {
		if v := got.placeholder(name); v != want {
			t.Errorf("{%s} = %q, want %q", name, v, want)
		}
	}
}
