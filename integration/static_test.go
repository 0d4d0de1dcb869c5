package integration

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Static files behind jwt_auth, with the secret read from the environment: the simplejwt-shaped
// refusals and the file for a good token.
func TestStaticFilesBehindJWT(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "report.txt"), "quarterly numbers\n")
	srv := startCaddy(t, `
	root * `+root+`
	jwt_auth {
		secret {env.IT_SECRET}
	}
	file_server`, "IT_SECRET="+testSecret)

	now := time.Now()
	tests := []struct {
		name       string
		headers    []string
		wantStatus int
		wantBody   string
		wantAuth   string // the WWW-Authenticate header, or its prefix when it ends with "..."
	}{
		{
			name:       "no token",
			wantStatus: http.StatusUnauthorized,
			wantBody:   bodyMissing,
			wantAuth:   `Bearer realm="api"`,
		},
		{
			name:       "another scheme counts as no token",
			headers:    []string{"Authorization: Basic YWxpY2U6c2VjcmV0"},
			wantStatus: http.StatusUnauthorized,
			wantBody:   bodyMissing,
			wantAuth:   `Bearer realm="api"`,
		},
		{
			name:       "valid HS256 token",
			headers:    []string{bearer(hs256(t, access(jwt.MapClaims{"user_id": 7})))},
			wantStatus: http.StatusOK,
			wantBody:   "quarterly numbers\n",
		},
		{
			name:       "scheme is case-insensitive",
			headers:    []string{"Authorization: bearer " + hs256(t, access(nil))},
			wantStatus: http.StatusOK,
			wantBody:   "quarterly numbers\n",
		},
		{
			name:       "token without token_type",
			headers:    []string{bearer(hs256(t, jwt.MapClaims{"exp": now.Add(time.Minute).Unix(), "sub": "alice"}))},
			wantStatus: http.StatusOK,
			wantBody:   "quarterly numbers\n",
		},
		{
			name: "expired",
			headers: []string{bearer(hs256(t, access(jwt.MapClaims{
				"iat": now.Add(-10 * time.Minute).Unix(), "exp": now.Add(-5 * time.Minute).Unix()})))},
			wantStatus: http.StatusUnauthorized,
			wantBody:   bodyInvalid,
			wantAuth:   `Bearer realm="api", error="invalid_token", error_description=...`,
		},
		{
			name:       "refresh token",
			headers:    []string{bearer(hs256(t, access(jwt.MapClaims{"token_type": "refresh"})))},
			wantStatus: http.StatusUnauthorized,
			wantBody:   bodyWrongType,
			wantAuth:   `Bearer realm="api", error="invalid_token", error_description=...`,
		},
		{
			name:       "token_type hidden in an array of objects",
			headers:    []string{bearer(hs256(t, access(jwt.MapClaims{"token_type": []any{map[string]any{"t": "refresh"}}})))},
			wantStatus: http.StatusUnauthorized,
			wantBody:   bodyWrongType,
			wantAuth:   `Bearer realm="api", error="invalid_token", error_description=...`,
		},
		{
			name:       "signed with another secret",
			headers:    []string{bearer(sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), access(nil), nil))},
			wantStatus: http.StatusUnauthorized,
			wantBody:   bodyInvalid,
			wantAuth:   `Bearer realm="api", error="invalid_token", error_description=...`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, srv.URL+"/report.txt", tt.headers...)
			if resp.Status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", resp.Status, tt.wantStatus, resp.Body)
			}
			if resp.Body != tt.wantBody {
				t.Errorf("body = %q, want %q", resp.Body, tt.wantBody)
			}
			gotAuth := resp.Header.Get("WWW-Authenticate")
			if prefix, ok := strings.CutSuffix(tt.wantAuth, "..."); ok {
				if !strings.HasPrefix(gotAuth, prefix) {
					t.Errorf("WWW-Authenticate = %q, want prefix %q", gotAuth, prefix)
				}
			} else if gotAuth != tt.wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", gotAuth, tt.wantAuth)
			}
			if tt.wantStatus != http.StatusOK {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
			}
		})
	}
}
