package gatehouse

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestVendorIsCurrent fails when vendor/, which Traefik reads instead of the module graph, is not
// what `go mod vendor` makes from the Gatehouse sources next to this folder: a change to
// internal/verify, internal/keys or internal/token reaches Traefik users only once it is
// vendored again. Fix with: cd traefik && go mod vendor
func TestVendorIsCurrent(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "vendor")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "mod", "vendor", "-o", fresh)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, out)
	}
	want := tree(t, fresh)
	got := tree(t, "vendor")
	for name, data := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("vendor/%s is missing", name)
		} else if !bytes.Equal(g, data) {
			t.Errorf("vendor/%s differs from its source", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("vendor/%s is no longer vendored", name)
		}
	}
	if t.Failed() {
		t.Log("vendor/ is stale; run: cd traefik && go mod vendor")
	}
}

// tree reads every file under dir, by slash path relative to dir.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
