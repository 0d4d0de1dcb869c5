package users

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewRemoteErrors(t *testing.T) {
	tests := []struct {
		name, url string
		timeout   time.Duration
		want      string
	}{
		{"empty", "", 0, "no credentials URL"},
		{"unparsable", "http://[::1", 0, "cannot be parsed"},
		{"no scheme", "app.internal/login", 0, "must start with https://"},
		// Plain http carries every password in the clear: only to this machine.
		{"http to a name", "http://app.internal/login", 0, "must use https"},
		{"http to a private address", "http://10.0.0.5:8000/check", 0, "allowed only to a loopback host"},
		{"http to a name that looks local", "http://localhost.example/check", 0, "must use https"},
		{"http to the unspecified address", "http://0.0.0.0:8000/check", 0, "must use https"},
		{"other scheme", "ftp://app.internal/login", 0, "must start with https://"},
		{"unix socket", "unix:///run/app.sock", 0, "must start with https://"},
		{"opaque", "http:app.internal", 0, "has no host"},
		{"no host", "https:///login", 0, "has no host"},
		{"port only", "https://:8000/login", 0, "has no host"},
		{"negative timeout", "https://app.internal/login", -time.Second, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRemote(RemoteConfig{URL: tt.url, Timeout: tt.timeout})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewRemote = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	for _, ok := range []string{"https://app.internal/api/check/", "http://127.0.0.1:8000/check", "HTTPS://App.Internal/x", "https://user:pw@[::1]:8443/x?y=z",
		"http://localhost:8000/check", "http://[::1]:8000/check", "http://127.0.0.2/check"} {
		if _, err := NewRemote(RemoteConfig{URL: ok}); err != nil {
			t.Errorf("NewRemote(%q) = %v", ok, err)
		}
	}
}

// TestRemoteRequest checks what the app receives: a JSON POST of the credentials.
func TestRemoteRequest(t *testing.T) {
	var got struct {
		method, ctype, accept string
		body                  map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.ctype, got.accept = r.Method, r.Header.Get("Content-Type"), r.Header.Get("Accept")
		if err := json.NewDecoder(r.Body).Decode(&got.body); err != nil {
			t.Error(err)
		}
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	r, err := NewRemote(RemoteConfig{URL: srv.URL + "/check"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := r.Authenticate(context.Background(), `al"ice`, "pä\\ss")
	if err != nil {
		t.Fatal(err)
	}
	if id.Username != `al"ice` || id.Claims != nil {
		t.Fatalf("Identity = %#v", id)
	}
	want := map[string]any{"username": `al"ice`, "password": "pä\\ss"}
	if got.method != http.MethodPost || got.ctype != "application/json" || got.accept != "application/json" || !reflect.DeepEqual(got.body, want) {
		t.Fatalf("request = %+v", got)
	}
}

func TestRemoteAnswers(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("x", maxRemoteAnswer-10) + `"}`
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		claims map[string]any
		err    error
		msg    string // part of the error
	}{
		{"yes with claims", 200, "application/json", `{"user_id":12345678901234567890,"roles":["admin"],"staff":true,"org":{"id":"x"}}`,
			map[string]any{"user_id": json.Number("12345678901234567890"), "roles": []any{"admin"}, "staff": true, "org": map[string]any{"id": "x"}}, nil, ""},
		{"yes without claims", 200, "application/json", ` {} `, nil, nil, ""},
		{"yes, content type not JSON", 200, "text/html", `{"a":"b"}`, map[string]any{"a": "b"}, nil, ""},
		{"exactly 64 KiB", 200, "application/json", big, map[string]any{"pad": strings.Repeat("x", maxRemoteAnswer-10)}, nil, ""},
		{"401 is no", 401, "application/json", `{"detail":"bad"}`, nil, ErrInvalid, ""},
		{"403 is no", 403, "text/html", `<h1>inactive</h1>`, nil, ErrInvalid, ""},
		{"401 with a huge body is no", 401, "text/plain", big + big, nil, ErrInvalid, ""},
		{"400 is unavailable", 400, "application/json", `{}`, nil, ErrUnavailable, "answered 400"},
		{"404 is unavailable", 404, "text/html", `not found`, nil, ErrUnavailable, "answered 404"},
		{"500 is unavailable", 500, "text/html", `oops`, nil, ErrUnavailable, "answered 500"},
		{"204 is unavailable", 204, "", ``, nil, ErrUnavailable, "answered 204"},
		{"201 is unavailable", 201, "application/json", `{}`, nil, ErrUnavailable, "answered 201"},
		{"over 64 KiB", 200, "application/json", big + " ", nil, ErrUnavailable, "more than 64 KiB"},
		{"array", 200, "application/json", `[{"a":1}]`, nil, ErrUnavailable, "not an object"},
		{"null", 200, "application/json", `null`, nil, ErrUnavailable, "not an object"},
		{"true", 200, "application/json", `true`, nil, ErrUnavailable, "not an object"},
		{"string", 200, "application/json", `"yes"`, nil, ErrUnavailable, "not an object"},
		{"empty body", 200, "application/json", ``, nil, ErrUnavailable, "not JSON"},
		{"HTML", 200, "text/html", `<html>login</html>`, nil, ErrUnavailable, "not JSON"},
		{"truncated", 200, "application/json", `{"a":`, nil, ErrUnavailable, "not JSON"},
		{"two objects", 200, "application/json", `{}{"admin":true}`, nil, ErrUnavailable, "more than one"},
		{"trailing garbage", 200, "application/json", `{} x`, nil, ErrUnavailable, "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			r, err := NewRemote(RemoteConfig{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			id, err := r.Authenticate(context.Background(), "alice", "pw")
			switch {
			case !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil):
				t.Fatalf("Authenticate = %v, want %v", err, tt.err)
			case err != nil && !strings.Contains(err.Error(), tt.msg):
				t.Fatalf("error %q does not say %q", err, tt.msg)
			case err != nil && (id.Username != "" || id.Claims != nil):
				t.Fatalf("an error with an Identity: %#v", id)
			case err == nil && (id.Username != "alice" || !reflect.DeepEqual(id.Claims, tt.claims)):
				t.Fatalf("Identity = %#v, want claims %#v", id, tt.claims)
			}
		})
	}
}

// TestRemoteRedirects never follows a redirect, not even with a client that would: the
// password must not go elsewhere, and a page reached by a redirect is not a yes.
func TestRemoteRedirects(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		io.WriteString(w, `{"admin":true}`)
	}))
	defer target.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, client := range []*http.Client{nil, {}, {Timeout: time.Minute}} {
			srv := httptest.NewServer(http.RedirectHandler(target.URL, status))
			r, err := NewRemote(RemoteConfig{URL: srv.URL, Client: client})
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Authenticate(context.Background(), "alice", "pw")
			srv.Close()
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("%d, client %v: %v, want ErrUnavailable", status, client, err)
			}
			if client != nil && client.CheckRedirect != nil {
				t.Fatal("NewRemote changed the caller's client")
			}
		}
	}
	if n := followed.Load(); n != 0 {
		t.Fatalf("%d redirects followed", n)
	}
}

// TestRemoteNoAnswer covers checks that get no answer: the app does not answer within the
// timeout (unavailable), the login request goes away (its context error), nobody listens.
func TestRemoteNoAnswer(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(release)
	halfBody := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, `{"a":`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer halfBody.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		url     string
		ctx     context.Context
		timeout time.Duration
		err     error
		msg     string
	}{
		{"app hangs", hung.URL, context.Background(), 50 * time.Millisecond, ErrUnavailable, "did not answer within 50ms"},
		{"app hangs in the body", halfBody.URL, context.Background(), 50 * time.Millisecond, ErrUnavailable, "did not answer within 50ms"},
		{"login request gone", hung.URL, canceled, time.Minute, context.Canceled, ""},
		{"nobody listens", closed.URL, context.Background(), time.Minute, ErrUnavailable, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRemote(RemoteConfig{URL: tt.url + "/check?key=SECRET", Timeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Authenticate(tt.ctx, "alice", "pw")
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Authenticate = %v, want %v saying %q", err, tt.err, tt.msg)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error quotes the URL (the host:port may appear): %v", err)
			}
		})
	}
}

func TestRemoteDefaultTimeout(t *testing.T) {
	r, err := NewRemote(RemoteConfig{URL: "https://app.internal/check"})
	if err != nil {
		t.Fatal(err)
	}
	if r.timeout != 5*time.Second {
		t.Fatalf("timeout = %v, want 5s", r.timeout)
	}
}
