package integration

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// echoUpstream is an app server on 127.0.0.1 that answers with the request's headers as JSON
// and counts the requests it got.
func echoUpstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(up.Close)
	return up, &hits
}

// upstreamHeaders decodes what echoUpstream saw.
func upstreamHeaders(t *testing.T, resp response) http.Header {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("status = %d, want 200 from the upstream; body %q", resp.Status, resp.Body)
	}
	var h http.Header
	if err := json.Unmarshal([]byte(resp.Body), &h); err != nil {
		t.Fatalf("upstream answer %q: %v", resp.Body, err)
	}
	return h
}

// Claims reach the upstream as headers and placeholders; client-sent copies of the identity
// headers never do, whether the request has a token, has none (optional) or is a preflight.
func TestReverseProxyForwardsClaims(t *testing.T) {
	t.Parallel()
	up, hits := echoUpstream(t)
	upstream := strings.TrimPrefix(up.URL, "http://")
	srv := startCaddy(t, `
	handle /optional/* {
		jwt_auth {
			secret `+testSecret+`
			optional
			forward_claim sub X-User-Id
			forward_claim user_id X-User-Num
		}
		reverse_proxy `+upstream+`
	}
	handle {
		jwt_auth {
			secret `+testSecret+`
			forward_claim sub X-User-Id
			forward_claim user_id X-User-Num
			forward_claim realm.role X-Role
		}
		reverse_proxy `+upstream+` {
			header_up X-Auth-User {http.auth.user.id}
			header_up X-Auth-Groups {http.auth.user.groups}
			header_up X-Auth-Team {http.auth.user.org.team.name}
		}
	}`)

	good := hs256(t, access(jwt.MapClaims{
		"sub":     "alice",
		"user_id": 7,
		"realm":   map[string]any{"role": "editor"},
		"groups":  []any{"staff", "ops"},
		"org":     map[string]any{"team": map[string]any{"name": "blue"}},
	}))

	t.Run("claims as headers and placeholders", func(t *testing.T) {
		h := upstreamHeaders(t, get(t, srv.URL+"/app", bearer(good)))
		want := map[string]string{
			"X-User-Id":     "alice",
			"X-User-Num":    "7",
			"X-Role":        "editor",
			"X-Auth-User":   "alice",
			"X-Auth-Groups": "staff,ops",
			"X-Auth-Team":   "blue",
		}
		for name, value := range want {
			if got := h.Values(name); len(got) != 1 || got[0] != value {
				t.Errorf("upstream %s = %q, want [%q]", name, got, value)
			}
		}
	})

	t.Run("user id from user_id when there is no sub", func(t *testing.T) {
		h := upstreamHeaders(t, get(t, srv.URL+"/app", bearer(hs256(t, access(jwt.MapClaims{"user_id": 42})))))
		if got := h.Get("X-Auth-User"); got != "42" {
			t.Errorf("upstream X-Auth-User = %q, want 42", got)
		}
		if got := h.Values("X-User-Id"); len(got) != 0 {
			t.Errorf("upstream X-User-Id = %q, want none (the token has no sub)", got)
		}
	})

	t.Run("client-sent identity headers are removed", func(t *testing.T) {
		h := upstreamHeaders(t, get(t, srv.URL+"/app", bearer(good),
			"X-User-Id: mallory", "X-User-Id: root", "x-user-num: 0", "X-Role: admin"))
		for name, want := range map[string]string{"X-User-Id": "alice", "X-User-Num": "7", "X-Role": "editor"} {
			if got := h.Values(name); len(got) != 1 || got[0] != want {
				t.Errorf("upstream %s = %q, want [%q]", name, got, want)
			}
		}
	})

	t.Run("client-sent identity headers are removed without a token (optional)", func(t *testing.T) {
		h := upstreamHeaders(t, get(t, srv.URL+"/optional/page", "X-User-Id: mallory", "X-User-Num: 1"))
		for _, name := range []string{"X-User-Id", "X-User-Num"} {
			if got := h.Values(name); len(got) != 0 {
				t.Errorf("upstream %s = %q, want none", name, got)
			}
		}
	})

	t.Run("optional with a token forwards its claims", func(t *testing.T) {
		h := upstreamHeaders(t, get(t, srv.URL+"/optional/page", bearer(good), "X-User-Id: mallory"))
		if got := h.Values("X-User-Id"); len(got) != 1 || got[0] != "alice" {
			t.Errorf("upstream X-User-Id = %q, want [alice]", got)
		}
	})

	t.Run("optional still refuses a bad token", func(t *testing.T) {
		before := hits.Load()
		resp := get(t, srv.URL+"/optional/page", bearer(tamper(good)))
		if resp.Status != http.StatusUnauthorized || resp.Body != bodyInvalid {
			t.Errorf("got %d %q, want 401 %q", resp.Status, resp.Body, bodyInvalid)
		}
		if hits.Load() != before {
			t.Error("the upstream was reached")
		}
	})

	t.Run("client-sent identity headers are removed from an anonymous CORS preflight", func(t *testing.T) {
		h := upstreamHeaders(t, do(t, http.MethodOptions, srv.URL+"/optional/app",
			"Origin: https://app.example", "Access-Control-Request-Method: POST", "X-User-Id: mallory"))
		if got := h.Values("X-User-Id"); len(got) != 0 {
			t.Errorf("upstream X-User-Id = %q, want none", got)
		}
	})

	// Claims that end up in headers must not be able to split them or smuggle bytes.
	unsafe := []struct {
		name   string
		claims jwt.MapClaims
	}{
		{"CR LF in the user id", jwt.MapClaims{"sub": "alice\r\nX-Admin: 1"}},
		{"LF in a forwarded claim", jwt.MapClaims{"sub": "alice", "user_id": "7\nX-Admin: 1"}},
		{"NUL in a nested forwarded claim", jwt.MapClaims{"sub": "alice", "realm": map[string]any{"role": "ed\x00itor"}}},
		{"CR in user_id used as the user id", jwt.MapClaims{"user_id": "7\r"}},
	}
	for _, tt := range unsafe {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			before := hits.Load()
			resp := get(t, srv.URL+"/app", bearer(hs256(t, access(tt.claims))))
			if resp.Status != http.StatusUnauthorized || resp.Body != bodyInvalid {
				t.Errorf("got %d %q, want 401 %q", resp.Status, resp.Body, bodyInvalid)
			}
			if hits.Load() != before {
				t.Error("the upstream was reached")
			}
		})
	}
}
