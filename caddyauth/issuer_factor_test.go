package caddyauth

import (
	"context"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// TestPasskeysBelongToTheCookieDomain checks the relying party id of passkeys: the session's
// cookie domain when it has one (so a passkey registered on one site of the domain signs in on
// the login site), rp_id when given, else none (the host the browser used).
func TestPasskeysBelongToTheCookieDomain(t *testing.T) {
	tests := []struct {
		name         string
		cookieDomain string
		rpID         string
		want         string
	}{
		{"no cookie domain", "", "", ""},
		{"cookie domain", "Home.Example", "", "home.example"},
		{"rp_id wins", "home.example", "auth.home.example", "auth.home.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &IssuerConfig{
				Issuer:       "https://auth.home.example",
				Session:      &IssuerSession{CookieDomain: tt.cookieDomain},
				SecondFactor: &IssuerSecondFactor{Mode: "optional", Passkeys: true, RPID: tt.rpID, Secret: "0123456789abcdef0123456789abcdef"},
			}
			fc, err := c.openFactors(context.Background(), kv.NewMemory(), "home", nil)
			if err != nil {
				t.Fatal(err)
			}
			if fc.RPID != tt.want {
				t.Errorf("relying party id %q, want %q", fc.RPID, tt.want)
			}
		})
	}
}
