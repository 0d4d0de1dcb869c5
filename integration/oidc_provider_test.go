package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The interop test's provider: panva's oidc-provider (pinned in
// integration/oidcprovider/package-lock.json), run by node from integration/oidcprovider.
const (
	oidcProviderDir = "oidcprovider"
	// oidcResource is the provider's one Resource Server (provider.mjs): the resource indicator
	// the clients ask for, hence the access tokens' aud.
	oidcResource = "https://api.gatehouse.test/"
	// oidcWebClient logs a user in with the authorization code flow; its ID tokens' aud is this
	// client id. Its secret and redirect URI are provider.mjs's.
	oidcWebClient      = "web-app"
	oidcWebSecret      = "web-app-secret"
	oidcWebRedirectURI = "http://127.0.0.1/cb"
	// oidcRotationLimit bounds how long Caddy may take to accept a token signed with a key the
	// provider started publishing after Caddy's last JWKS fetch. The first unknown kid is
	// fetched for at once, even right after a fetch; the limit is far below the 30 s between
	// fetches a flood of unknown kids gets, and leaves room for a loaded machine.
	oidcRotationLimit = 5 * time.Second
)

// TestOIDCProvider puts jwt_auth with jwks_url in front of a real OpenID provider that Gatehouse
// did not write: npm oidc-provider 9, issuing RFC 9068 JWT access tokens (typ at+jwt) by the
// client_credentials grant for a Resource Server (RFC 8707), signed with RS256, PS256, ES256,
// EdDSA and RFC 9864's Ed25519, and ID tokens by the authorization code flow. Caddy must accept
// every algorithm, refuse altered tokens, match the space-separated scope claim by word, tell
// access tokens from ID tokens with `typ at+jwt`, and follow a key rotation (the provider
// restarted with new keys and kids) without a reload.
func TestOIDCProvider(t *testing.T) {
	t.Parallel()
	node := oidcProviderTools(t)
	op := startOIDCProvider(t, node, 0)

	common := fmt.Sprintf("\t\t\tjwks_url %s\n\t\t\tissuer %s\n", op.JWKSURI, op.Issuer)
	srv := startCaddy(t, fmt.Sprintf(`
	handle /any {
		jwt_auth {
%[1]s			audience %[2]s
		}
		respond "ok {http.auth.user.id}"
	}
	handle /scoped {
		jwt_auth {
%[1]s			audience %[2]s
			require scope api:read
		}
		respond "ok {http.auth.user.id}"
	}
	handle /at {
		jwt_auth {
%[1]s			audience %[2]s %[3]s
			typ at+jwt
		}
		respond "ok {http.auth.user.id}"
	}
	handle /loose {
		jwt_auth {
%[1]s			audience %[2]s %[3]s
		}
		respond "ok {http.auth.user.id}"
	}
	respond 404`, common, oidcResource, oidcWebClient))

	// The first JWKS fetch runs in the background: wait for it before judging anything.
	ready := op.accessToken(t, "svc-rs256", "api:read api:write")
	if !eventually(10*time.Second, func() bool { return get(t, srv.URL+"/any", bearer(ready)).Status == http.StatusOK }) {
		r := get(t, srv.URL+"/any", bearer(ready))
		t.Fatalf("Caddy never accepted the provider's RS256 token: %d %s", r.Status, r.Body)
	}

	t.Run("algorithms", func(t *testing.T) {
		for _, c := range []struct{ client, alg, jwkAlg string }{
			{"svc-rs256", "RS256", ""},
			{"svc-ps256", "PS256", ""},
			{"svc-es256", "ES256", "ES256"},
			{"svc-eddsa", "EdDSA", "EdDSA"},
			{"svc-eddsa-anykey", "EdDSA", ""},
		} {
			t.Run(c.client, func(t *testing.T) {
				tok := op.accessToken(t, c.client, "api:read api:write")
				op.checkSignedWith(t, tok, c.alg, c.jwkAlg)
				expect(t, c.alg+" access token", get(t, srv.URL+"/any", bearer(tok)), http.StatusOK, "ok "+c.client)
			})
		}
	})

	t.Run("tampered", func(t *testing.T) {
		for _, client := range []string{"svc-rs256", "svc-ps256", "svc-es256", "svc-eddsa", "svc-ed25519"} {
			tok := op.accessToken(t, client, "api:read api:write")
			// One byte of the claims changed (the last letter of sub), the signature kept.
			forged := withPayload(t, tok, func(p string) string {
				old := `"sub":"` + client + `"`
				if !strings.Contains(p, old) {
					t.Fatalf("%s token payload %s has no %s", client, p, old)
				}
				return strings.Replace(p, old, `"sub":"`+client[:len(client)-1]+`X"`, 1)
			})
			expect(t, client+" token with another sub", get(t, srv.URL+"/any", bearer(forged)), http.StatusUnauthorized, bodyInvalid)
			expect(t, client+" token with a changed signature", get(t, srv.URL+"/any", bearer(tamper(tok))), http.StatusUnauthorized, bodyInvalid)
			// The untouched token still passes: the refusals were about the changes.
			expect(t, client+" token", get(t, srv.URL+"/any", bearer(tok)), http.StatusOK, "ok "+client)
		}
	})

	t.Run("scope", func(t *testing.T) {
		both := op.accessToken(t, "svc-es256", "api:read api:write")
		if got := claimsOf(t, both)["scope"]; got != "api:read api:write" {
			t.Fatalf("the provider's scope claim is %#v, want the string \"api:read api:write\"", got)
		}
		expect(t, "require scope api:read, scope \"api:read api:write\"", get(t, srv.URL+"/scoped", bearer(both)), http.StatusOK, "ok svc-es256")
		writeOnly := op.accessToken(t, "svc-es256", "api:write")
		if got := claimsOf(t, writeOnly)["scope"]; got != "api:write" {
			t.Fatalf("the provider's scope claim is %#v, want \"api:write\"", got)
		}
		expect(t, "require scope api:read, scope \"api:write\"", get(t, srv.URL+"/scoped", bearer(writeOnly)), http.StatusForbidden, bodyPermission)
	})

	t.Run("typ", func(t *testing.T) {
		at := op.accessToken(t, "svc-rs256", "api:read")
		if typ := headerOf(t, at)["typ"]; typ != "at+jwt" {
			t.Fatalf("the provider's access token has typ %#v, want at+jwt", typ)
		}
		expect(t, "typ at+jwt, access token", get(t, srv.URL+"/at", bearer(at)), http.StatusOK, "ok svc-rs256")

		id := op.idToken(t, "alice")
		if typ, ok := headerOf(t, id)["typ"]; ok && typ != "JWT" {
			t.Fatalf("the provider's ID token has typ %#v, want none or JWT", typ)
		}
		if aud := claimsOf(t, id)["aud"]; aud != oidcWebClient {
			t.Fatalf("the provider's ID token has aud %#v, want %s", aud, oidcWebClient)
		}
		// Where the audience includes the web client, the ID token is otherwise a valid token...
		expect(t, "no typ, ID token", get(t, srv.URL+"/loose", bearer(id)), http.StatusOK, "ok alice")
		// ...and typ at+jwt is what keeps it from being used as an access token.
		r := get(t, srv.URL+"/at", bearer(id))
		if r.Status != http.StatusUnauthorized {
			t.Errorf("typ at+jwt, ID token: %d %s, want 401", r.Status, r.Body)
		}
	})

	t.Run("Ed25519", func(t *testing.T) {
		// RFC 9864's fully specified name, in the token and in the published JWK, and with a JWK
		// that names no algorithm.
		for _, c := range []struct{ client, jwkAlg string }{
			{"svc-ed25519", "Ed25519"},
			{"svc-ed25519-anykey", ""},
		} {
			tok := op.accessToken(t, c.client, "api:read")
			op.checkSignedWith(t, tok, "Ed25519", c.jwkAlg)
			expect(t, "alg Ed25519 token, JWK alg "+c.jwkAlg, get(t, srv.URL+"/any", bearer(tok)), http.StatusOK, "ok "+c.client)
		}
	})

	// Last: the provider is restarted with new keys.
	t.Run("rotation", func(t *testing.T) {
		old := op.accessToken(t, "svc-es256", "api:read")
		expect(t, "a token of the first keys", get(t, srv.URL+"/any", bearer(old)), http.StatusOK, "ok svc-es256")
		oldKids := op.kids(t)
		issuer := op.Issuer
		op.stop()
		op = startOIDCProvider(t, node, op.port)
		if op.Issuer != issuer {
			t.Fatalf("the restarted provider's issuer is %s, want %s", op.Issuer, issuer)
		}
		for kid := range op.kids(t) {
			if oldKids[kid] {
				t.Fatalf("the restarted provider kept kid %s; it should have new keys", kid)
			}
		}

		for _, client := range []string{"svc-es256", "svc-rs256", "svc-ed25519"} {
			tok := op.accessToken(t, client, "api:read")
			start := time.Now()
			var r response
			if !eventually(oidcRotationLimit, func() bool {
				r = get(t, srv.URL+"/any", bearer(tok))
				return r.Status == http.StatusOK
			}) {
				t.Fatalf("a %s token of the new keys: %d %s for %s, want 200 without a reload", client, r.Status, r.Body, oidcRotationLimit)
			}
			expect(t, "a token of the new keys", r, http.StatusOK, "ok "+client)
			t.Logf("%s: a token of the new keys was accepted %s after the first try", client, time.Since(start).Round(time.Millisecond))
		}
		// The retired key is gone from the set Caddy now holds.
		expect(t, "a token of the retired keys", get(t, srv.URL+"/any", bearer(old)), http.StatusUnauthorized, bodyInvalid)
	})
}

// oidcProvider is one run of integration/oidcprovider/provider.mjs.
type oidcProvider struct {
	// Issuer is the provider's issuer, http://127.0.0.1:<port>.
	Issuer string
	// JWKSURI, TokenEndpoint and AuthorizationEndpoint are from its discovery document.
	JWKSURI, TokenEndpoint, AuthorizationEndpoint string

	port   int
	cmd    *exec.Cmd
	stdin  io.Closer
	out    *providerOutput
	exited chan struct{}
}

// oidcProviderTools returns node's path, after installing the provider's npm packages (npm ci,
// from package-lock.json) when they are missing. A missing tool fails the test: it is never
// skipped.
func oidcProviderTools(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing: apt-get install nodejs npm (./xcaddy.sh test does)")
	}
	if _, err := os.Stat(filepath.Join(oidcProviderDir, "node_modules", "oidc-provider", "package.json")); err == nil {
		return node
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm is missing (needed to install integration/oidcprovider's packages): apt-get install npm")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = oidcProviderDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in integration/oidcprovider: %v\n%s", err, out)
	}
	return node
}

// startOIDCProvider runs provider.mjs on 127.0.0.1:port (0: a free port) and waits until it
// serves its discovery document. The process is stopped when the test ends; its output is
// printed if the test failed.
func startOIDCProvider(t *testing.T, node string, port int) *oidcProvider {
	t.Helper()
	return startProviderScript(t, node, "provider.mjs", port)
}

// startProviderScript runs script of integration/oidcprovider (provider.mjs or another that
// prints the same `listening` line) with the port and args, as startOIDCProvider does.
func startProviderScript(t *testing.T, node, script string, port int, args ...string) *oidcProvider {
	t.Helper()
	p := &oidcProvider{out: &providerOutput{listening: make(chan string, 1)}, exited: make(chan struct{})}
	p.cmd = exec.Command(node, append([]string{script, fmt.Sprint(port)}, args...)...)
	p.cmd.Dir = oidcProviderDir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	stdin, err := p.cmd.StdinPipe() // closed at the end: provider.mjs exits with it
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting node provider.mjs: %v", err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("oidc-provider (port %d) output:\n%s", p.port, p.out.String())
		}
	})

	var ready struct {
		Issuer string `json:"issuer"`
		Port   int    `json:"port"`
	}
	select {
	case line := <-p.out.listening:
		if err := json.Unmarshal([]byte(line), &ready); err != nil || ready.Port == 0 {
			t.Fatalf("provider.mjs said %q: %v", line, err)
		}
	case <-p.exited:
		t.Fatalf("provider.mjs exited (%v) before listening:\n%s", p.cmd.ProcessState, p.out.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("provider.mjs did not listen within 15s:\n%s", p.out.String())
	}
	p.Issuer, p.port = ready.Issuer, ready.Port

	var discovery struct {
		Issuer                string `json:"issuer"`
		JWKSURI               string `json:"jwks_uri"`
		TokenEndpoint         string `json:"token_endpoint"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
	}
	p.getJSON(t, p.Issuer+"/.well-known/openid-configuration", &discovery)
	if discovery.Issuer != p.Issuer || discovery.JWKSURI == "" || discovery.TokenEndpoint == "" || discovery.AuthorizationEndpoint == "" {
		t.Fatalf("provider discovery document %+v, issuer want %s", discovery, p.Issuer)
	}
	p.JWKSURI, p.TokenEndpoint, p.AuthorizationEndpoint = discovery.JWKSURI, discovery.TokenEndpoint, discovery.AuthorizationEndpoint
	return p
}

// stop closes the provider's stdin and sends SIGTERM, and kills it if it has not exited 3
// seconds later.
func (p *oidcProvider) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// opClient talks to the provider; it follows no redirect, so the authorization code flow sees
// each step.
var opClient = &http.Client{
	Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// getJSON decodes the 200 JSON answer of GET url into v.
func (p *oidcProvider) getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := opClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// tokenRequest posts form to the token endpoint as client (client_secret_basic) and returns the
// named field of the answer.
func (p *oidcProvider) tokenRequest(t *testing.T, client, secret string, form url.Values, field string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, secret)
	resp, err := opClient.Do(req)
	if err != nil {
		t.Fatalf("token request (%s): %v", form.Get("grant_type"), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var answer map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &answer) != nil {
		t.Fatalf("token request (%s) as %s: %d %s", form.Get("grant_type"), client, resp.StatusCode, body)
	}
	tok, _ := answer[field].(string)
	if tok == "" {
		t.Fatalf("token answer without %s: %s", field, body)
	}
	return tok
}

// accessToken is a JWT access token for the Resource Server, issued to client (secret:
// "<client>-secret", as provider.mjs sets) by the client_credentials grant with scope.
func (p *oidcProvider) accessToken(t *testing.T, client, scope string) string {
	t.Helper()
	return p.tokenRequest(t, client, client+"-secret", url.Values{
		"grant_type": {"client_credentials"}, "resource": {oidcResource}, "scope": {scope},
	}, "access_token")
}

// formAction and formPrompt find the devInteractions form (login or consent) in a page.
var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	formPrompt = regexp.MustCompile(`name="prompt" value="([^"]+)"`)
)

// idToken logs login in through the web client's authorization code flow, as a browser would
// (devInteractions' login form accepts any login), and returns the ID token the code is
// exchanged for.
func (p *oidcProvider) idToken(t *testing.T, login string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := *opClient
	browser.Jar = jar
	authorize := p.AuthorizationEndpoint + "?" + url.Values{
		"client_id": {oidcWebClient}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {oidcWebRedirectURI}, "state": {"state-1"}, "nonce": {"nonce-1"},
	}.Encode()
	req, err := http.NewRequest(http.MethodGet, authorize, nil)
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; step < 10; step++ {
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatalf("authorization code flow, %s %s: %v", req.Method, req.URL, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			next, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatalf("authorization code flow: bad Location %q", resp.Header.Get("Location"))
			}
			if strings.HasPrefix(next.String(), oidcWebRedirectURI) {
				q := next.Query()
				if q.Get("code") == "" || q.Get("state") != "state-1" {
					t.Fatalf("authorization code flow ended at %s", next)
				}
				return p.tokenRequest(t, oidcWebClient, oidcWebSecret, url.Values{
					"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {oidcWebRedirectURI},
				}, "id_token")
			}
			if req, err = http.NewRequest(http.MethodGet, next.String(), nil); err != nil {
				t.Fatal(err)
			}
		case resp.StatusCode == http.StatusOK:
			action, prompt := formAction.FindSubmatch(body), formPrompt.FindSubmatch(body)
			if action == nil || prompt == nil {
				t.Fatalf("authorization code flow, %s: a page without the interaction form:\n%s", req.URL, body)
			}
			target, err := req.URL.Parse(html.UnescapeString(string(action[1])))
			if err != nil {
				t.Fatal(err)
			}
			fields := url.Values{"prompt": {string(prompt[1])}, "login": {login}, "password": {"any"}}
			if req, err = http.NewRequest(http.MethodPost, target.String(), strings.NewReader(fields.Encode())); err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		default:
			t.Fatalf("authorization code flow, %s %s: %d %s", req.Method, req.URL, resp.StatusCode, body)
		}
	}
	t.Fatalf("authorization code flow: no code after 10 steps")
	return ""
}

// publishedKey is one JWK of the provider's JWK Set, as far as the test reads it.
type publishedKey struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg"`
}

// keys is the provider's JWK Set, from its jwks_uri.
func (p *oidcProvider) keys(t *testing.T) []publishedKey {
	t.Helper()
	var set struct {
		Keys []publishedKey `json:"keys"`
	}
	p.getJSON(t, p.JWKSURI, &set)
	return set.Keys
}

// kids is the set of key ids the provider publishes.
func (p *oidcProvider) kids(t *testing.T) map[string]bool {
	t.Helper()
	kids := make(map[string]bool)
	for _, k := range p.keys(t) {
		kids[k.Kid] = true
	}
	return kids
}

// checkSignedWith fails unless tok is an at+jwt whose header says alg and names a kid the
// provider publishes with jwkAlg ("": no alg member), so each case tests what it says it does.
func (p *oidcProvider) checkSignedWith(t *testing.T, tok, alg, jwkAlg string) {
	t.Helper()
	h := headerOf(t, tok)
	if h["alg"] != alg || h["typ"] != "at+jwt" {
		t.Fatalf("token header %v, want alg %s and typ at+jwt", h, alg)
	}
	kid, _ := h["kid"].(string)
	for _, k := range p.keys(t) {
		if k.Kid == kid {
			if k.Alg != jwkAlg {
				t.Fatalf("the token's key %s is published with alg %q, want %q", kid, k.Alg, jwkAlg)
			}
			return
		}
	}
	t.Fatalf("the token's kid %q is not in the provider's JWK Set", kid)
}

// segment decodes part i (0: header, 1: claims) of a compact JWS as a JSON object.
func segment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("token part %d: %v", i, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token part %d: %v", i, err)
	}
	return m
}

func headerOf(t *testing.T, tok string) map[string]any { t.Helper(); return segment(t, tok, 0) }
func claimsOf(t *testing.T, tok string) map[string]any { t.Helper(); return segment(t, tok, 1) }

// withPayload is tok with its claims JSON text replaced by change(claims) and the original
// header and signature.
func withPayload(t *testing.T, tok string, change func(string) string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(change(string(b))))
	return strings.Join(parts, ".")
}

// providerOutput collects provider.mjs's stdout and stderr, and hands over the JSON of its
// `listening {...}` line once.
type providerOutput struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	listening chan string
	announced bool
}

func (o *providerOutput) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(b)
	if !o.announced {
		lines := strings.Split(o.buf.String(), "\n")
		for _, line := range lines[:len(lines)-1] { // the last is not a whole line yet
			if rest, ok := strings.CutPrefix(line, "listening "); ok {
				o.announced = true
				o.listening <- rest
				break
			}
		}
	}
	return len(b), nil
}

func (o *providerOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
