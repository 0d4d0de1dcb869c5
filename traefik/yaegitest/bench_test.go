package yaegitest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testsign"
)

// The benchmarks compare the Gatehouse plugin with a plugin that only calls next, both loaded
// in the same Yaegi interpreter as Traefik loads them, for a token sent again and again (the
// common case: a client reuses its access token until it expires), HS256 and ES256.
//
//   - BenchmarkMiddleware: the middleware alone, next a no-op (ns/op is the interpreted cost).
//   - BenchmarkProxied: what a proxy's CPU per request becomes. A child process (this test
//     binary again) runs the middleware in front of net/http/httputil.ReverseProxy, the proxy
//     Traefik's own is built on, to a backend on loopback; the parent sends the requests and
//     reads the child's CPU time from /proc. Traefik does more per request than a bare
//     ReverseProxy (routing, its middleware chain, logs, metrics), so the ratio against it is
//     an upper bound of the ratio in a real Traefik.

// benchModes are the middlewares compared; the token is reused in every request.
var benchModes = []struct {
	name    string
	plugin  string // "passthrough" or "gatehouse"
	compile bool   // the gatehouse package compiled instead of interpreted
	alg     string
	cache   int
}{
	{name: "passthrough", plugin: "passthrough"},
	{name: "gatehouse-HS256", plugin: "gatehouse", alg: "HS256"},
	{name: "gatehouse-ES256", plugin: "gatehouse", alg: "ES256"},
	{name: "gatehouse-HS256-nocache", plugin: "gatehouse", alg: "HS256", cache: -1},
	{name: "gatehouse-ES256-nocache", plugin: "gatehouse", alg: "ES256", cache: -1},
	{name: "compiled-HS256", plugin: "gatehouse", compile: true, alg: "HS256"},
}

// benchHandler builds mode m (an index of benchModes) in front of next and returns the token
// its requests carry.
func benchHandler(tb testing.TB, m int, next http.Handler) (http.Handler, string) {
	bm := benchModes[m]
	gh, pass := loadInterpreted(tb)
	if bm.plugin == "passthrough" {
		h, err := pass.newHandler(nil, next, "passthrough")
		if err != nil {
			tb.Fatal(err)
		}
		return h, mint("HS256", secret, nil)
	}
	options := map[string]any{
		"secret":     secret,
		"publicKeys": string(testsign.PublicPEM(p256)),
		"issuer":     testIssuer,
		"audience":   testAudience,
		"headers":    map[string]any{"sub": "X-User-Id"},
		"cacheSize":  bm.cache,
	}
	key := any(secret)
	if bm.alg == "ES256" {
		key = p256
	}
	// A long life, so that no token expires during a long run.
	tok := mint(bm.alg, key, map[string]any{"exp": time.Now().Unix() + 86400})
	newHandler := gh.newHandler
	if bm.compile {
		newHandler = compiledHandler
	}
	h, err := newHandler(options, next, bm.name)
	if err != nil {
		tb.Fatal(err)
	}
	return h, tok
}

// discard is a ResponseWriter that keeps nothing, so the benchmark measures the middleware.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkMiddleware(b *testing.B) {
	for m, bm := range benchModes {
		b.Run(bm.name, func(b *testing.B) {
			var passed int
			h, tok := benchHandler(b, m, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed++ }))
			r := httptest.NewRequest(http.MethodGet, "http://app.example.com/api/me", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			before := selfCPU(b)
			for range b.N {
				h.ServeHTTP(w, r)
			}
			// ns/op is wall time, which a busy machine stretches; the CPU time is what it costs.
			b.ReportMetric(float64((selfCPU(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
			if passed != b.N {
				b.Fatalf("%d of %d requests passed", passed, b.N)
			}
		})
	}
}

// proxyChildEnv makes the test binary a proxy child instead of running tests.
const proxyChildEnv = "GATEHOUSE_BENCH_PROXY_CHILD"

// TestMain runs the proxy child when the parent asks for one.
func TestMain(m *testing.M) {
	if v := os.Getenv(proxyChildEnv); v != "" {
		runProxyChild(v)
		return
	}
	os.Exit(m.Run())
}

// runProxyChild serves mode "<index> <backend URL>" on a loopback port, prints the address and
// the token, and serves until its standard input closes.
func runProxyChild(arg string) {
	idx, backend, _ := strings.Cut(arg, " ")
	m, _ := strconv.Atoi(idx)
	u, err := url.Parse(backend)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	var tb childTB
	h, tok := benchHandler(&tb, m, proxy)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String(), tok)
	go func() { _ = http.Serve(ln, h) }()
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// childTB is the testing.TB of the proxy child: a failure ends the process.
type childTB struct{ testing.TB }

func (childTB) Helper()                   {}
func (childTB) Fatal(args ...any)         { fmt.Println(append([]any{"error"}, args...)...); os.Exit(1) }
func (childTB) Fatalf(f string, a ...any) { fmt.Println("error", fmt.Sprintf(f, a...)); os.Exit(1) }

// BenchmarkProxied reports proxy-µs/req: the CPU time (user + system) the proxy process spends
// per proxied request, middleware included.
func BenchmarkProxied(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-User-Id") == "" && r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer backend.Close()
	for m, bm := range benchModes {
		if bm.compile {
			continue
		}
		b.Run(bm.name, func(b *testing.B) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), proxyChildEnv+"="+strconv.Itoa(m)+" "+backend.URL)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() { stdin.Close(); _ = cmd.Wait() }()
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				b.Fatalf("proxy child: %v", err)
			}
			f := strings.Fields(line)
			if len(f) != 2 || f[0] == "error" {
				b.Fatalf("proxy child: %s", line)
			}
			addr, tok := f[0], f[1]
			const workers = 4
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}}
			send := func(n int) {
				var wg sync.WaitGroup
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := w; i < n; i += workers {
							req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+"/api/me", nil)
							req.Header.Set("Authorization", "Bearer "+tok)
							resp, err := client.Do(req)
							if err != nil {
								b.Error(err)
								return
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode != http.StatusOK {
								b.Errorf("status %d", resp.StatusCode)
								return
							}
						}
					}()
				}
				wg.Wait()
			}
			send(200) // warm up: connections, the token cache, the interpreter's first calls
			before := procCPU(b, cmd.Process.Pid)
			b.ResetTimer()
			send(b.N)
			b.StopTimer()
			cpu := procCPU(b, cmd.Process.Pid) - before
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "proxy-µs/req")
		})
	}
}

// selfCPU is this process's user + system CPU time.
func selfCPU(tb testing.TB) time.Duration { return procCPU(tb, os.Getpid()) }

// procCPU is the user + system CPU time of process pid, from /proc/<pid>/stat.
func procCPU(tb testing.TB, pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		tb.Fatalf("reading the proxy's CPU time: %v", err)
	}
	// The fields after the command name (which may hold spaces, within parentheses).
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}
