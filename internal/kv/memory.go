package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

// Memory is a Storage kept in memory, for tests and for a single process that needs no
// persistence. It behaves like certmagic's FileStorage (Caddy's default storage) where callers
// can tell: keys are slash-separated paths ("a//b/" is "a/b"), a key's path prefixes are
// directories that Exists and List report, Delete removes a directory with everything under it,
// and List of a path that holds nothing fails with fs.ErrNotExist. Deleting a missing key is
// reported with fs.ErrNotExist, which Storage allows, so that callers are tested against it.
//
// The zero value is ready to use; a Memory is safe for concurrent use and must not be copied
// after first use. Its locks exclude each other as a shared storage's do across processes.
type Memory struct {
	mu    sync.Mutex
	data  map[string][]byte
	dirs  map[string]int           // directory -> number of keys below it, so lookups stay O(1)
	locks map[string]chan struct{} // closed when the lock is released
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return new(Memory) }

// cleanKey returns key in canonical form: no leading, trailing or doubled slashes and no dot
// segments, as the file system resolves FileStorage's keys. The root is "".
func cleanKey(key string) string {
	return strings.Trim(path.Clean("/"+key), "/")
}

// parents calls f with each directory above key, deepest first ("a/b/c": "a/b", "a").
func parents(key string, f func(dir string)) {
	for i := strings.LastIndexByte(key, '/'); i > 0; i = strings.LastIndexByte(key[:i], '/') {
		f(key[:i])
	}
}

// under reports whether key is path itself or below it ("" is the root).
func under(key, dir string) bool {
	return dir == "" || key == dir || strings.HasPrefix(key, dir+"/")
}

// Store puts a copy of value at key.
func (m *Memory) Store(_ context.Context, key string, value []byte) error {
	k := cleanKey(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if k == "" {
		return errors.New("kv: cannot store at the root; give a key")
	}
	// A file cannot be a directory: refuse what the file system would refuse.
	if m.dirs[k] > 0 {
		return fmt.Errorf("kv: store %q: it is a directory", key)
	}
	var err error
	parents(k, func(d string) {
		if _, ok := m.data[d]; ok && err == nil {
			err = fmt.Errorf("kv: store %q: %q is a key, not a directory", key, d)
		}
	})
	if err != nil {
		return err
	}
	if m.data == nil {
		m.data = make(map[string][]byte)
		m.dirs = make(map[string]int)
	}
	if _, ok := m.data[k]; !ok {
		parents(k, func(d string) { m.dirs[d]++ })
	}
	m.data[k] = bytes.Clone(value)
	return nil
}

// Load returns a copy of the value at key.
func (m *Memory) Load(_ context.Context, key string) ([]byte, error) {
	k := cleanKey(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[k]
	if !ok {
		return nil, notExist("load", key)
	}
	return bytes.Clone(v), nil
}

// Delete removes key, or the directory key with everything under it.
func (m *Memory) Delete(_ context.Context, key string) error {
	k := cleanKey(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[k]; ok {
		m.deleteLocked(k)
		return nil
	}
	if k == "" || m.dirs[k] > 0 {
		n := len(m.data)
		for d := range m.data {
			if under(d, k) {
				m.deleteLocked(d)
			}
		}
		if len(m.data) < n {
			return nil
		}
	}
	return notExist("delete", key)
}

// deleteLocked removes the key k, which exists; m.mu must be held.
func (m *Memory) deleteLocked(k string) {
	delete(m.data, k)
	parents(k, func(d string) {
		if m.dirs[d]--; m.dirs[d] == 0 {
			delete(m.dirs, d)
		}
	})
}

// Exists reports whether key is a key or a directory holding keys.
func (m *Memory) Exists(_ context.Context, key string) bool {
	k := cleanKey(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.data[k]
	return ok || m.dirs[k] > 0
}

// List returns, sorted, the keys and directories directly under dir, and with recursive also
// everything deeper, as FileStorage walks a directory. A key that is not a directory lists as
// empty; a path that does not exist fails with fs.ErrNotExist.
func (m *Memory) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := cleanKey(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := make(map[string]struct{})
	isKey := false
	for k := range m.data {
		if k == d {
			isKey = true
			continue
		}
		if !under(k, d) {
			continue
		}
		rest := k
		if d != "" {
			rest = k[len(d)+1:]
		}
		// Every directory between dir and the key, as the walk meets it.
		segs := strings.Split(rest, "/")
		if !recursive {
			segs = segs[:1]
		}
		p := d
		for _, s := range segs {
			p = path.Join(p, s)
			seen[p] = struct{}{}
		}
	}
	if len(seen) == 0 && !isKey {
		return nil, notExist("list", dir)
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// Lock takes the named lock, waiting until its holder releases it or ctx is done.
func (m *Memory) Lock(ctx context.Context, name string) error {
	for {
		m.mu.Lock()
		released, held := m.locks[name]
		if !held {
			if m.locks == nil {
				m.locks = make(map[string]chan struct{})
			}
			m.locks[name] = make(chan struct{})
			m.mu.Unlock()
			return nil
		}
		m.mu.Unlock()
		select {
		case <-released:
		case <-ctx.Done():
			return fmt.Errorf("kv: waiting for lock %q: %w", name, ctx.Err())
		}
	}
}

// Unlock releases the named lock, waking its waiters; releasing a lock nobody holds is an
// error, as it is a bug in the caller.
func (m *Memory) Unlock(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	released, held := m.locks[name]
	if !held {
		return fmt.Errorf("kv: unlock %q: the lock is not held", name)
	}
	delete(m.locks, name)
	close(released)
	return nil
}

// notExist is the error for a missing key, satisfying IsNotExist.
func notExist(op, key string) error {
	return &fs.PathError{Op: op, Path: key, Err: fs.ErrNotExist}
}
