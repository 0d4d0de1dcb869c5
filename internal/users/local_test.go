package users

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatehouse-dev/gatehouse/internal/limit"
)

// writeFile writes a users file in a fresh directory and returns its path.
func writeFile(tb testing.TB, text string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "users")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestNewLocalErrors(t *testing.T) {
	good := bcryptHash(t, "pw", 4, "$2a$")
	noComparer := caddyAlgorithms()
	noComparer[1].Comparer = nil
	badFake := caddyAlgorithms()
	badFake[0].FakeHash = []byte("$argon2id$v=19$m=47104,t=1,p=1$salt$key")
	damagedFake := caddyAlgorithms()
	damagedFake[0].FakeHash = []byte("$2a$14$short")
	emptyPrefix := caddyAlgorithms()
	emptyPrefix[0].Prefixes = []string{"$2a$", ""}
	dir := t.TempDir()

	tests := []struct {
		name string
		cfg  LocalConfig
		want string
	}{
		{"no algorithms", LocalConfig{Users: []User{{Name: "a", Hash: good}}}, "no password hash algorithms"},
		{"algorithm without comparer", LocalConfig{Users: []User{{Name: "a", Hash: good}}, Algorithms: noComparer}, "argon2id has no comparer"},
		{"fake hash of another format", LocalConfig{Users: []User{{Name: "a", Hash: good}}, Algorithms: badFake}, "fake hash of bcrypt does not start"},
		{"damaged fake hash", LocalConfig{Users: []User{{Name: "a", Hash: good}}, Algorithms: damagedFake}, "fake hash of bcrypt: bcrypt hash is not 60"},
		{"empty prefix", LocalConfig{Users: []User{{Name: "a", Hash: good}}, Algorithms: emptyPrefix}, "non-empty prefixes"},
		{"no users at all", LocalConfig{Algorithms: caddyAlgorithms()}, "no users"},
		{"inline user without name", LocalConfig{Users: []User{{Hash: good}}, Algorithms: caddyAlgorithms()}, "user 1 has no name"},
		{"inline user twice", LocalConfig{Users: []User{{Name: "a", Hash: good}, {Name: "a", Hash: good}}, Algorithms: caddyAlgorithms()}, `user "a" is configured twice`},
		{"inline plaintext password", LocalConfig{Users: []User{{Name: "a", Hash: "hunter2"}}, Algorithms: caddyAlgorithms()}, `user "a": unknown password hash format; use bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$)`},
		{"inline damaged hash", LocalConfig{Users: []User{{Name: "a", Hash: good[:59]}}, Algorithms: caddyAlgorithms()}, `user "a": bcrypt hash is not 60`},
		{"format not accepted", LocalConfig{Users: []User{{Name: "a", Hash: argon2Hash(t, "pw")}}, Algorithms: caddyAlgorithms()[:1]}, "use bcrypt ($2a$, $2b$, $2y$), e.g."},
		{"missing file", LocalConfig{File: filepath.Join(dir, "nope"), Algorithms: caddyAlgorithms()}, "cannot open the users file"},
		{"directory", LocalConfig{File: dir, Algorithms: caddyAlgorithms()}, "is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLocal(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewLocal = %v, %v; want an error containing %q", l, err, tt.want)
			}
			if strings.Contains(err.Error(), good[7:]) || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error quotes a hash or password: %v", err)
			}
		})
	}
}

// TestNewLocalFileTooLarge refuses a file over the size bound (a sparse file: no disk used).
func TestNewLocalFileTooLarge(t *testing.T) {
	p := writeFile(t, "")
	if err := os.Truncate(p, maxFileSize+1); err != nil {
		t.Fatal(err)
	}
	_, err := NewLocal(LocalConfig{File: p, Algorithms: caddyAlgorithms()})
	if !errors.Is(err, errFileTooLarge) {
		t.Fatalf("NewLocal = %v, want errFileTooLarge", err)
	}
}

func TestLocalAuthenticate(t *testing.T) {
	hashes := map[string]string{
		"a2a":    bcryptHash(t, "pw-2a", 4, "$2a$"),
		"a2b":    bcryptHash(t, "pw-2b", 4, "$2b$"),
		"a2y":    bcryptHash(t, "pw-2y", 4, "$2y$"),
		"argon":  argon2Hash(t, "pw-argon"),
		"inline": bcryptHash(t, "pw-inline", 4, "$2b$"),
		"shadow": bcryptHash(t, "pw-shadowed", 4, "$2b$"),
		"b64":    bcryptHash(t, "pw-b64", 4, "$2a$"),
	}
	file := writeFile(t, lines(
		"# users, as htpasswd -B and caddy hash-password write them",
		"apache:"+hashes["a2b"],
		"caddy:"+hashes["a2a"],
		"php:"+hashes["a2y"],
		"modern:"+hashes["argon"],
		"alice:"+hashes["shadow"],
		"old-caddy:"+base64.StdEncoding.EncodeToString([]byte(hashes["b64"])),
		"",
	))
	l, err := NewLocal(LocalConfig{
		Users:      []User{{Name: "alice", Hash: hashes["inline"], Claims: map[string]any{"user_id": float64(7)}}},
		File:       file,
		Algorithms: caddyAlgorithms(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if le := l.LineErrors(); len(le) != 0 {
		t.Fatalf("LineErrors = %v", le)
	}
	tests := []struct {
		name, user, password string
		want                 Identity
		err                  error
	}{
		{"bcrypt $2b$", "apache", "pw-2b", Identity{Username: "apache"}, nil},
		{"bcrypt $2a$", "caddy", "pw-2a", Identity{Username: "caddy"}, nil},
		{"bcrypt $2y$", "php", "pw-2y", Identity{Username: "php"}, nil},
		{"argon2id", "modern", "pw-argon", Identity{Username: "modern"}, nil},
		{"base64 hash of older caddy hash-password", "old-caddy", "pw-b64", Identity{Username: "old-caddy"}, nil},
		{"inline user with claims", "alice", "pw-inline", Identity{Username: "alice", Claims: map[string]any{"user_id": float64(7)}}, nil},
		{"inline user wins over file user", "alice", "pw-shadowed", Identity{}, ErrInvalid},
		{"wrong password bcrypt", "apache", "pw-2a", Identity{}, ErrInvalid},
		{"wrong password argon2id", "modern", "pw-argon ", Identity{}, ErrInvalid},
		{"empty password", "apache", "", Identity{}, ErrInvalid},
		{"unknown user", "mallory", "pw-2b", Identity{}, ErrInvalid},
		{"names are case-sensitive", "Apache", "pw-2b", Identity{}, ErrInvalid},
		{"empty user name", "", "pw-2b", Identity{}, ErrInvalid},
		{"comment is no user", "# users, as htpasswd -B and caddy hash-password write them", "", Identity{}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Authenticate(context.Background(), tt.user, tt.password)
			if !errors.Is(err, tt.err) || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Authenticate = %#v, %v; want %#v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// TestLocalCaddyHashPassword proves compatibility with `caddy hash-password` at its defaults
// (bcrypt cost 14; argon2id m=47104,t=1,p=1), hashing with Caddy's own code.
func TestLocalCaddyHashPassword(t *testing.T) {
	bh, err := caddyHashBcrypt("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(bh, "$2a$14$") {
		t.Fatalf("caddy's bcrypt hash is %.7s..., want $2a$14$", bh)
	}
	l, err := NewLocal(LocalConfig{
		File:       writeFile(t, "b:"+bh+"\r\na:"+argon2Hash(t, "s3cret")+"\r\n"),
		Algorithms: caddyAlgorithms(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"b", "a"} {
		if id, err := l.Authenticate(context.Background(), user, "s3cret"); err != nil || id.Username != user {
			t.Fatalf("%s: Authenticate = %v, %v", user, id, err)
		}
		if _, err := l.Authenticate(context.Background(), user, "s3cret!"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: wrong password: %v", user, err)
		}
	}
}

// TestLocalUnknownUserDecoy checks what an unknown user's password is compared against: the
// costliest hash among the users (by bcrypt cost, by argon2id memory x passes, and across
// algorithms by time), or the first algorithm's fake hash when there are none, and never
// nothing. Comparing against the commonest cost instead, as before, let a client tell a
// cost-12 user among cost-10 users from a made-up name by its answer time.
func TestLocalUnknownUserDecoy(t *testing.T) {
	c5a, c5b := bcryptHash(t, "x", 5, "$2b$"), bcryptHash(t, "z", 5, "$2y$")
	c4a, c4b := bcryptHash(t, "x", 4, "$2b$"), bcryptHash(t, "y", 4, "$2a$")
	ar := argon2Hash(t, "x")                      // m=47104,t=1: work 47104
	arLight := argon2With(t, 8192, 4, 1)          // work 32768
	arHeavy := argon2With(t, 16384, 4, 1)         // work 65536
	arHeavyParallel := argon2With(t, 16384, 4, 4) // the same work on four threads: faster
	tests := []struct {
		name      string
		file      string
		inline    []User
		wantAlg   int // 0 bcrypt, 1 argon2id
		wantDecoy string
	}{
		{"highest bcrypt cost, not the commonest", lines("b:"+c4a, "a:"+c5a, "d:"+c4b), nil, 0, c5a},
		{"highest cost: the first of them", lines("b:"+c4a, "a:"+c5a, "c:"+c5b), nil, 0, c5a},
		{"inline users count too", lines("a:" + c4a), []User{{Name: "i", Hash: c4b}, {Name: "j", Hash: c5b}}, 0, c5b},
		{"only argon2id users, bcrypt first", lines("a:" + ar), nil, 1, ar},
		{"argon2id: most memory x passes", lines("a:"+arLight, "b:"+ar, "c:"+arHeavy), nil, 1, arHeavy},
		{"argon2id: the default beats a lighter one", lines("a:"+arLight, "b:"+ar), nil, 1, ar},
		{"argon2id: same work, fewer threads", lines("a:"+arHeavyParallel, "b:"+arHeavy), nil, 1, arHeavy},
		// Across algorithms, by time: argon2id with 46 MiB is many times slower than bcrypt 5.
		{"mixed algorithms: the slower", lines("a:"+c5a, "b:"+ar, "c:"+c4a), nil, 1, ar},
		{"no users: the first algorithm's fake hash", "# nobody yet\n", nil, 0, string(caddyAlgorithms()[0].FakeHash)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			algs, b, a := recorded()
			l, err := NewLocal(LocalConfig{Users: tt.inline, File: writeFile(t, tt.file), Algorithms: algs})
			if err != nil {
				t.Fatal(err)
			}
			b.reset() // the timing of mixed algorithms compared each once
			a.reset()
			if _, err := l.Authenticate(context.Background(), "nobody", "x"); !errors.Is(err, ErrInvalid) {
				t.Fatalf("unknown user: %v", err)
			}
			got := [][]string{b.compared(), a.compared()}
			if len(got[tt.wantAlg]) != 1 || got[tt.wantAlg][0] != tt.wantDecoy || len(got[1-tt.wantAlg]) != 0 {
				t.Fatalf("compared bcrypt %q, argon2id %q; want only %q", got[0], got[1], tt.wantDecoy)
			}
		})
	}
}

// TestLocalDecoyAcrossAlgorithms checks the choice between algorithms with comparers of known
// speed: whichever is slower is the decoy, each cost class is timed once, and a reloaded file
// with a new costliest user moves the decoy to it.
func TestLocalDecoyAcrossAlgorithms(t *testing.T) {
	c4, c6 := bcryptHash(t, "x", 4, "$2b$"), bcryptHash(t, "x", 6, "$2b$")
	ar := argon2Hash(t, "x")
	for _, tt := range []struct {
		name           string
		bcrypt, argon2 time.Duration
		want           string
	}{
		{"bcrypt slower", 40 * time.Millisecond, time.Millisecond, c4},
		{"argon2id slower", time.Millisecond, 40 * time.Millisecond, ar},
	} {
		t.Run(tt.name, func(t *testing.T) {
			algs := caddyAlgorithms()
			b := &recorder{Comparer: sleeper(tt.bcrypt)}
			a := &recorder{Comparer: sleeper(tt.argon2)}
			algs[0].Comparer, algs[1].Comparer = b, a
			core, logs := observer.New(zap.WarnLevel)
			path := writeFile(t, lines("a:"+c4, "b:"+ar))
			l, err := NewLocal(LocalConfig{File: path, Algorithms: algs, Logger: zap.New(core)})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(b.compared()) + len(a.compared()); n != 2 {
				t.Fatalf("%d timing comparisons, want one per algorithm", n)
			}
			if got := l.users.Load().decoy; string(got.hash) != tt.want {
				t.Fatalf("decoy %s, want %s", got.where, tt.want)
			}
			if n := len(logs.FilterMessageSnippet("different costs").All()); n != 1 {
				t.Fatalf("%d warnings about mixed costs, want 1", n)
			}
			// A new bcrypt user of a higher cost: its class is timed (the old ones are not
			// again), and is the decoy when bcrypt is the slower.
			b.reset()
			a.reset()
			l.mu.Lock()
			l.read = nil // as if the file changed
			writeFileAt(t, path, lines("a:"+c4, "b:"+ar, "c:"+c6))
			if err := l.load(); err != nil {
				t.Fatal(err)
			}
			l.mu.Unlock()
			if got := b.compared(); len(got) != 1 || got[0] != c6 || len(a.compared()) != 0 {
				t.Fatalf("after reload timed bcrypt %d, argon2id %d; want the new class only", len(got), len(a.compared()))
			}
			want := tt.want
			if want == c4 {
				want = c6
			}
			if got := l.users.Load().decoy; string(got.hash) != want {
				t.Fatalf("after reload decoy %s, want %s", got.where, want)
			}
		})
	}
}

// TestLocalDecoyTiming measures: an unknown user takes as long as the costliest user, not the
// cheaper one most users have. Costs 4 and 8 differ 16 times, so the margins are wide even on a
// loaded machine: the median unknown-user login must take at least half the costly user's.
func TestLocalDecoyTiming(t *testing.T) {
	cheap, costly := bcryptHash(t, "x", 4, "$2b$"), bcryptHash(t, "x", 8, "$2b$")
	l, err := NewLocal(LocalConfig{Users: []User{{Name: "a", Hash: cheap}, {Name: "b", Hash: cheap}, {Name: "c", Hash: costly}},
		Algorithms: caddyAlgorithms()})
	if err != nil {
		t.Fatal(err)
	}
	median := func(user string) time.Duration {
		var d []time.Duration
		for range 5 {
			start := time.Now()
			_, _ = l.Authenticate(context.Background(), user, "wrong")
			d = append(d, time.Since(start))
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	unknown, cost8, cost4 := median("nobody"), median("c"), median("a")
	if unknown < cost8/2 || unknown < 4*cost4 {
		t.Fatalf("unknown user %s; cost-8 user %s, cost-4 user %s: want about the cost-8 time", unknown, cost8, cost4)
	}
}

// TestLocalGate checks that every comparison, for known and unknown users alike, waits for a
// place in the gate, gives up when the login request ends, and gives the place back.
func TestLocalGate(t *testing.T) {
	algs, b, _ := recorded()
	g := limit.NewGate(1)
	l, err := NewLocal(LocalConfig{Users: []User{{Name: "alice", Hash: bcryptHash(t, "pw", 4, "$2b$")}}, Algorithms: algs, Gate: g})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Enter(context.Background(), ""); err != nil { // the gate is now full
		t.Fatal(err)
	}
	for _, user := range []string{"alice", "nobody"} {
		_, err := l.Authenticate(&endsWhileWaiting{Context: context.Background()}, user, "pw")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s through a full gate: %v, want context.Canceled", user, err)
		}
	}
	if n := len(b.compared()); n != 0 {
		t.Fatalf("%d comparisons ran without a place in the gate", n)
	}
	g.Leave("")
	// A client holding its share of the gate is refused at once, before any comparison; other
	// clients are not.
	shared := limit.NewSizedGate(limit.GateSize{Places: 1, Queue: 4, PerKey: 1})
	ls, err := NewLocal(LocalConfig{Users: []User{{Name: "alice", Hash: bcryptHash(t, "pw", 4, "$2b$")}}, Algorithms: algs, Gate: shared})
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.Enter(context.Background(), "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"alice", "nobody"} {
		if _, err := ls.Authenticate(limit.WithClient(context.Background(), "192.0.2.1"), user, "pw"); !errors.Is(err, limit.ErrShareExceeded) {
			t.Fatalf("%s from a client over its share: %v, want ErrShareExceeded", user, err)
		}
	}
	if n := len(b.compared()); n != 0 {
		t.Fatalf("%d comparisons ran for a client over its share", n)
	}
	shared.Leave("192.0.2.1")
	if _, err := ls.Authenticate(limit.WithClient(context.Background(), "192.0.2.1"), "alice", "pw"); err != nil {
		t.Fatalf("after the share was given back: %v", err)
	}
	for range 3 { // with a gate of one, a place not given back would block the next login
		if _, err := l.Authenticate(context.Background(), "alice", "pw"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Authenticate(context.Background(), "nobody", "pw"); !errors.Is(err, ErrInvalid) {
			t.Fatal(err)
		}
	}
}

// failing is a comparer that fails: with an error, or by panicking.
type failing struct{ panics bool }

func (f failing) Compare(hashed, plaintext []byte) (bool, error) {
	if f.panics {
		panic("comparer bug")
	}
	return true, errors.New("cannot compare")
}

// TestLocalComparerFailure checks that a comparer error or panic is never a login, and that
// the log names the user's place and never the hash or the password.
func TestLocalComparerFailure(t *testing.T) {
	hash := bcryptHash(t, "pw", 4, "$2b$")
	for _, f := range []failing{{panics: false}, {panics: true}} {
		algs := caddyAlgorithms()
		algs[0].Comparer = f
		core, logs := observer.New(zap.DebugLevel)
		l, err := NewLocal(LocalConfig{Users: []User{{Name: "alice", Hash: hash}}, Algorithms: algs, Logger: zap.New(core)})
		if err != nil {
			t.Fatal(err)
		}
		if id, err := l.Authenticate(context.Background(), "alice", "pw"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("panics=%v: Authenticate = %v, %v; want ErrInvalid", f.panics, id, err)
		}
		entries := logs.FilterMessageSnippet("cannot be checked").All()
		if len(entries) != 1 || entries[0].ContextMap()["user"] != "inline user 1" {
			t.Fatalf("panics=%v: logs %v", f.panics, logs.All())
		}
		for _, e := range logs.All() {
			for _, v := range e.ContextMap() {
				if s, _ := v.(string); strings.Contains(s, hash[7:]) || strings.Contains(s, "pw") {
					t.Fatalf("log quotes a hash or password: %v", e.ContextMap())
				}
			}
		}
	}
}

// TestLocalClaimsAreCopies checks that a caller changing an Identity's claims (or the config
// they came from) changes no later login.
func TestLocalClaimsAreCopies(t *testing.T) {
	claims := map[string]any{"role": "admin"}
	l, err := NewLocal(LocalConfig{Users: []User{{Name: "a", Hash: bcryptHash(t, "pw", 4, "$2b$"), Claims: claims}}, Algorithms: caddyAlgorithms()})
	if err != nil {
		t.Fatal(err)
	}
	claims["role"] = "changed in config"
	id, err := l.Authenticate(context.Background(), "a", "pw")
	if err != nil {
		t.Fatal(err)
	}
	id.Claims["role"] = "changed by caller"
	id, _ = l.Authenticate(context.Background(), "a", "pw")
	if id.Claims["role"] != "admin" {
		t.Fatalf("claims = %v", id.Claims)
	}
	if !slices.Equal(keys(id.Claims), []string{"role"}) {
		t.Fatalf("claims = %v", id.Claims)
	}
}

func keys(m map[string]any) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}
