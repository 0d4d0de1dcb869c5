package safeurl

import (
	"errors"
	"net/url"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		url  string
		want error
	}{
		{"https://id.example/jwks", nil},
		{"https://203.0.113.1:8443/x", nil},
		{"http://127.0.0.1:8000/check", nil},
		{"http://127.8.9.10/check", nil},
		{"http://[::1]:9000/check", nil},
		{"http://localhost/check", nil},
		{"http://LocalHost:80/check", nil},
		{"http://[::ffff:127.0.0.1]/check", nil},
		{"http://app.example/check", ErrCleartext},
		{"http://10.0.0.5:8000/check", ErrCleartext},
		{"http://128.0.0.1/check", ErrCleartext},
		{"http://localhost.example/check", ErrCleartext},
		{"http://127.0.0.1.nip.io/check", ErrCleartext},
		{"http://[::2]/check", ErrCleartext},
		{"http://0.0.0.0/check", ErrCleartext},
		{"ftp://127.0.0.1/check", ErrScheme},
		{"HTTPS://id.example/jwks", nil}, // url.Parse lower-cases the scheme
		{"ws://localhost/x", ErrScheme},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(u); !errors.Is(err, tt.want) {
			t.Errorf("Check(%s) = %v, want %v", tt.url, err, tt.want)
		}
	}
}
