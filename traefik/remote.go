package gatehouse

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
)

// Traefik calls New again for every change of the dynamic configuration and never tells the
// old middleware that it is gone. A Remote per call would leave a fetching goroutine behind on
// each reload, so the Remotes are shared by URL, refresh interval and algorithms for the life of
// the process: one fetcher per distinct jwksUrl, however often the configuration changes.
var (
	remotesMu sync.Mutex
	remotes   = map[string]*keys.Remote{}
)

// sharedRemote returns the started Remote for url, making it on first use.
func sharedRemote(url string, refresh time.Duration, algs []string, name string) (*keys.Remote, error) {
	id := url + "\x00" + refresh.String() + "\x00" + strings.Join(algs, ",")
	remotesMu.Lock()
	defer remotesMu.Unlock()
	if r, ok := remotes[id]; ok {
		return r, nil
	}
	r, err := keys.NewRemote(keys.RemoteOptions{
		URL:     url,
		Refresh: refresh,
		Allowed: algs,
		Logger:  lineLogger{name: name},
	})
	if err != nil {
		return nil, err
	}
	r.Start()
	remotes[id] = r
	return r, nil
}

// lineLogger writes the Remote's reports as lines: warnings to standard error, which Traefik
// logs at error level for a plugin, and debug lines to standard output (debug level). The
// Remote never passes key material or tokens.
type lineLogger struct{ name string }

func (l lineLogger) Debugw(msg string, kv ...any) { l.write(os.Stdout, msg, kv) }
func (l lineLogger) Warnw(msg string, kv ...any)  { l.write(os.Stderr, msg, kv) }

func (l lineLogger) write(w io.Writer, msg string, kv []any) {
	var b strings.Builder
	b.WriteString("gatehouse ")
	b.WriteString(l.name)
	b.WriteString(": ")
	b.WriteString(msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%q", kv[i], fmt.Sprint(kv[i+1]))
	}
	b.WriteByte('\n')
	_, _ = io.WriteString(w, b.String())
}
