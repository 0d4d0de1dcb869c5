package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// Storage is a kv.Storage in Redis, for what the issuer keeps through that interface: its key
// ring. Locks are SET NX with an expiry (lockTTL), held by a random token, so that a process that
// dies holding one blocks the others for lockTTL at most, and only the holder releases it.
type Storage struct {
	s    *Store
	base string // "<issuer>:storage:"

	mu    sync.Mutex
	locks map[string]string // lock name -> this process's token
}

const (
	lockTTL  = 30 * time.Second
	lockPoll = 50 * time.Millisecond
)

// Storage returns the storage of the issuer named issuer.
func (s *Store) Storage(issuer string) *Storage {
	return &Storage{s: s, base: "issuer:" + issuer + ":storage:", locks: make(map[string]string)}
}

func (st *Storage) key(k string) string { return st.s.key(st.base + k) }

// Store implements kv.Storage.
func (st *Storage) Store(ctx context.Context, key string, value []byte) error {
	return st.s.observe(st.s.client.Set(ctx, st.key(key), value, 0).Err())
}

// Load implements kv.Storage; a missing key is fs.ErrNotExist.
func (st *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	b, err := st.s.client.Get(ctx, st.key(key)).Bytes()
	if err = st.s.observe(err); err == redis.Nil {
		return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return b, err
}

// Delete implements kv.Storage.
func (st *Storage) Delete(ctx context.Context, key string) error {
	return st.s.observe(st.s.client.Del(ctx, st.key(key)).Err())
}

// Exists implements kv.Storage.
func (st *Storage) Exists(ctx context.Context, key string) bool {
	n, err := st.s.client.Exists(ctx, st.key(key)).Result()
	return st.s.observe(err) == nil && n > 0
}

// List implements kv.Storage, by SCAN: the keys under path, or with recursive false only those
// one level below it.
func (st *Storage) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	dir := strings.TrimSuffix(path, "/") + "/"
	full := st.key(dir)
	var out []string
	iter := st.s.client.Scan(ctx, 0, escapeGlob(full)+"*", 100).Iterator()
	for iter.Next(ctx) {
		rest := strings.TrimPrefix(iter.Val(), full)
		if !recursive && strings.Contains(rest, "/") {
			continue
		}
		out = append(out, dir+rest)
	}
	return out, st.s.observe(iter.Err())
}

// escapeGlob quotes SCAN MATCH's special characters in s.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Lock implements kv.Storage: it waits, polling, until the lock is free or ctx ends.
func (st *Storage) Lock(ctx context.Context, name string) error {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	token := hex.EncodeToString(raw[:])
	key := st.key("lock:" + name)
	for {
		ok, err := st.s.client.SetNX(ctx, key, token, lockTTL).Result()
		if err = st.s.observe(err); err != nil {
			return fmt.Errorf("taking the lock %s: %w", name, err)
		}
		if ok {
			st.mu.Lock()
			st.locks[name] = token
			st.mu.Unlock()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("taking the lock %s: %w", name, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

// unlock deletes KEYS[1] if it still holds this holder's token ARGV[1].
var unlock = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Unlock implements kv.Storage: it releases a lock this Storage holds (one that expired and was
// taken by another holder meanwhile stays theirs).
func (st *Storage) Unlock(ctx context.Context, name string) error {
	st.mu.Lock()
	token, ok := st.locks[name]
	delete(st.locks, name)
	st.mu.Unlock()
	if !ok {
		return fmt.Errorf("the lock %s is not held here", name)
	}
	return st.s.observe(unlock.Run(ctx, st.s.client, []string{st.key("lock:" + name)}, token).Err())
}

var _ kv.Storage = (*Storage)(nil)
