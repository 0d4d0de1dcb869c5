// Package kv is the storage the issuer keeps its state in: signing keys, revoked token ids and
// refresh token families. Storage is the subset of certmagic.Storage (what Caddy's ctx.Storage()
// returns) that the issuer needs, so Caddy's configured storage (the file system by default, or
// any storage module, shared by every Caddy of a cluster) plugs in unchanged, and tests use
// Memory.
package kv

import (
	"context"
	"errors"
	"io/fs"
)

// Storage stores values by key, with advisory locks. Missing keys are reported by errors that
// satisfy errors.Is(err, fs.ErrNotExist), as certmagic.Storage does.
type Storage interface {
	// Store puts value at key, replacing what was there.
	Store(ctx context.Context, key string, value []byte) error
	// Load returns the value at key.
	Load(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; deleting a missing key may or may not be an error (fs.ErrNotExist).
	Delete(ctx context.Context, key string) error
	// Exists reports whether key exists.
	Exists(ctx context.Context, key string) bool
	// List returns the keys under path (recursive: also under sub-paths).
	List(ctx context.Context, path string, recursive bool) ([]string, error)
	// Lock takes the named lock, waiting (bounded by ctx) while another holder has it. It works
	// across processes that share the storage.
	Lock(ctx context.Context, name string) error
	// Unlock releases the named lock.
	Unlock(ctx context.Context, name string) error
}

// IsNotExist reports whether err says a key does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
