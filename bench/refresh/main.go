// Command refresh is the load of bench/refresh.sh: sessions that log in once and then refresh
// their own rotating refresh token in a loop, round-robin over one or more Gatehouse instances,
// and report refreshes per second and the latency of one refresh. Any answer but 200 is an
// error, and the command exits non-zero after the report.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type pair struct{ Access, Refresh string }

func main() {
	targets := flag.String("targets", "", "comma-separated base URLs of the instances, e.g. http://127.0.0.1:8080")
	sessions := flag.Int("sessions", 32, "concurrent sessions, each refreshing its own token chain")
	duration := flag.Duration("duration", 10*time.Second, "measured time")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured time before it")
	flag.Parse()
	bases := strings.Split(*targets, ",")
	if *targets == "" || *sessions < 1 {
		fmt.Fprintln(os.Stderr, "refresh: give -targets and -sessions >= 1")
		os.Exit(2)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *sessions}}
	post := func(url, body string) (pair, error) {
		resp, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			return pair{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return pair{}, err
		}
		if resp.StatusCode != http.StatusOK {
			return pair{}, fmt.Errorf("%s: %d %s", url, resp.StatusCode, bytes.TrimSpace(b))
		}
		var p pair
		if err := json.Unmarshal(b, &p); err != nil || p.Refresh == "" {
			return pair{}, fmt.Errorf("%s: no refresh token in the answer", url)
		}
		return p, nil
	}

	var (
		next     atomic.Uint64 // round-robin over the targets
		measured atomic.Bool
		errs     atomic.Int64
		firstErr atomic.Value
		mu       sync.Mutex
		lat      []time.Duration
		wg       sync.WaitGroup
	)
	end := time.Now().Add(*warmup + *duration)
	for range *sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := bases[next.Add(1)%uint64(len(bases))]
			p, err := post(base+"/api/token/", `{"username":"alice","password":"alice-pw"}`)
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			var mine []time.Duration
			for time.Now().Before(end) {
				base := bases[next.Add(1)%uint64(len(bases))]
				t0 := time.Now()
				q, err := post(base+"/api/token/refresh/", `{"refresh":"`+p.Refresh+`"}`)
				took := time.Since(t0)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					return // the chain is broken; the run is failed anyway
				}
				p = q
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
		fmt.Fprintf(os.Stderr, "refresh: %d failed requests; the first: %v\n", n, firstErr.Load())
		os.Exit(1)
	}
}
