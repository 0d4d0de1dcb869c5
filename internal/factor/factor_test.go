package factor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newTestStore(t *testing.T, st kv.Storage, c *clock) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Storage: st, Prefix: "gatehouse/issuer/", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTOTPEnrolCheckReplay: a pending secret counts only once confirmed; a code is accepted
// once, within one step either side; older steps and malformed codes are refused.
func TestTOTPEnrolCheckReplay(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Unix(1_800_000_000, 0)}
	s := newTestStore(t, kv.NewMemory(), c)
	if st, err := s.Status(ctx, "alice"); err != nil || st.Enrolled() {
		t.Fatalf("status before enrolment: %+v, %v", st, err)
	}
	e, err := s.BeginTOTP(ctx, "alice", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.QR, "data:image/png;base64,") || !strings.Contains(e.URL, "secret="+e.Secret) {
		t.Fatalf("enrolment page data: %+v", e)
	}
	if _, err := s.CheckCode(ctx, "alice", code(t, e.Secret, c.t), true); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("a code before confirmation: %v, want ErrNotEnrolled", err)
	}
	if _, err := s.ConfirmTOTP(ctx, "alice", "000000x", false); !errors.Is(err, ErrMalformed) {
		t.Fatalf("confirm with a malformed code: %v", err)
	}
	first := code(t, e.Secret, c.t)
	rc, err := s.ConfirmTOTP(ctx, "alice", first, false)
	if err != nil || len(rc) != recoveryCount {
		t.Fatalf("confirm: %v, %d recovery codes", err, len(rc))
	}
	// The confirming code's step is used up.
	if _, err := s.CheckCode(ctx, "alice", first, true); !errors.Is(err, ErrReplayed) {
		t.Fatalf("the confirming code again: %v, want ErrReplayed", err)
	}
	c.t = c.t.Add(30 * time.Second)
	next := code(t, e.Secret, c.t)
	if m, err := s.CheckCode(ctx, "alice", next, true); err != nil || m != MethodOTP {
		t.Fatalf("the next step's code: %q, %v", m, err)
	}
	if _, err := s.CheckCode(ctx, "alice", next, true); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replayed code: %v, want ErrReplayed", err)
	}
	// A code of the step ahead (a fast phone clock) is accepted; then the current one is old.
	ahead := code(t, e.Secret, c.t.Add(60*time.Second))
	c.t = c.t.Add(30 * time.Second)
	if _, err := s.CheckCode(ctx, "alice", ahead, true); err != nil {
		t.Fatalf("a code one step ahead: %v", err)
	}
	if _, err := s.CheckCode(ctx, "alice", code(t, e.Secret, c.t), true); !errors.Is(err, ErrReplayed) {
		t.Fatalf("a code of a step before the last used: %v, want ErrReplayed", err)
	}
	// Two steps off: wrong.
	if _, err := s.CheckCode(ctx, "alice", code(t, e.Secret, c.t.Add(3*30*time.Second)), true); !errors.Is(err, ErrWrong) {
		t.Fatalf("a code three steps ahead: %v, want ErrWrong", err)
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", "12 456", "١٢٣٤٥٦"} {
		if _, err := s.CheckCode(ctx, "alice", bad, true); !errors.Is(err, ErrMalformed) {
			t.Errorf("code %q: %v, want ErrMalformed", bad, err)
		}
	}
	// Recovery codes: each once, typed in any case and grouping.
	typed := strings.ToUpper(strings.ReplaceAll(rc[3], "-", " "))
	if _, err := s.CheckCode(ctx, "alice", typed, true); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if _, err := s.CheckCode(ctx, "alice", rc[3], true); !errors.Is(err, ErrWrong) {
		t.Fatalf("recovery code again: %v, want ErrWrong", err)
	}
	if _, err := s.CheckCode(ctx, "alice", rc[4], false); !errors.Is(err, ErrMalformed) {
		t.Fatalf("recovery code where none is allowed: %v, want ErrMalformed", err)
	}
	if st, _ := s.Status(ctx, "alice"); !st.TOTP || st.RecoveryLeft != recoveryCount-1 {
		t.Fatalf("status: %+v", st)
	}
	// Another user's codes do not open alice's record, nor hers bob's.
	if _, err := s.CheckCode(ctx, "bob", code(t, e.Secret, c.t.Add(30*time.Second)), true); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("bob: %v, want ErrNotEnrolled", err)
	}
}

// TestSecretsSealed: the stored record holds no TOTP secret in the clear, and a store with
// another secret cannot use it.
func TestSecretsSealed(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Unix(1_800_000_000, 0)}
	mem := kv.NewMemory()
	s := newTestStore(t, mem, c)
	e, err := s.BeginTOTP(ctx, "alice", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfirmTOTP(ctx, "alice", code(t, e.Secret, c.t), false); err != nil {
		t.Fatal(err)
	}
	b, err := mem.Load(ctx, s.recordKey("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), e.Secret) || strings.Contains(s.recordKey("alice"), "alice") {
		t.Fatalf("the record shows the secret or the key the name: %s %s", s.recordKey("alice"), b)
	}
	other, err := Open(ctx, Config{Storage: mem, Prefix: "gatehouse/issuer/", Secret: []byte(strings.Repeat("x", 32)), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Another secret: another pseudonym, so the record is not even found.
	if _, err := other.CheckCode(ctx, "alice", code(t, e.Secret, c.t.Add(30*time.Second)), true); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("with another secret: %v", err)
	}
	if _, err := Open(ctx, Config{Storage: mem, Secret: []byte("short")}); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

// TestChallengeSingleUse: a challenge ends once, a forged or altered cookie names none, it
// expires, and too many wrong codes drop it.
func TestChallengeSingleUse(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Unix(1_800_000_000, 0)}
	s := newTestStore(t, kv.NewMemory(), c)
	cookie, err := s.NewChallenge(ctx, Challenge{Username: "alice", Next: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := s.Challenge(ctx, cookie); err != nil || ch.Username != "alice" || ch.Next != "/x" {
		t.Fatalf("challenge: %+v, %v", ch, err)
	}
	// One character of the id changed: to another one than it was (a random id may start with 0).
	altered := "0" + cookie[1:]
	if cookie[0] == '0' {
		altered = "1" + cookie[1:]
	}
	for _, bad := range []string{"", "x", cookie + "x", altered, strings.Repeat("0", 32) + "." + strings.SplitN(cookie, ".", 2)[1]} {
		if _, err := s.Challenge(ctx, bad); !errors.Is(err, ErrNoChallenge) {
			t.Errorf("cookie %q: %v, want ErrNoChallenge", bad, err)
		}
	}
	if _, err := s.EndChallenge(ctx, cookie); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EndChallenge(ctx, cookie); !errors.Is(err, ErrNoChallenge) {
		t.Fatalf("second end: %v", err)
	}
	cookie, _ = s.NewChallenge(ctx, Challenge{Username: "alice"})
	for i := 1; i < maxChallengeFailures; i++ {
		if alive, err := s.FailChallenge(ctx, cookie); err != nil || !alive {
			t.Fatalf("failure %d: %v %v", i, alive, err)
		}
	}
	if alive, _ := s.FailChallenge(ctx, cookie); alive {
		t.Fatal("the challenge survived too many wrong codes")
	}
	if _, err := s.Challenge(ctx, cookie); !errors.Is(err, ErrNoChallenge) {
		t.Fatalf("after too many failures: %v", err)
	}
	cookie, _ = s.NewChallenge(ctx, Challenge{Username: "alice"})
	c.t = c.t.Add(ChallengeTTL)
	if _, err := s.Challenge(ctx, cookie); !errors.Is(err, ErrNoChallenge) {
		t.Fatalf("expired: %v", err)
	}
	c.t = c.t.Add(2 * time.Minute)
	if n, err := s.Purge(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
}
