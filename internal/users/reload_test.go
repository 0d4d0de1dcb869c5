package users

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestLocalReload walks a users file through changes, with a hand-moved clock: a change is
// seen on the first login a second or more after the last look, a failed read keeps the users
// read before (warning once), and skipped lines follow the file.
func TestLocalReload(t *testing.T) {
	h1, h2, h3 := bcryptHash(t, "one", 4, "$2b$"), bcryptHash(t, "two", 4, "$2b$"), bcryptHash(t, "three", 4, "$2b$")
	path := writeFile(t, "alice:"+h1+"\n")
	core, logs := observer.New(zap.InfoLevel)
	l, err := NewLocal(LocalConfig{File: path, Algorithms: cheapAlgorithms(t), Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }
	l.nextCheck.Store(now.Add(reloadInterval).UnixNano())
	mtime := time.Unix(1_700_000_000, 0)

	write := func(text string) { // a new content with a new modification time
		t.Helper()
		mtime = mtime.Add(time.Minute)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	type step struct {
		name     string
		do       func()
		advance  time.Duration
		user, pw string
		ok       bool
		skipped  []LineError
		warnings int // "cannot be read again" warnings so far
	}
	steps := []step{
		{"as first read", nil, 0, "alice", "one", true, nil, 0},
		{"changed, but checked less than a second ago", func() { write("alice:" + h2 + "\n") }, 999 * time.Millisecond, "alice", "one", true, nil, 0},
		{"a second later: read again", nil, time.Millisecond, "alice", "two", true, nil, 0},
		{"old password no longer works", nil, 0, "alice", "one", false, nil, 0},
		{"bad line skipped, good ones kept", func() { write("alice:" + h2 + "\nbob\ncarol:" + h3 + "\n") }, time.Second, "carol", "three", true,
			[]LineError{{2, "no ':' between user name and hash; write user:hash"}}, 0},
		{"removed file keeps the users", func() { os.Remove(path) }, time.Second, "carol", "three", true,
			[]LineError{{2, "no ':' between user name and hash; write user:hash"}}, 1},
		{"still removed: no second warning", nil, time.Second, "alice", "two", true,
			[]LineError{{2, "no ':' between user name and hash; write user:hash"}}, 1},
		{"back, fixed", func() { write("alice:" + h3 + "\n") }, time.Second, "alice", "three", true, []LineError{}, 1},
		{"user removed from file", func() { write("# nobody\n") }, time.Second, "alice", "three", false, []LineError{}, 1},
		{"replaced by a directory keeps the users", func() { os.Remove(path); os.Mkdir(path, 0o700) }, time.Second, "alice", "three", false, []LineError{}, 2},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		now = now.Add(s.advance)
		_, err := l.Authenticate(context.Background(), s.user, s.pw)
		if got := err == nil; got != s.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Fatalf("%s: Authenticate(%s) = %v, want ok %v", s.name, s.user, err, s.ok)
		}
		if got := l.LineErrors(); len(got)+len(s.skipped) > 0 && !reflect.DeepEqual(got, s.skipped) {
			t.Fatalf("%s: LineErrors = %v, want %v", s.name, got, s.skipped)
		}
		if n := logs.FilterMessageSnippet("cannot be read again").Len(); n != s.warnings {
			t.Fatalf("%s: %d warnings, want %d: %v", s.name, n, s.warnings, logs.All())
		}
	}
	// Read: first, then again for the new password, the bad line, the fix and the emptied file.
	first, again := logs.FilterMessage("users file read").Len(), logs.FilterMessage("users file changed and was read again").Len()
	if first != 1 || again != 4 {
		t.Fatalf("read %d times first and %d again, want 1 and 4: %v", first, again, logs.All())
	}
	if n := logs.FilterMessage("users file: line skipped").Len(); n != 1 {
		t.Fatalf("%d skipped-line warnings, want 1", n)
	}
}

// TestLocalReloadUnchanged looks at an unchanged file every second without reading it again.
func TestLocalReloadUnchanged(t *testing.T) {
	path := writeFile(t, "alice:"+bcryptHash(t, "pw", 4, "$2b$")+"\n")
	core, logs := observer.New(zap.InfoLevel)
	l, err := NewLocal(LocalConfig{File: path, Algorithms: caddyAlgorithms(), Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	l.now = func() time.Time { return now }
	for range 5 {
		now = now.Add(2 * time.Second)
		if _, err := l.Authenticate(context.Background(), "alice", "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d log entries, want only the first read: %v", n, logs.All())
	}
}

// TestLocalReloadConcurrent logs in from many goroutines while the file is replaced under them
// (atomically, as a careful writer does): every login sees a whole user set, old or new (run
// with -race).
func TestLocalReloadConcurrent(t *testing.T) {
	hash := bcryptHash(t, "pw", 4, "$2b$")
	path := writeFile(t, "alice:"+hash+"\n")
	l, err := NewLocal(LocalConfig{File: path, Algorithms: cheapAlgorithms(t)})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	l.now = func() time.Time { return time.Unix(0, clock.Load()) }
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				// alice is in every version of the file; bob in some.
				if _, err := l.Authenticate(context.Background(), "alice", "pw"); err != nil {
					t.Error(err)
					return
				}
				if _, err := l.Authenticate(context.Background(), "bob", "pw"); err != nil && !errors.Is(err, ErrInvalid) {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		text := "alice:" + hash + "\n" + strings.Repeat("bob:"+hash+"\n", i%2)
		if err := os.WriteFile(path+".new", []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
		clock.Add(int64(reloadInterval))
	}
	wg.Wait()
}
