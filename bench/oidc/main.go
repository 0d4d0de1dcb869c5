// Command oidc is the load of bench/oidc-code.sh: browsers that log in to a Gatehouse OpenID
// provider once and then sign in to a relying-party site (jwt_auth session oidc) again and
// again through the authorization code flow: the site's redirect to authorize, the provider's
// code for the session it already has, the site's callback exchanging the code at the token
// endpoint and verifying the ID token, and the site's session cookie. It reports sign-ins per
// second and the latency of one (all four requests). Any unexpected answer is an error, and the
// command exits non-zero after the report.
//
// With -hash it prints a client secret's bcrypt hash (cost 4) for the provider's client. With
// -cookies it signs in once and prints two lines instead: the site's session cookie and
// the provider's session cookies (name=value; ...), for wrk.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

type bench struct {
	provider, app string // http://127.0.0.1:P/auth, http://127.0.0.1:Q
	client        *http.Client
}

// get sends a GET with cookie and checks the status; it returns the response's Location
// (resolved against u) and its cookies (name=value).
func (b *bench) get(u, cookie string, status int) (location string, cookies []string, err error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Accept", "text/html")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return "", nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status {
		return "", nil, fmt.Errorf("GET %s: %d, want %d: %.200s", u, resp.StatusCode, status, body)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		next, err := resp.Request.URL.Parse(loc)
		if err != nil {
			return "", nil, fmt.Errorf("GET %s: bad Location %q", u, loc)
		}
		location = next.String()
	}
	for _, c := range resp.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	return location, cookies, nil
}

// login signs in at the provider's login form and returns its session cookies.
func (b *bench) login(user, password string) (string, error) {
	form := url.Values{"username": {user}, "password": {password}, "next": {"/"}}
	req, err := http.NewRequest(http.MethodPost, b.provider+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	origin, _ := url.Parse(b.provider)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin.Scheme+"://"+origin.Host)
	resp, err := b.client.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("login at the provider: %d, want 303", resp.StatusCode)
	}
	var cookies []string
	for _, c := range resp.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	return strings.Join(cookies, "; "), nil
}

// signIn runs one authorization code flow for a browser with the provider's session cookies
// and returns the site's session cookie.
func (b *bench) signIn(providerCookies string) (string, error) {
	const page = "/private/bench"
	authorize, flow, err := b.get(b.app+page, "", http.StatusFound)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(authorize, b.provider+"/authorize?") || len(flow) != 1 {
		return "", fmt.Errorf("the site sent the browser to %q with cookies %v, want the provider's authorize and one flow cookie", authorize, flow)
	}
	resume, _, err := b.get(authorize, providerCookies, http.StatusFound)
	if err != nil {
		return "", err
	}
	callback, _, err := b.get(resume, providerCookies, http.StatusFound)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(callback, b.app+"/oidc/callback?") {
		return "", fmt.Errorf("the provider sent the browser to %q, want the site's callback", callback)
	}
	landing, set, err := b.get(callback, flow[0], http.StatusSeeOther)
	if err != nil {
		return "", err
	}
	if landing != b.app+page {
		return "", fmt.Errorf("the callback sent the browser to %q, want %s", landing, b.app+page)
	}
	for _, c := range set {
		if strings.HasPrefix(c, "gatehouse_oidc=") {
			return c, nil
		}
	}
	return "", fmt.Errorf("the callback set no session cookie: %v", set)
}

func main() {
	provider := flag.String("provider", "", "the provider's issuer URL, e.g. http://127.0.0.1:8080/auth")
	app := flag.String("app", "", "the relying-party site's URL, e.g. http://127.0.0.1:8081")
	user := flag.String("user", "alice", "user at the provider")
	password := flag.String("password", "alice-pw", "their password")
	workers := flag.Int("workers", 16, "concurrent browsers, each signing in again and again")
	duration := flag.Duration("duration", 10*time.Second, "measured time")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured time before it")
	cookies := flag.Bool("cookies", false, "sign in once and print the site's and the provider's session cookies")
	hash := flag.String("hash", "", "print the bcrypt hash (cost 4) of this client secret and exit")
	flag.Parse()
	if *hash != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(*hash), bcrypt.MinCost)
		if err != nil {
			fmt.Fprintf(os.Stderr, "oidc: %v\n", err)
			os.Exit(1)
		}
		fmt.Println(string(h))
		return
	}
	if *provider == "" || *app == "" || *workers < 1 {
		fmt.Fprintln(os.Stderr, "oidc: give -provider, -app and -workers >= 1")
		os.Exit(2)
	}
	b := &bench{provider: *provider, app: *app, client: &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 2 * *workers},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if *cookies {
		pc, err := b.login(*user, *password)
		if err == nil {
			var site string
			if site, err = b.signIn(pc); err == nil {
				fmt.Printf("%s\n%s\n", site, pc)
				return
			}
		}
		fmt.Fprintf(os.Stderr, "oidc: %v\n", err)
		os.Exit(1)
	}

	var (
		measured atomic.Bool
		errs     atomic.Int64
		firstErr atomic.Value
		mu       sync.Mutex
		lat      []time.Duration
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	end := time.Now().Add(*warmup + *duration)
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc, err := b.login(*user, *password)
			if err != nil {
				fail(err)
				return
			}
			var mine []time.Duration
			for time.Now().Before(end) {
				t0 := time.Now()
				_, err := b.signIn(pc)
				took := time.Since(t0)
				if err != nil {
					fail(err)
					return
				}
				if measured.Load() {
					mine = append(mine, took)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(*warmup)
	measured.Store(true)
	wg.Wait()
	slices.Sort(lat)
	q := func(f float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) / 1000
	}
	fmt.Printf("%.0f %.2f %.2f\n", float64(len(lat))/duration.Seconds(), q(0.50), q(0.99))
	if n := errs.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "oidc: %d failed sign-ins; the first: %v\n", n, firstErr.Load())
		os.Exit(1)
	}
}
