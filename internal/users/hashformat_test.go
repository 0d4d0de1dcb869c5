package users

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
)

func TestCheckHash(t *testing.T) {
	tests := []struct {
		name, hash, want string // want: a part of the error, "" for none
	}{
		{"bcrypt", hb, ""},
		{"bcrypt $2y$", "$2y$" + hb[4:], ""},
		{"bcrypt cost 31", "$2b$31$" + hb[7:], ""},
		{"bcrypt too short", hb[:59], "not 60 characters"},
		{"bcrypt too long", hb + "A", "not 60 characters"},
		{"bcrypt without cost separator", "$2b$100" + hb[7:], "not 60 characters"},
		{"bcrypt cost 3", "$2b$03$" + hb[7:], "cost must be two digits from 04 to 31"},
		{"bcrypt cost 32", "$2b$32$" + hb[7:], "cost must be"},
		{"bcrypt cost not digits", "$2b$1x$" + hb[7:], "cost must be"},
		{"bcrypt foreign character", hb[:59] + "+", "outside bcrypt's alphabet"},
		{"argon2id", ha, ""},
		{"argon2id of caddy hash-password", string(caddyauth.Argon2idHash{}.FakeHash()), ""},
		{"argon2id missing part", strings.TrimSuffix(ha, ha[strings.LastIndex(ha, "$"):]), "not of the form"},
		{"argon2id version 16", strings.Replace(ha, "v=19", "v=16", 1), "version 19"},
		{"argon2id parameters out of order", strings.Replace(ha, "m=47104,t=1", "t=1,m=47104", 1), "m=<KiB>,t=<iterations>,p=<threads>"},
		{"argon2id parameter not a number", strings.Replace(ha, "p=1", "p=x", 1), "m=<KiB>"},
		{"argon2id two parameters", strings.Replace(ha, ",p=1", "", 1), "m=<KiB>"},
		{"argon2id t=0", strings.Replace(ha, "t=1", "t=0", 1), "iterations (t) must be at least 1"},
		{"argon2id p=0", strings.Replace(ha, "p=1", "p=0", 1), "threads (p) must be from 1 to 255"},
		{"argon2id p=256", strings.Replace(ha, "p=1", "p=256", 1), "threads (p)"},
		{"argon2id m below 8 per thread", strings.Replace(strings.Replace(ha, "p=1", "p=4", 1), "m=47104", "m=31", 1), "at least 8 KiB per thread"},
		{"argon2id m 4 GiB", strings.Replace(ha, "m=47104", "m=4194304", 1), ""},
		{"argon2id m over 4 GiB", strings.Replace(ha, "m=47104", "m=4194305", 1), "over 4 GiB"},
		{"argon2id m over 32 bits", strings.Replace(ha, "m=47104", "m=4294967296", 1), "m=<KiB>"},
		{"argon2id padded salt", strings.Replace(ha, "Ug$", "Ug==$", 1), "salt must be at least 8 bytes of unpadded base64"},
		{"argon2id short salt", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + ha[strings.LastIndex(ha, "$")+1:], "salt must be at least 8 bytes"},
		{"argon2id empty key", ha[:strings.LastIndex(ha, "$")+1], "key must be 16 to 1024 bytes"},
		{"argon2id key not base64", ha + "!", "key must be"},
		// encoding/base64 skips CR and LF; a hash holding one is damaged, not another encoding.
		{"argon2id key with a CR", ha + "\r", "key must be"},
		{"argon2id salt with a LF", strings.Replace(ha, "Ug$", "U\ng$", 1), "salt must be"},
		{"other formats are left to their comparer", "$5$rounds=5000$salt$hash", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkHash(tt.hash)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("checkHash = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("checkHash = %v, want an error containing %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "SECRET"):
				t.Fatalf("error quotes the hash: %v", err)
			}
		})
	}
}

// TestCompareSurvivesDamagedHashes shows why checkHash and compare's recover exist: Caddy's
// argon2id comparer panics on hashes checkHash refuses; compare turns that into an error.
func TestCompareSurvivesDamagedHashes(t *testing.T) {
	for _, h := range []string{
		strings.Replace(ha, "t=1", "t=0", 1),
		strings.Replace(ha, "p=1", "p=0", 1),
		ha[:strings.LastIndex(ha, "$")+1],
	} {
		if checkHash(h) == nil {
			t.Fatalf("checkHash accepts %q", h)
		}
		ok, err := compare(caddyauth.Argon2idHash{}, []byte(h), "pw")
		if ok || err == nil {
			t.Fatalf("compare = %v, %v; want false and an error", ok, err)
		}
	}
}

func TestNormalizeHash(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(hb))
	tests := []struct{ in, want string }{
		{hb, hb},
		{b64, hb},                        // `caddy hash-password` before 2.8
		{"hunter2", "hunter2"},           // not base64: left for the format check to refuse
		{"aHVudGVyMg==", "aHVudGVyMg=="}, // base64 of "hunter2", which is no hash
		{"", ""},
	}
	for _, tt := range tests {
		if got := normalizeHash(tt.in); got != tt.want {
			t.Errorf("normalizeHash(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCostClass(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{hb, "$2a$10$" + hb[7:], true},                               // the minor version costs nothing
		{hb, "$2b$11$" + hb[7:], false},                              // twice the cost
		{ha, strings.Replace(ha, "$U0VDUkVU", "$QUJDUkVU", 1), true}, // another salt,
		{ha, strings.Replace(ha, "t=1", "t=2", 1), false},
		{ha, strings.Replace(ha, "m=47104", "m=19456", 1), false},
	}
	for _, tt := range tests {
		if same := costClass(0, tt.a) == costClass(0, tt.b); same != tt.same {
			t.Errorf("costClass(%.14q) == costClass(%.14q): %v, want %v", tt.a, tt.b, same, tt.same)
		}
	}
	if costClass(0, hb) == costClass(1, hb) {
		t.Error("the algorithm is not part of the class")
	}
}
