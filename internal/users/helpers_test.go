package users

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"golang.org/x/crypto/bcrypt"
)

// caddyAlgorithms are the algorithms as the Caddy adapter configures them: Caddy's own
// comparers and fake hashes.
func caddyAlgorithms() []Algorithm {
	return []Algorithm{
		{Name: "bcrypt", Prefixes: []string{"$2a$", "$2b$", "$2y$"}, Comparer: caddyauth.BcryptHash{},
			FakeHash: caddyauth.BcryptHash{}.FakeHash()},
		{Name: "argon2id", Prefixes: []string{"$argon2id$"}, Comparer: caddyauth.Argon2idHash{},
			FakeHash: caddyauth.Argon2idHash{}.FakeHash()},
	}
}

// bcryptHash hashes password with bcrypt at cost, with the version prefix given ("$2a$",
// "$2b$" as OpenBSD and `htpasswd -B` write, "$2y$" as PHP does; the algorithm is the same).
func bcryptHash(tb testing.TB, password string, cost int, prefix string) string {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		tb.Fatal(err)
	}
	return prefix + string(h[4:])
}

// argon2Hash hashes password as `caddy hash-password --algorithm argon2id` does by default
// (m=47104,t=1,p=1, 32-byte key): Caddy's zero Argon2idHash has no parameters, its fake hash
// carries the defaults.
func argon2Hash(tb testing.TB, password string) string {
	tb.Helper()
	a, _, err := caddyauth.DecodeHash(caddyauth.Argon2idHash{}.FakeHash())
	if err != nil {
		tb.Fatal(err)
	}
	h, err := a.Hash([]byte(password))
	if err != nil {
		tb.Fatal(err)
	}
	return string(h)
}

// recorder wraps a Comparer and records the hashes it was asked to compare.
type recorder struct {
	Comparer
	mu     sync.Mutex
	hashes []string
}

func (r *recorder) Compare(hashed, plaintext []byte) (bool, error) {
	r.mu.Lock()
	r.hashes = append(r.hashes, string(hashed))
	r.mu.Unlock()
	return r.Comparer.Compare(hashed, plaintext)
}

func (r *recorder) compared() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hashes...)
}

// recorded returns caddyAlgorithms with each comparer wrapped in a recorder.
func recorded() ([]Algorithm, *recorder, *recorder) {
	algs := caddyAlgorithms()
	b := &recorder{Comparer: algs[0].Comparer}
	a := &recorder{Comparer: algs[1].Comparer}
	algs[0].Comparer, algs[1].Comparer = b, a
	return algs, b, a
}

// endsWhileWaiting is a context that is live when first asked (Gate.Enter's early check) and
// done afterwards: on a full gate, Enter waits and returns context.Canceled, with no timer.
type endsWhileWaiting struct {
	context.Context
	seen atomic.Bool
}

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (*endsWhileWaiting) Done() <-chan struct{} { return closedDone }
func (c *endsWhileWaiting) Err() error {
	if !c.seen.Swap(true) {
		return nil
	}
	return context.Canceled
}

// lines joins lines into a file's text.
func lines(l ...string) string { return strings.Join(l, "\n") }

// caddyHashBcrypt hashes as `caddy hash-password` does by default (bcrypt, cost 14).
func caddyHashBcrypt(password string) (string, error) {
	h, err := caddyauth.BcryptHash{}.Hash([]byte(password))
	return string(h), err
}

// cheapAlgorithms are caddyAlgorithms with a bcrypt fake hash of the lowest cost, for tests
// where unknown users log in often.
func cheapAlgorithms(tb testing.TB) []Algorithm {
	algs := caddyAlgorithms()
	algs[0].FakeHash = []byte(bcryptHash(tb, "fake", 4, "$2a$"))
	return algs
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.hashes = nil
	r.mu.Unlock()
}

// sleeper is a comparer that takes d and never matches: a hash of known cost.
type sleeper time.Duration

func (s sleeper) Compare(hashed, plaintext []byte) (bool, error) {
	time.Sleep(time.Duration(s))
	return false, nil
}

// argon2With is a well-formed argon2id hash with the given memory (KiB), passes and threads
// (random salt and key: it matches no password).
func argon2With(tb testing.TB, m, t, p int) string {
	tb.Helper()
	salt, key := make([]byte, 16), make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		tb.Fatal(err)
	}
	_, _ = rand.Read(key)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// writeFileAt replaces the file at path.
func writeFileAt(tb testing.TB, path, text string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
}
