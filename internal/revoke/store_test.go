package revoke

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" for success
	}{
		{"ok", Config{Storage: kv.NewMemory(), Prefix: prefix}, ""},
		{"one segment", Config{Storage: kv.NewMemory(), Prefix: "revoke"}, ""},
		{"no storage", Config{Prefix: prefix}, "a storage is required"},
		{"no prefix", Config{Storage: kv.NewMemory()}, "a storage prefix is required"},
		{"absolute", Config{Storage: kv.NewMemory(), Prefix: "/revoke"}, "relative clean path"},
		{"trailing slash", Config{Storage: kv.NewMemory(), Prefix: "revoke/"}, "relative clean path"},
		{"doubled slash", Config{Storage: kv.NewMemory(), Prefix: "a//b"}, "relative clean path"},
		{"dot", Config{Storage: kv.NewMemory(), Prefix: "."}, "relative clean path"},
		{"dot dot", Config{Storage: kv.NewMemory(), Prefix: ".."}, "relative clean path"},
		{"escaping", Config{Storage: kv.NewMemory(), Prefix: "../revoke"}, "relative clean path"},
		{"inner dot dot", Config{Storage: kv.NewMemory(), Prefix: "a/../b"}, "relative clean path"},
		{"backslash", Config{Storage: kv.NewMemory(), Prefix: `a\..\b`}, "relative clean path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("New = %v, %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to say %q", err, tt.wantErr)
			}
		})
	}
}

// TestInvalidIDs shows that an id that is not [A-Za-z0-9_-]{1,128} is refused by every method
// with ErrInvalidID, and reaches no storage key.
func TestInvalidIDs(t *testing.T) {
	bad := []string{
		"", "../../etc/passwd", "..", ".", "a/b", `a\b`, "a.b", "a b", "a\x00b", "a:b", "é",
		"%2e%2e", strings.Repeat("a", MaxIDLength+1),
	}
	calls := []struct {
		name string
		call func(s *Store, id string) error
	}{
		{"Check jti", func(s *Store, id string) error { return s.Check(ctx, id, "fam") }},
		{"Check family", func(s *Store, id string) error {
			if id == "" {
				return ErrInvalidID // "" is Check's "no family"; covered by TestCheck
			}
			return s.Check(ctx, "jti", id)
		}},
		{"Revoke", func(s *Store, id string) error { return s.Revoke(ctx, id, exp) }},
		{"RevokeFamily", func(s *Store, id string) error { return s.RevokeFamily(ctx, id, exp) }},
		{"Rotate jti", func(s *Store, id string) error { return s.Rotate(ctx, id, "fam", exp) }},
		{"Rotate family", func(s *Store, id string) error { return s.Rotate(ctx, "jti", id, exp) }},
	}
	for _, c := range calls {
		for _, id := range bad {
			t.Run(fmt.Sprintf("%s/%q", c.name, id), func(t *testing.T) {
				f := newFixture(t)
				f.storage.Fail(kv.OpAll) // nothing may be touched
				err := c.call(f.store, id)
				if !errors.Is(err, ErrInvalidID) || errors.Is(err, kv.ErrInjected) {
					t.Fatalf("err = %v, want ErrInvalidID before any storage use", err)
				}
				if id != "" && strings.Contains(err.Error(), id) {
					t.Fatalf("the error %q echoes the id", err)
				}
			})
		}
	}
}

func TestValidIDs(t *testing.T) {
	good := []string{"a", "0123456789abcdef0123456789abcdef", "Z_-9", "550e8400-e29b-41d4-a716-446655440000",
		strings.Repeat("x", MaxIDLength)}
	for _, id := range good {
		f := newFixture(t)
		if err := f.store.Revoke(ctx, id, exp); err != nil {
			t.Fatalf("Revoke(%q) = %v", id, err)
		}
		if err := f.store.Check(ctx, id, ""); !errors.Is(err, ErrRevoked) {
			t.Fatalf("Check(%q) = %v, want ErrRevoked", id, err)
		}
		if got := f.keys(); !slices.Equal(got, []string{k("jti", id)}) {
			t.Fatalf("keys %q", got)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name        string
		revoked     []string // jtis
		families    []string
		jti, family string
		want        error
	}{
		{"nothing stored", nil, nil, "j1", "f1", nil},
		{"no family given", nil, nil, "j1", "", nil},
		{"jti revoked", []string{"j1"}, nil, "j1", "f1", ErrRevoked},
		{"jti revoked, no family given", []string{"j1"}, nil, "j1", "", ErrRevoked},
		{"family revoked", nil, []string{"f1"}, "j2", "f1", ErrRevoked},
		{"family revoked but not given", nil, []string{"f1"}, "j2", "", nil},
		{"another jti revoked", []string{"j2"}, nil, "j1", "f1", nil},
		{"another family revoked", nil, []string{"f2"}, "j1", "f1", nil},
		{"a jti is not a family", []string{"f1"}, nil, "j1", "f1", nil},
		{"a family is not a jti", nil, []string{"j1"}, "j1", "f1", nil},
		{"ids are case-sensitive", []string{"J1"}, []string{"F1"}, "j1", "f1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for _, j := range tt.revoked {
				if err := f.store.Revoke(ctx, j, exp); err != nil {
					t.Fatal(err)
				}
			}
			for _, fam := range tt.families {
				if err := f.store.RevokeFamily(ctx, fam, exp); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.store.Check(ctx, tt.jti, tt.family); err != tt.want {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestCheckDamagedEntryStillRevokes: presence is what revokes; a value the store cannot read
// does not un-revoke.
func TestCheckDamagedEntryStillRevokes(t *testing.T) {
	f := newFixture(t)
	f.put(k("jti", "j1"), "garbage")
	f.put(k("family", "f2"), "")
	if err := f.store.Check(ctx, "j1", ""); err != ErrRevoked {
		t.Fatalf("Check of a damaged jti entry = %v", err)
	}
	if err := f.store.Check(ctx, "j2", "f2"); err != ErrRevoked {
		t.Fatalf("Check of an empty family entry = %v", err)
	}
}

func TestLayout(t *testing.T) {
	f := newFixture(t)
	frac := exp.Add(300 * time.Millisecond) // rounded up: an entry never ends before its token
	if err := f.store.Revoke(ctx, "j1", frac); err != nil {
		t.Fatal(err)
	}
	if err := f.store.RevokeFamily(ctx, "f1", exp); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Rotate(ctx, "j2", "f2", exp); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		k("jti", "j1"):    fmt.Sprintf(`{"exp":%d}`, exp.Unix()+1),
		k("family", "f1"): fmt.Sprintf(`{"exp":%d}`, exp.Unix()),
		k("used", "j2"):   fmt.Sprintf(`{"exp":%d,"at":%d}`, exp.Unix(), f.now.UnixMilli()),
	}
	got := f.keys()
	if len(got) != len(want) {
		t.Fatalf("keys %q, want those of %v", got, want)
	}
	for key, v := range want {
		if f.value(key) != v {
			t.Errorf("%s = %q, want %q", key, f.value(key), v)
		}
	}
	// The rotation lock was released.
	if err := f.mem.Lock(ctx, f.store.lockName("j2")); err != nil {
		t.Fatal(err)
	}
}

func TestRevokeNeedsExp(t *testing.T) {
	f := newFixture(t)
	for name, err := range map[string]error{
		"Revoke":       f.store.Revoke(ctx, "j1", time.Time{}),
		"RevokeFamily": f.store.RevokeFamily(ctx, "f1", time.Time{}),
		"Rotate":       f.store.Rotate(ctx, "j1", "f1", time.Time{}),
	} {
		if err == nil || !strings.Contains(err.Error(), "expiry is required") {
			t.Errorf("%s with a zero exp = %v", name, err)
		}
	}
	if got := f.keys(); len(got) != 0 {
		t.Fatalf("keys %q written", got)
	}
}

// TestRevokeKeepsTheLaterExpiry: revoking again never shortens an entry.
func TestRevokeKeepsTheLaterExpiry(t *testing.T) {
	tests := []struct {
		name          string
		first, second time.Time
		want          time.Time
	}{
		{"later extends", exp, exp.Add(time.Hour), exp.Add(time.Hour)},
		{"earlier keeps", exp.Add(time.Hour), exp, exp.Add(time.Hour)},
		{"same keeps", exp, exp, exp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for _, call := range []struct {
				key    string
				revoke func(time.Time) error
			}{
				{k("jti", "j1"), func(e time.Time) error { return f.store.Revoke(ctx, "j1", e) }},
				{k("family", "f1"), func(e time.Time) error { return f.store.RevokeFamily(ctx, "f1", e) }},
			} {
				if err := call.revoke(tt.first); err != nil {
					t.Fatal(err)
				}
				if err := call.revoke(tt.second); err != nil {
					t.Fatal(err)
				}
				if got, want := f.value(call.key), fmt.Sprintf(`{"exp":%d}`, tt.want.Unix()); got != want {
					t.Fatalf("%s = %s, want %s", call.key, got, want)
				}
			}
		})
	}
}

func TestRevokeReplacesADamagedEntry(t *testing.T) {
	f := newFixture(t)
	f.put(k("family", "f1"), "garbage")
	if err := f.store.RevokeFamily(ctx, "f1", exp); err != nil {
		t.Fatal(err)
	}
	if got, want := f.value(k("family", "f1")), fmt.Sprintf(`{"exp":%d}`, exp.Unix()); got != want {
		t.Fatalf("entry %s, want %s", got, want)
	}
}

// checkReuseLogged checks that logs hold n reuse events, each at warn level and carrying the
// family id and nothing else (never a token id).
func checkReuseLogged(t *testing.T, logs *observer.ObservedLogs, family string, n int) {
	t.Helper()
	got := 0
	for _, e := range logs.All() {
		if !strings.Contains(e.Message, "reuse") {
			continue
		}
		got++
		if e.Level != zapcore.WarnLevel {
			t.Errorf("reuse logged at %v, want warn", e.Level)
		}
		if len(e.Context) != 1 || e.Context[0].Key != "family" || e.Context[0].String != family {
			t.Errorf("reuse event fields %+v, want only family=%q", e.Context, family)
		}
	}
	if got != n {
		t.Errorf("%d reuse events logged, want %d", got, n)
	}
}
