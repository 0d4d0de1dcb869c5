package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Configuration mistakes are caught by `caddy adapt`, with the Caddyfile line and a hint, and
// without echoing the secret; those in files and placeholders by `caddy validate`, at the line of
// the directive.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	weakRSA := writePEM(t, dir, "rsa1024.pem", &mustRSA(1024).PublicKey)
	notPEM := filepath.Join(dir, "not.pem")
	writeFile(t, notPEM, "this is not a PEM file\n")
	badJWKS := filepath.Join(dir, "bad.json")
	writeFile(t, badJWKS, `{"keys":[{"kty":"RSA","n":"AQAB"}]`)
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name    string
		line    string   // the offending subdirective, placed on line 3 of the Caddyfile
		wantOut []string // what the error must mention besides the line
	}{
		{"short secret", "secret 0123456789abcdef", []string{"32"}},
		{"algorithm none", "algorithms none", []string{"none"}},
		{"unknown algorithm", "algorithms HS257", []string{"HS257"}},
		{"leeway over 5m", "leeway 10m", []string{"5m"}},
		{"plain http JWKS URL to a remote host", "jwks_url http://issuer.example/jwks.json", []string{"https"}},
		{"unknown subdirective", "frobnicate yes", []string{"frobnicate"}},
		{"forward_claim without a header", "forward_claim sub", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			caddyfile := fmt.Sprintf("http://:8080 {\n\tjwt_auth {\n\t\t%s\n\t\tsecret %s\n\t}\n\trespond ok\n}\n", tt.line, testSecret)
			out, code := adaptCaddyfile(t, caddyfile)
			if code == 0 {
				t.Fatalf("caddy adapt succeeded, want an error; output:\n%s", out)
			}
			requireContains(t, "output", out, append([]string{"Caddyfile:3"}, tt.wantOut...)...)
			if strings.Contains(out, "0123456789abcdef") {
				t.Errorf("the output echoes the secret:\n%s", out)
			}
		})
	}

	// Mistakes only visible in the files and the environment are caught when the config is
	// loaded, which `caddy validate` does, at the directive's line (`caddy adapt` reads
	// neither; see also TestValidateReportsMissingFilesAtDirective). (A jwt_auth without keys
	// is valid: it trusts the jwt_issuer of the same Caddy; see TestIssuerZeroConfigAcrossReloads.)
	site := func(line string) string {
		return "http://:8080 {\n\tjwt_auth {\n\t\t" + line + "\n\t}\n\trespond ok\n}\n"
	}
	provisionTests := []struct {
		name      string
		caddyfile string
		env       []string
		wantOut   []string
	}{
		{"short secret from the environment", site("secret {env.IT_SHORT}"), []string{"IT_SHORT=0123456789abcdef"}, []string{"Caddyfile:2: ", "32"}},
		{"unset secret variable", site("secret {env.IT_UNSET_SECRET}"), nil, []string{"Caddyfile:2: ", "IT_UNSET_SECRET"}},
		{"RSA-1024 public key", site("public_key " + weakRSA), nil, []string{"Caddyfile:2: ", "2048"}},
		{"missing public key file", site("public_key " + missing), nil, []string{"Caddyfile:2: ", missing}},
		{"file that is not PEM", site("public_key " + notPEM), nil, []string{"Caddyfile:2: ", "PEM"}},
		{"missing JWKS file", site("jwks_file " + missing), nil, []string{"Caddyfile:2: ", missing}},
		{"malformed JWKS file", site("jwks_file " + badJWKS), nil, []string{"Caddyfile:2: ", "jwks_file " + badJWKS}},
	}
	for _, tt := range provisionTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, code := caddyCommand(t, "validate", tt.caddyfile, tt.env...)
			if code == 0 {
				t.Fatalf("caddy validate succeeded, want an error; output:\n%s", out)
			}
			requireContains(t, "output", out, tt.wantOut...)
			if strings.Contains(out, "0123456789abcdef") {
				t.Errorf("the output echoes the secret:\n%s", out)
			}
		})
	}

	t.Run("valid config adapts", func(t *testing.T) {
		t.Parallel()
		out, code := adaptCaddyfile(t, "http://:8080 {\n\tjwt_auth {\n\t\tsecret {env.JWT_SECRET}\n\t\tforward_claim user_id X-User-Id\n\t}\n\trespond ok\n}\n")
		if code != 0 {
			t.Fatalf("caddy adapt failed with %d:\n%s", code, out)
		}
		requireContains(t, "output", out, `"handler":"jwt_auth"`, `"secret":"{env.JWT_SECRET}"`, `"header":"X-User-Id"`)
	})
}
