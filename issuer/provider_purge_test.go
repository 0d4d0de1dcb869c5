package issuer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// TestProviderPurgeLeavesOtherFiles: the purge deletes the expired requests and codes, and the
// unreadable records of its own names, but not what else is in its folders, such as the
// temporary file Caddy's file storage writes a record to before renaming it (deleting it failed
// the authorization request being saved, under load, on the first purge after start).
func TestProviderPurgeLeavesOtherFiles(t *testing.T) {
	ctx := context.Background()
	mem := kv.NewMemory()
	now := time.Now()
	s := &opStorage{kv: mem, prefix: "oidc/", now: func() time.Time { return now }}
	old := now.Add(-2 * time.Hour).Unix()
	live := strings.Repeat("a", 32)
	expired := strings.Repeat("b", 32)
	unreadable := strings.Repeat("c", 32)
	if err := s.save(ctx, s.reqKey(live), authRequest{ID: live, Created: now.Unix()}); err != nil {
		t.Fatal(err)
	}
	if err := s.save(ctx, s.reqKey(expired), authRequest{ID: expired, Created: old}); err != nil {
		t.Fatal(err)
	}
	if err := s.save(ctx, s.codeKey("used-long-ago"), codeRecord{At: old}); err != nil {
		t.Fatal(err)
	}
	others := []string{"oidc/req/4202030757", "oidc/code/4202030758", "oidc/req/" + strings.Repeat("A", 32)}
	for _, k := range append(others, s.reqKey(unreadable)) {
		if err := mem.Store(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Purge(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Purge: %d, %v; want 3 (the expired request, the old code, the unreadable request)", n, err)
	}
	for _, k := range append(others, s.reqKey(live)) {
		if _, err := mem.Load(ctx, k); err != nil {
			t.Errorf("%s: %v after the purge, want it kept", k, err)
		}
	}
	for _, k := range []string{s.reqKey(expired), s.reqKey(unreadable), s.codeKey("used-long-ago")} {
		if _, err := mem.Load(ctx, k); !kv.IsNotExist(err) {
			t.Errorf("%s: %v after the purge, want it deleted", k, err)
		}
	}
}
