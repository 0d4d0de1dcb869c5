package yaegitest

import (
	"encoding/base64"
	"os"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func b64d(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
