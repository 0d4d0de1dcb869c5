package keys

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheckAlgorithms(t *testing.T) {
	tests := []struct {
		algs    []string
		wantErr string
	}{
		{nil, ""},
		{[]string{"HS256", "RS256", "PS512", "ES384", "EdDSA"}, ""},
		{[]string{"Ed25519"}, ""}, // RFC 9864
		{[]string{"ed25519"}, `unknown algorithm "ed25519"`},
		{[]string{"Ed448"}, `unknown algorithm "Ed448"`},
		{[]string{"none"}, `"none" is never accepted`},
		{[]string{"RS256", "NoNe"}, `"none" is never accepted`},
		{[]string{"NONE"}, `"none" is never accepted`},
		{[]string{"hs256"}, `unknown algorithm "hs256"; supported (case-sensitive): HS256, HS384, HS512, RS256`},
		{[]string{"HS257"}, `unknown algorithm "HS257"`},
		{[]string{"ES256K"}, `unknown algorithm "ES256K"`},
		{[]string{""}, `unknown algorithm ""`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.algs, ","), func(t *testing.T) {
			err := CheckAlgorithms(tt.algs)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRestrict(t *testing.T) {
	hmacKey := &Key{ID: "h", Algs: []string{"HS256", "HS384", "HS512"}, Public: make([]byte, 64)}
	rsaKey := &Key{ID: "r", Algs: append([]string(nil), rsaAlgs...), Public: &testRSA(t, 2048).PublicKey}
	edKey := &Key{ID: "e", Algs: []string{"EdDSA"}, Public: testEd(t).Public()}
	all := []*Key{hmacKey, rsaKey, edKey}

	tests := []struct {
		name    string
		allowed []string
		want    map[string][]string // kid -> algs, in order
		wantErr string
	}{
		{"empty allow-list is a no-op", nil, map[string][]string{"h": hmacKey.Algs, "r": rsaKey.Algs, "e": {"EdDSA"}}, ""},
		{"narrow", []string{"RS256", "HS512"}, map[string][]string{"h": {"HS512"}, "r": {"RS256"}}, ""},
		{"keep whole", []string{"EdDSA"}, map[string][]string{"e": {"EdDSA"}}, ""},
		{"Ed25519 admits an EdDSA key", []string{"Ed25519"}, map[string][]string{"e": {"EdDSA"}}, ""},
		{"nothing left", []string{"ES256"}, nil, "no key allows any of the configured algorithms (ES256); the keys support: HS256, HS384, HS512, RS256"},
		{"none refused", []string{"none"}, nil, `"none" is never accepted`},
		{"unknown refused", []string{"RS256", "XS256"}, nil, `unknown algorithm "XS256"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Restrict(all, tt.allowed)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d keys, want %d", len(got), len(tt.want))
			}
			for _, k := range got {
				if !slices.Equal(k.Algs, tt.want[k.ID]) {
					t.Errorf("key %s: Algs = %v, want %v", k.ID, k.Algs, tt.want[k.ID])
				}
			}
		})
	}
	// The input keys are never modified.
	if len(hmacKey.Algs) != 3 || len(rsaKey.Algs) != 6 {
		t.Errorf("Restrict modified its input: %v %v", hmacKey.Algs, rsaKey.Algs)
	}
}

// EdDSA and Ed25519 name one algorithm for our keys: an allow-list entry of either admits both
// spellings, a key of either admits tokens of both, and no other name is folded.
func TestEd25519Alias(t *testing.T) {
	for _, tt := range []struct {
		list []string
		alg  string
		want bool
	}{
		{[]string{"EdDSA"}, "EdDSA", true},
		{[]string{"EdDSA"}, "Ed25519", true},
		{[]string{"Ed25519"}, "EdDSA", true},
		{[]string{"Ed25519"}, "Ed25519", true},
		{[]string{"RS256", "Ed25519"}, "EdDSA", true},
		{[]string{"EdDSA"}, "ed25519", false},
		{[]string{"EdDSA"}, "Ed448", false},
		{[]string{"EdDSA"}, "eddsa", false},
		{[]string{"RS256"}, "Ed25519", false},
		{[]string{"RS256"}, "PS256", false},
		{nil, "EdDSA", false},
	} {
		if got := Permitted(tt.list, tt.alg); got != tt.want {
			t.Errorf("Permitted(%v, %q) = %v, want %v", tt.list, tt.alg, got, tt.want)
		}
	}
	priv := testEd(t)
	for _, algs := range [][]string{{"EdDSA"}, {"Ed25519"}} {
		k := &Key{Algs: algs, Public: priv.Public()}
		for _, alg := range []string{"EdDSA", "Ed25519"} {
			if err := k.Verify(alg, testSigningInput, sign(t, alg, priv, testSigningInput)); err != nil {
				t.Errorf("key %v, token alg %s: %v", algs, alg, err)
			}
		}
		if err := k.Verify("Ed448", testSigningInput, sign(t, "EdDSA", priv, testSigningInput)); !errors.Is(err, ErrAlgorithm) {
			t.Errorf("key %v, alg Ed448: err = %v, want ErrAlgorithm", algs, err)
		}
	}
}

// A narrowed key still verifies what it allows and refuses what was taken away.
func TestRestrictedKeyVerifies(t *testing.T) {
	secret := randomBytes(64)
	k, err := FromSecret(secret, "")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := Restrict([]*Key{k}, []string{"HS512"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks[0].Verify("HS512", testSigningInput, sign(t, "HS512", secret, testSigningInput)); err != nil {
		t.Errorf("HS512: %v", err)
	}
	if err := ks[0].Verify("HS256", testSigningInput, sign(t, "HS256", secret, testSigningInput)); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("HS256 after restricting to HS512: err = %v, want ErrAlgorithm", err)
	}
}
