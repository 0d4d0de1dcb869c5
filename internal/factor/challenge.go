package factor

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// ChallengeTTL is how long the step between a password and its second factor may take.
const ChallengeTTL = 5 * time.Minute

// maxChallengeFailures is how many wrong codes one challenge takes before it is dropped (the
// password must then be given again), on top of the login limits every wrong code counts in.
const maxChallengeFailures = 5

// ErrNoChallenge: the cookie is missing, forged, expired, used up or dropped.
var ErrNoChallenge = errors.New("no valid second factor challenge")

// Challenge is a login half done: the password was right, the second factor is still to come.
// It is kept server-side under a random id; the browser holds the id in a signed cookie, so it
// is bound to that browser, and ending it (EndChallenge) deletes it, so it is single-use.
type Challenge struct {
	Username string `json:"username"`
	// Identity is the users.Identity the password check gave, as JSON, to mint from.
	Identity json.RawMessage `json:"identity"`
	// Next is where the browser goes once logged in (already checked).
	Next string `json:"next"`
	// Enrol: the user has no factor and must enrol one now (second_factor required).
	Enrol    bool      `json:"enrol,omitempty"`
	Exp      time.Time `json:"exp"`
	Failures int       `json:"failures,omitempty"`
	// WebAuthn is the session data of a passkey ceremony begun from this challenge.
	WebAuthn json.RawMessage `json:"webauthn,omitempty"`
}

func (s *Store) challengeKey(id string) string { return s.prefix + "challenges/" + id }

// NewChallenge stores c (its Exp set to ChallengeTTL from now) and returns the cookie value
// that names it: a random id and its HMAC.
func (s *Store) NewChallenge(ctx context.Context, c Challenge) (string, error) {
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	id := hex.EncodeToString(raw)
	c.Exp = s.now().Add(ChallengeTTL).UTC()
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	if err := s.st.Store(ctx, s.challengeKey(id), b); err != nil {
		return "", s.unavailable("writing a login challenge", err)
	}
	return id + "." + base64.RawURLEncoding.EncodeToString(s.keys.sign([]byte("challenge:"+id))), nil
}

// challengeID returns the id of a cookie value whose signature holds.
func (s *Store) challengeID(cookie string) (string, bool) {
	id, sig, ok := strings.Cut(cookie, ".")
	if !ok || len(id) != 32 {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.keys.sign([]byte("challenge:"+id))) {
		return "", false
	}
	return id, true
}

// Challenge returns the live challenge the cookie names, or ErrNoChallenge.
func (s *Store) Challenge(ctx context.Context, cookie string) (*Challenge, error) {
	id, ok := s.challengeID(cookie)
	if !ok {
		return nil, ErrNoChallenge
	}
	return s.loadChallenge(ctx, id)
}

func (s *Store) loadChallenge(ctx context.Context, id string) (*Challenge, error) {
	b, err := s.st.Load(ctx, s.challengeKey(id))
	if kv.IsNotExist(err) {
		return nil, ErrNoChallenge
	}
	if err != nil {
		return nil, s.unavailable("reading a login challenge", err)
	}
	c := &Challenge{}
	if err := json.Unmarshal(b, c); err != nil || !s.now().Before(c.Exp) {
		return nil, ErrNoChallenge
	}
	return c, nil
}

// changeChallenge changes the challenge of cookie under its lock: fn returns whether to keep
// it (written back) or to delete it. It returns the challenge as fn left it.
func (s *Store) changeChallenge(ctx context.Context, cookie string, fn func(c *Challenge) (keep bool)) (*Challenge, error) {
	id, ok := s.challengeID(cookie)
	if !ok {
		return nil, ErrNoChallenge
	}
	key := s.challengeKey(id)
	lctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	if err := s.st.Lock(lctx, key); err != nil {
		return nil, s.unavailable("locking a login challenge", err)
	}
	defer func() { _ = s.st.Unlock(context.WithoutCancel(ctx), key) }()
	c, err := s.loadChallenge(ctx, id)
	if err != nil {
		return nil, err
	}
	if fn(c) {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		if err := s.st.Store(ctx, key, b); err != nil {
			return nil, s.unavailable("writing a login challenge", err)
		}
		return c, nil
	}
	if err := s.st.Delete(ctx, key); err != nil && !kv.IsNotExist(err) {
		return nil, s.unavailable("ending a login challenge", err)
	}
	return c, nil
}

// EndChallenge uses the challenge of cookie up and returns it: of any number of callers, one
// gets it, the others ErrNoChallenge.
func (s *Store) EndChallenge(ctx context.Context, cookie string) (*Challenge, error) {
	return s.changeChallenge(ctx, cookie, func(*Challenge) bool { return false })
}

// FailChallenge counts a wrong code against the challenge of cookie, dropping it after
// maxChallengeFailures; it reports whether the challenge is still good.
func (s *Store) FailChallenge(ctx context.Context, cookie string) (alive bool, err error) {
	_, err = s.changeChallenge(ctx, cookie, func(c *Challenge) bool {
		c.Failures++
		alive = c.Failures < maxChallengeFailures
		return alive
	})
	if errors.Is(err, ErrNoChallenge) {
		return false, nil
	}
	return alive, err
}

// SetChallengeWebAuthn keeps the session data of a passkey ceremony in the challenge.
func (s *Store) SetChallengeWebAuthn(ctx context.Context, cookie string, data json.RawMessage) error {
	_, err := s.changeChallenge(ctx, cookie, func(c *Challenge) bool {
		c.WebAuthn = data
		return true
	})
	return err
}

// Purge deletes the challenges that expired (abandoned logins), and returns how many.
func (s *Store) Purge(ctx context.Context) (int, error) {
	keys, err := s.st.List(ctx, s.prefix+"challenges", false)
	if kv.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	now := s.now()
	for _, k := range keys {
		b, err := s.st.Load(ctx, k)
		if err != nil {
			continue
		}
		var c Challenge
		if json.Unmarshal(b, &c) == nil && now.Before(c.Exp.Add(time.Minute)) {
			continue
		}
		if s.st.Delete(ctx, k) == nil {
			n++
		}
	}
	return n, nil
}
