package keys

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestFromSecret(t *testing.T) {
	tests := []struct {
		name    string
		secret  []byte
		algs    []string
		wantErr string
	}{
		{"empty", nil, nil, "secret is 0 bytes; HMAC needs at least 32 (generate one with: openssl rand -base64 48)"},
		{"31 bytes", bytes.Repeat([]byte("a"), 31), nil, "secret is 31 bytes; HMAC needs at least 32"},
		{"32 bytes", bytes.Repeat([]byte("a"), 32), []string{"HS256"}, ""},
		{"47 bytes", bytes.Repeat([]byte("a"), 47), []string{"HS256"}, ""},
		{"48 bytes", bytes.Repeat([]byte("a"), 48), []string{"HS256", "HS384"}, ""},
		{"63 bytes", bytes.Repeat([]byte("a"), 63), []string{"HS256", "HS384"}, ""},
		{"64 bytes", bytes.Repeat([]byte("a"), 64), []string{"HS256", "HS384", "HS512"}, ""},
		{"PEM public key as secret", spkiPEM(t, &testRSA(t, 2048).PublicKey), nil, "secret looks like a PEM key; use public_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := FromSecret(tt.secret, "secret")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if k != nil {
					t.Fatal("key returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(k.Algs, tt.algs) {
				t.Errorf("Algs = %v, want %v", k.Algs, tt.algs)
			}
			if k.ID != "" || k.Origin != "secret" {
				t.Errorf("ID = %q, Origin = %q", k.ID, k.Origin)
			}
			if !bytes.Equal(k.Public.([]byte), tt.secret) {
				t.Error("Public is not the secret")
			}
		})
	}
}

// The key keeps its own copy: changing the caller's buffer afterwards must not change the key.
func TestFromSecretCopies(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 32)
	k, err := FromSecret(secret, "")
	if err != nil {
		t.Fatal(err)
	}
	sig := sign(t, "HS256", bytes.Clone(secret), testSigningInput)
	secret[0] = 'x'
	if err := k.Verify("HS256", testSigningInput, sig); err != nil {
		t.Fatalf("Verify after the caller changed its buffer: %v", err)
	}
}
