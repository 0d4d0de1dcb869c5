package integration

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Asymmetric keys end to end: an RSA PEM public key, ES256 and EdDSA keys from a JWK Set file;
// each key verifies only its own algorithms, and none is never accepted.
func TestAlgorithmsEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rsaPEM := writePEM(t, dir, "rsa.pem", &rsaKey.PublicKey)
	jwksPath := filepath.Join(dir, "jwks.json")
	writeFile(t, jwksPath, jwks(t, jwkOf(t, "ec-1", &ecKey.PublicKey), jwkOf(t, "ed-1", edPub)))

	srv := startCaddy(t, `
	handle /rsa/* {
		jwt_auth {
			public_key `+rsaPEM+`
		}
		respond "rsa {http.auth.user.id}"
	}
	handle /jwks/* {
		jwt_auth {
			jwks_file `+jwksPath+`
		}
		respond "jwks {http.auth.user.id}"
	}
	handle /rs256-only/* {
		jwt_auth {
			public_key `+rsaPEM+`
			algorithms RS256
		}
		respond "rs256-only {http.auth.user.id}"
	}`)

	claims := access(jwt.MapClaims{"sub": "alice"})
	otherRSA := mustRSA(2048)
	otherEC := mustEC()
	pemBytes := []byte(publicPEM(t, &rsaKey.PublicKey))
	noneToken := b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(`{"sub":"alice","exp":9999999999}`) + "."

	tests := []struct {
		name  string
		path  string
		token string
		want  string // the body on success; "" means the token must be refused with 401
	}{
		{"RS256 with the PEM key", "/rsa/", sign(t, jwt.SigningMethodRS256, rsaKey, claims, nil), "rsa alice"},
		{"RS512 with the PEM key", "/rsa/", sign(t, jwt.SigningMethodRS512, rsaKey, claims, nil), "rsa alice"},
		{"PS256 with the PEM key", "/rsa/", sign(t, jwt.SigningMethodPS256, rsaKey, claims, nil), "rsa alice"},
		{"ES256 from the JWK Set", "/jwks/", sign(t, jwt.SigningMethodES256, ecKey, claims, map[string]any{"kid": "ec-1"}), "jwks alice"},
		{"EdDSA from the JWK Set", "/jwks/", sign(t, jwt.SigningMethodEdDSA, edK, claims, map[string]any{"kid": "ed-1"}), "jwks alice"},
		{"RS256 allowed by algorithms", "/rs256-only/", sign(t, jwt.SigningMethodRS256, rsaKey, claims, nil), "rs256-only alice"},

		{"PS256 outside algorithms", "/rs256-only/", sign(t, jwt.SigningMethodPS256, rsaKey, claims, nil), ""},
		{"key confusion: HS256 signed with the RSA PEM", "/rsa/", sign(t, jwt.SigningMethodHS256, pemBytes, claims, nil), ""},
		{"key confusion: HS256 with the PEM, algorithms RS256", "/rs256-only/", sign(t, jwt.SigningMethodHS256, pemBytes, claims, nil), ""},
		{"alg none", "/rsa/", noneToken, ""},
		{"alg none on a JWK Set", "/jwks/", noneToken, ""},
		{"RS256 by another key", "/rsa/", sign(t, jwt.SigningMethodRS256, otherRSA, claims, nil), ""},
		{"ES256 by another key with a known kid", "/jwks/", sign(t, jwt.SigningMethodES256, otherEC, claims, map[string]any{"kid": "ec-1"}), ""},
		{"ES256 with the kid of the Ed25519 key", "/jwks/", sign(t, jwt.SigningMethodES256, ecKey, claims, map[string]any{"kid": "ed-1"}), ""},
		{"ES256 with an unknown kid", "/jwks/", sign(t, jwt.SigningMethodES256, ecKey, claims, map[string]any{"kid": "nope"}), ""},
		{"ES256 token against the RSA key", "/rsa/", sign(t, jwt.SigningMethodES256, ecKey, claims, nil), ""},
		{"RS256 token against the JWK Set", "/jwks/", sign(t, jwt.SigningMethodRS256, rsaKey, claims, nil), ""},
		{"HS256 token against the JWK Set", "/jwks/", hs256(t, claims), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, srv.URL+tt.path, bearer(tt.token))
			if tt.want != "" {
				if resp.Status != http.StatusOK || resp.Body != tt.want {
					t.Errorf("got %d %q, want 200 %q", resp.Status, resp.Body, tt.want)
				}
				return
			}
			if resp.Status != http.StatusUnauthorized || resp.Body != bodyInvalid {
				t.Errorf("got %d %q, want 401 %q", resp.Status, resp.Body, bodyInvalid)
			}
		})
	}
}
