package factor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// ErrUnavailable wraps a storage failure: the factors could not be read or written, and the
// login fails closed (503).
var ErrUnavailable = errors.New("the second factor store is unavailable")

// Config configures a Store.
type Config struct {
	// Storage is the issuer's state storage (required).
	Storage kv.Storage
	// Prefix is where in Storage the factors live, e.g. "gatehouse/issuer/" (then under
	// "factors/").
	Prefix string
	// Secret is the master secret the sealing, signing and pseudonym keys are derived from (at
	// least MinSecretLen bytes). nil: a random one generated on first start and kept in
	// Storage next to the records (see docs/second-factor.md for what that protects).
	Secret []byte
	// Issuer is the name authenticator apps show next to the account (default "Gatehouse").
	Issuer string
	// Logger receives storage failures; nil: zap.NewNop().
	Logger *zap.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Store keeps the enrolled factors of every user, and the login challenges. Safe for concurrent
// use, and across processes sharing the storage: every change to a record is made under the
// storage's lock for that record, and written whole (one Store call).
type Store struct {
	st     kv.Storage
	prefix string
	keys   *keys
	issuer string
	log    *zap.Logger
	now    func() time.Time
}

// Record is what is stored for one user. TOTP secrets are sealed (AES-GCM, bound to the
// record's key); recovery codes are SHA-256 hashes.
type Record struct {
	TOTP *totpRecord `json:"totp,omitempty"`
	// PendingTOTP is a secret shown on the enrolment page and not yet confirmed by a code.
	PendingTOTP *totpRecord `json:"pending_totp,omitempty"`
	Recovery    []string    `json:"recovery,omitempty"`
	Passkeys    []Passkey   `json:"passkeys,omitempty"`
	// PendingPasskey is the state of a passkey registration under way (single use).
	PendingPasskey *pendingCeremony `json:"pending_passkey,omitempty"`
	// Username is whose record it is (the storage key is a pseudonym), for a passkey login,
	// which starts without a name.
	Username string `json:"username,omitempty"`
}

type pendingCeremony struct {
	State   []byte    `json:"state"`
	Created time.Time `json:"created"`
}

type totpRecord struct {
	Sealed   []byte    `json:"sealed"`
	LastStep int64     `json:"last_step,omitempty"`
	Created  time.Time `json:"created"`
}

// Status is what a user has enrolled.
type Status struct {
	TOTP         bool
	Passkeys     int
	RecoveryLeft int
}

// Enrolled reports whether any factor is enrolled.
func (s Status) Enrolled() bool { return s.TOTP || s.Passkeys > 0 }

// pendingTTL is how long an enrolment page's secret waits for its confirming code.
const pendingTTL = 15 * time.Minute

// lockTimeout bounds waiting for a record's lock.
const lockTimeout = 10 * time.Second

// Open returns the Store of cfg, generating the master secret in storage when none is
// configured.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Storage == nil {
		return nil, errors.New("factor: no storage")
	}
	s := &Store{st: cfg.Storage, prefix: cfg.Prefix + "factors/", issuer: cfg.Issuer, log: cfg.Logger, now: cfg.Now}
	if s.issuer == "" {
		s.issuer = "Gatehouse"
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	master := cfg.Secret
	if master == nil {
		var err error
		if master, err = s.generatedSecret(ctx); err != nil {
			return nil, err
		}
	}
	k, err := deriveKeys(master)
	if err != nil {
		return nil, err
	}
	s.keys = k
	return s, nil
}

// generatedSecret loads the master secret kept in storage, creating it on first use (under the
// storage lock, so instances sharing the storage agree on one).
func (s *Store) generatedSecret(ctx context.Context) ([]byte, error) {
	key := s.prefix + "secret"
	if b, err := s.st.Load(ctx, key); err == nil {
		return decodeSecret(b)
	} else if !kv.IsNotExist(err) {
		return nil, fmt.Errorf("factor: loading the second factor secret: %w", err)
	}
	if err := s.st.Lock(ctx, key); err != nil {
		return nil, fmt.Errorf("factor: locking the second factor secret: %w", err)
	}
	defer func() { _ = s.st.Unlock(context.WithoutCancel(ctx), key) }()
	if b, err := s.st.Load(ctx, key); err == nil {
		return decodeSecret(b)
	} else if !kv.IsNotExist(err) {
		return nil, fmt.Errorf("factor: loading the second factor secret: %w", err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if err := s.st.Store(ctx, key, []byte(hex.EncodeToString(secret))); err != nil {
		return nil, fmt.Errorf("factor: storing the second factor secret: %w", err)
	}
	return secret, nil
}

func decodeSecret(b []byte) ([]byte, error) {
	secret, err := hex.DecodeString(string(b))
	if err != nil || len(secret) < MinSecretLen {
		return nil, errors.New("factor: the stored second factor secret is damaged; restore it from a backup (every enrolled factor depends on it)")
	}
	return secret, nil
}

// recordKey is where user's record is stored: under its keyed pseudonym.
func (s *Store) recordKey(user string) string {
	return s.prefix + "users/" + hex.EncodeToString(s.keys.userHandle(user))
}

// load reads user's record; a missing one is empty.
func (s *Store) load(ctx context.Context, key string) (*Record, error) {
	b, err := s.st.Load(ctx, key)
	if kv.IsNotExist(err) {
		return &Record{}, nil
	}
	if err != nil {
		return nil, s.unavailable("reading a second factor record", err)
	}
	rec := &Record{}
	if err := json.Unmarshal(b, rec); err != nil {
		// A record that does not parse is refused, never taken for "no factors" (fail closed).
		return nil, s.unavailable("reading a second factor record", fmt.Errorf("the record is not valid JSON: %v", err))
	}
	return rec, nil
}

func (s *Store) unavailable(what string, err error) error {
	if !errors.Is(err, context.Canceled) {
		s.log.Error("second factor storage failed; refusing (fail closed)", zap.String("operation", what), zap.Error(err))
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
}

// errNoChange tells update that fn changed nothing: nothing is written.
var errNoChange = errors.New("no change")

// update changes user's record with fn under the record's lock and writes it whole. An error of
// fn (but errNoChange) is returned and nothing is written; with errNoChange, nil.
func (s *Store) update(ctx context.Context, user string, fn func(rec *Record) error) error {
	key := s.recordKey(user)
	lctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	if err := s.st.Lock(lctx, key); err != nil {
		return s.unavailable("locking a second factor record", err)
	}
	defer func() { _ = s.st.Unlock(context.WithoutCancel(ctx), key) }()
	rec, err := s.load(ctx, key)
	if err != nil {
		return err
	}
	if err := fn(rec); err != nil {
		if errors.Is(err, errNoChange) {
			return nil
		}
		return err
	}
	rec.Username = user
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := s.st.Store(ctx, key, b); err != nil {
		return s.unavailable("writing a second factor record", err)
	}
	return nil
}

// Status returns what user has enrolled.
func (s *Store) Status(ctx context.Context, user string) (Status, error) {
	rec, err := s.load(ctx, s.recordKey(user))
	if err != nil {
		return Status{}, err
	}
	return Status{TOTP: rec.TOTP != nil, Passkeys: len(rec.Passkeys), RecoveryLeft: len(rec.Recovery)}, nil
}

// BeginTOTP makes a new TOTP secret for user (account: the name an app shows), kept as pending
// until ConfirmTOTP; it replaces an earlier pending one. An enrolled TOTP stays in force until
// the new one is confirmed.
func (s *Store) BeginTOTP(ctx context.Context, user, account string) (*Enrolment, error) {
	e, secret, err := newTOTP(s.issuer, account)
	if err != nil {
		return nil, err
	}
	ad := []byte(s.recordKey(user))
	err = s.update(ctx, user, func(rec *Record) error {
		rec.PendingTOTP = &totpRecord{Sealed: s.keys.sealValue(secret, ad), Created: s.now().UTC()}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ConfirmTOTP checks code against user's pending secret; when it is right the secret becomes
// the user's TOTP factor (its step used up) and fresh recovery codes replace any earlier ones:
// they are returned, to be shown once. Without replace, a user who has a factor already gets
// ErrEnrolled. The error is ErrNotEnrolled without a pending secret (or one older than
// pendingTTL), else as CheckCode's.
func (s *Store) ConfirmTOTP(ctx context.Context, user, code string, replace bool) (recovery []string, err error) {
	now := s.now()
	ad := []byte(s.recordKey(user))
	err = s.update(ctx, user, func(rec *Record) error {
		p := rec.PendingTOTP
		if p == nil || now.Sub(p.Created) > pendingTTL {
			return ErrNotEnrolled
		}
		if !replace && (rec.TOTP != nil || len(rec.Passkeys) > 0) {
			return ErrEnrolled
		}
		secret, err := s.keys.open(p.Sealed, ad)
		if err != nil {
			return s.unavailable("opening a pending TOTP secret", err)
		}
		step, err := checkTOTP(secret, code, now, 0)
		if err != nil {
			return err
		}
		codes, hashes := newRecoveryCodes()
		rec.TOTP = &totpRecord{Sealed: p.Sealed, LastStep: step, Created: now.UTC()}
		rec.PendingTOTP = nil
		rec.Recovery = hashes
		recovery = codes
		return nil
	})
	if err != nil {
		return nil, err
	}
	return recovery, nil
}

// The methods a code was accepted as, the amr values (RFC 8176) of a login with it.
const (
	MethodOTP = "otp"
	// A recovery code is a one-time password too; amr "otp" says the login had a second
	// factor, which is what routes requiring it ask.
	MethodRecovery = "otp"
)

// CheckCode checks a code of user: six digits are a TOTP code (of a step after the last one
// used, which it then uses up), the shape of a recovery code one of the user's recovery codes
// (used up). It returns the amr method, or ErrMalformed, ErrWrong, ErrReplayed, ErrNotEnrolled
// or an ErrUnavailable error. Nothing is written unless the code is accepted.
func (s *Store) CheckCode(ctx context.Context, user, code string, allowRecovery bool) (string, error) {
	now := s.now()
	ad := []byte(s.recordKey(user))
	switch {
	case wellFormedTOTP(code):
		err := s.update(ctx, user, func(rec *Record) error {
			if rec.TOTP == nil {
				return ErrNotEnrolled
			}
			secret, err := s.keys.open(rec.TOTP.Sealed, ad)
			if err != nil {
				return s.unavailable("opening a TOTP secret", err)
			}
			step, err := checkTOTP(secret, code, now, rec.TOTP.LastStep)
			if err != nil {
				return err
			}
			rec.TOTP.LastStep = step
			return nil
		})
		return MethodOTP, err
	case allowRecovery && looksLikeRecovery(code):
		err := s.update(ctx, user, func(rec *Record) error {
			left, ok := useRecovery(rec.Recovery, code)
			if !ok {
				return ErrWrong
			}
			rec.Recovery = left
			return nil
		})
		return MethodRecovery, err
	}
	return "", ErrMalformed
}
