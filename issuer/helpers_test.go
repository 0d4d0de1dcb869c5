package issuer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/revoke"
	"github.com/gatehouse-dev/gatehouse/internal/users"
)

// testSecret is the HS256 key of the test issuer (as a Django SECRET_KEY would be).
const testSecret = "test-secret-of-at-least-thirty-two-bytes-0123456789"

// The fake user database: alice has a user_id claim, bob has none (his username is his id).
const (
	alicePassword = "alice's s3cret"
	bobPassword   = "bob-pw"
)

// fakeUsers is a users.Authenticator over a fixed table; err, when set, is every answer.
type fakeUsers struct {
	mu    sync.Mutex
	err   error
	calls atomic.Int32
}

func (f *fakeUsers) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeUsers) Authenticate(ctx context.Context, username, password string) (users.Identity, error) {
	f.calls.Add(1)
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return users.Identity{}, err
	}
	switch {
	case username == "alice" && password == alicePassword:
		return users.Identity{Username: "alice", Claims: map[string]any{"user_id": 7.0, "roles": []any{"admin"}}}, nil
	case username == "bob" && password == bobPassword:
		return users.Identity{Username: "bob"}, nil
	case username == "broken" && password == "x":
		// Names that differ only in case: the minter refuses to make a token of them.
		return users.Identity{Username: "broken", Claims: map[string]any{"role": "a", "ROLE": "b"}}, nil
	}
	return users.Identity{}, users.ErrInvalid
}

// errStorageDown is what flakyStorage answers while it is down.
var errStorageDown = errors.New("storage is down")

// flakyStorage is a kv.Storage that can be taken down: every call then fails (Exists says no);
// or made read-only: Store, Delete and Lock fail.
type flakyStorage struct {
	kv.Storage
	down, readOnly atomic.Bool
}

func (s *flakyStorage) Store(ctx context.Context, key string, value []byte) error {
	if s.down.Load() || s.readOnly.Load() {
		return errStorageDown
	}
	return s.Storage.Store(ctx, key, value)
}

func (s *flakyStorage) Load(ctx context.Context, key string) ([]byte, error) {
	if s.down.Load() {
		return nil, errStorageDown
	}
	return s.Storage.Load(ctx, key)
}

func (s *flakyStorage) Delete(ctx context.Context, key string) error {
	if s.down.Load() || s.readOnly.Load() {
		return errStorageDown
	}
	return s.Storage.Delete(ctx, key)
}

func (s *flakyStorage) Exists(ctx context.Context, key string) bool {
	return !s.down.Load() && s.Storage.Exists(ctx, key)
}

func (s *flakyStorage) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	if s.down.Load() {
		return nil, errStorageDown
	}
	return s.Storage.List(ctx, path, recursive)
}

func (s *flakyStorage) Lock(ctx context.Context, name string) error {
	if s.down.Load() || s.readOnly.Load() {
		return errStorageDown
	}
	return s.Storage.Lock(ctx, name)
}

func (s *flakyStorage) Unlock(ctx context.Context, name string) error {
	// Unlock always goes through: a lock taken while up must be released.
	return s.Storage.Unlock(ctx, name)
}

// fixture is a Handler over real key ring, minter and revocation store, with fake users and a
// storage that can fail.
type fixture struct {
	t       testing.TB
	h       *Handler
	cfg     Config
	users   *fakeUsers
	storage *flakyStorage
	signer  *mint.Signer
	logs    *observer.ObservedLogs
	// ahead moves the revocation store's clock forward (the grace of a renewal is timed there).
	ahead time.Duration
}

// option changes the fixture's Config before New.
type option func(*Config)

func rotating(c *Config) { c.RotateRefresh = true }

func basePath(p string) option { return func(c *Config) { c.BasePath = p } }

func newFixture(t testing.TB, opts ...option) *fixture {
	t.Helper()
	signer, err := mint.NewHMAC([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	ring := mint.StaticRing(signer)
	minter, err := mint.NewMinter(mint.Config{}, ring)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, users: &fakeUsers{}, storage: &flakyStorage{Storage: kv.NewMemory()}, signer: signer}
	store, err := revoke.New(revoke.Config{Storage: f.storage, Prefix: "gatehouse/issuer/revoke",
		Now: func() time.Time { return time.Now().Add(f.ahead) }})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	f.logs = logs
	f.cfg = Config{Users: f.users, Ring: ring, Minter: minter, Store: store, Logger: zap.New(core)}
	for _, o := range opts {
		o(&f.cfg)
	}
	if f.h, err = New(f.cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

// do sends a request with a body of content type ct ("" for none) and returns the response.
func (f *fixture) do(method, path, ct, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// post sends a JSON body made of name, value pairs.
func (f *fixture) post(path string, pairs ...string) *httptest.ResponseRecorder {
	m := map[string]string{}
	for i := 0; i < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	b, _ := json.Marshal(m)
	return f.do(http.MethodPost, path, ctJSON, string(b))
}

// login logs alice in and returns her access and refresh tokens.
func (f *fixture) login() (access, refresh string) {
	f.t.Helper()
	w := f.post("/", "username", "alice", "password", alicePassword)
	if w.Code != http.StatusOK {
		f.t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var out map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		f.t.Fatal(err)
	}
	return out["access"], out["refresh"]
}

// sign signs a token with the fixture's key: claims as given, so tests can make tokens the
// minter never would.
func (f *fixture) sign(claims string) string {
	f.t.Helper()
	tok, err := f.signer.Sign([]byte(claims))
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// noSecretsLogged fails when any log entry mentions one of secrets.
func (f *fixture) noSecretsLogged(secrets ...string) {
	f.t.Helper()
	for _, e := range f.logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		text := e.Message + string(line)
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				f.t.Fatalf("log entry %q mentions a secret", e.Message)
			}
		}
	}
}

// payload decodes a token's claims.
func payload(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// expect checks a response's status, exact body and the headers every answer carries.
func (f *fixture) expect(w *httptest.ResponseRecorder, status int, body string) {
	f.t.Helper()
	if w.Code != status || w.Body.String() != body {
		f.t.Fatalf("got %d %s\nwant %d %s", w.Code, w.Body, status, body)
	}
	f.jsonHeaders(w)
}

// jsonHeaders checks the headers of every JSON answer, the challenge exactly on 401s.
func (f *fixture) jsonHeaders(w *httptest.ResponseRecorder) {
	f.t.Helper()
	h := w.Header()
	if ct := h.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("Content-Type %q", ct)
	}
	if cc := h.Get("Cache-Control"); cc != "no-store" {
		f.t.Errorf("Cache-Control %q", cc)
	}
	want := ""
	if w.Code == http.StatusUnauthorized {
		want = `Bearer realm="api"`
		if f.cfg.Realm != "" {
			want = `Bearer realm="` + f.cfg.Realm + `"`
		}
	}
	if got := h.Get("WWW-Authenticate"); got != want {
		f.t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}
}

// time in whole seconds, as tokens carry it.
func unixNow() float64 { return float64(time.Now().Unix()) }
