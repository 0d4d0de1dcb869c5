package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/factor"
	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/limit"
)

// withFactors turns second factors on, every user required, on the fixture's storage, and
// enrols alice's TOTP with secret (returned).
func withFactors(t *testing.T, store **factor.Store) option {
	return func(c *Config) {
		s, err := factor.Open(context.Background(), factor.Config{Storage: kv.NewMemory(), Prefix: "gatehouse/issuer/"})
		if err != nil {
			t.Fatal(err)
		}
		*store = s
		c.Factors = &FactorConfig{Store: s, Policy: factor.Policy{Default: factor.Required}}
	}
}

func enrolTOTP(t *testing.T, s *factor.Store, user string) string {
	t.Helper()
	e, err := s.BeginTOTP(context.Background(), user, user)
	if err != nil {
		t.Fatal(err)
	}
	// The step before now: the codes of now and later stay usable.
	c, _ := totp.GenerateCodeCustom(e.Secret, time.Now().Add(-30*time.Second), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if _, err := s.ConfirmTOTP(context.Background(), user, c, false); err != nil {
		t.Fatal(err)
	}
	return e.Secret
}

// TestWrongCodesCountAgainstTheUser: a right password with a wrong one-time code counts
// against the username's limits like a wrong password (a second address is refused once the
// per-user ceiling is reached), a right code counts for nothing, and the log never holds a
// code.
func TestWrongCodesCountAgainstTheUser(t *testing.T) {
	var store *factor.Store
	f := newFixture(t, testIP, withFactors(t, &store), func(c *Config) {
		c.IPLimit = limit.Local{Limiter: limit.NewLimiter(100, time.Hour, 0)}
		c.UserIPLimit = limit.Local{Limiter: limit.NewLimiter(3, time.Hour, 0)}
		c.UserLimit = limit.Local{Limiter: limit.NewLimiter(5, time.Hour, 0)}
	})
	secret := enrolTOTP(t, store, "alice")
	login := func(ip, code string) int {
		b, _ := json.Marshal(map[string]string{"username": "alice", "password": alicePassword, "otp": code})
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(b)))
		r.Header.Set("Content-Type", ctJSON)
		r.Header.Set("X-Test-IP", ip)
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w.Code
	}
	var got []string
	for range 4 {
		got = append(got, strconv.Itoa(login("198.51.100.1", "000000x")))
	}
	if s := strings.Join(got, " "); s != "401 401 401 429" {
		t.Fatalf("wrong codes from one address: %s, want 401 401 401 429", s)
	}
	// Two more wrong codes from another address reach the per-user ceiling of 5.
	for _, want := range []int{401, 401, 429} {
		if c := login("198.51.100.2", "12345"); c != want {
			t.Fatalf("wrong code from a second address: %d, want %d", c, want)
		}
	}
	// Then even a right code from a third address waits: the ceiling is the user's.
	now, _ := totp.GenerateCodeCustom(secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if c := login("198.51.100.3", now); c != 429 {
		t.Fatalf("right code after the ceiling: %d, want 429", c)
	}
	f.noSecretsLogged(secret, now, "000000x")
}

// TestFactorPolicyOff: a user whose mode is off logs in with the password alone even with a
// factor enrolled, and the token says amr [pwd].
func TestFactorPolicyOff(t *testing.T) {
	var store *factor.Store
	f := newFixture(t, withFactors(t, &store), func(c *Config) {
		c.Factors.Policy.Users = map[string]factor.Mode{"alice": factor.Off}
	})
	enrolTOTP(t, store, "alice")
	access, _ := f.login()
	if amr := payload(t, access)["amr"]; len(amr.([]any)) != 1 || amr.([]any)[0] != "pwd" {
		t.Fatalf("amr %v, want [pwd]", amr)
	}
}
