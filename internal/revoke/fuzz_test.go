package revoke

import (
	"errors"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// FuzzID checks, for any id, that validation agrees with the documented pattern, that an
// accepted id's key is one clean path segment below its directory (also once Caddy's file
// storage makes it a lock file name), and that a refused id never reaches the storage.
func FuzzID(f *testing.F) {
	for _, s := range []string{
		"", "a", "0123456789abcdef0123456789abcdef", "..", "../../etc/passwd", "a/b", `a\b`, "a\x00",
		"%2e%2e", ".hidden", "-", "_", "é", "\u2215", strings.Repeat("a", 128), strings.Repeat("a", 129),
	} {
		f.Add(s)
	}
	mem := kv.NewMemory()
	fail := kv.NewFailing(mem)
	fail.Fail(kv.OpAll)
	s, err := New(Config{Storage: fail, Prefix: prefix})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id string) {
		ok := validID(id)
		if ok != idPattern.MatchString(id) {
			t.Fatalf("validID(%q) = %v, the pattern says otherwise", id, ok)
		}
		err := s.Check(ctx, id, "")
		if !ok {
			if !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Check(%q) = %v, want ErrInvalidID", id, err)
			}
			return
		}
		if !errors.Is(err, kv.ErrInjected) {
			t.Fatalf("Check(%q) = %v, want it to reach the storage", id, err)
		}
		for _, dir := range []string{dirRevoked, dirUsed, dirFamily, lockDir} {
			key := s.key(dir, id)
			if path.Clean(key) != key || path.Dir(key) != prefix+"/"+dir || path.Base(key) != id {
				t.Fatalf("key %q of id %q is not one segment below %s", key, id, dir)
			}
		}
		if safe := certmagic.StorageKeys.Safe(s.lockName(id)); strings.ContainsAny(safe, `/\`) || strings.Contains(safe, "..") {
			t.Fatalf("lock name %q becomes a path", safe)
		}
	})
}
