package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"sync"
)

// macPools keeps, per HMAC key and hash, ready-keyed HMAC states. hmac.New pads and hashes the
// key and allocates two hash states; doing that once per key instead of once per token makes
// HS256 verification cost little more than the two SHA-256 passes themselves.
type macPools struct {
	sha256, sha384, sha512 sync.Pool
}

// macState is one pooled HMAC with room for its output, so Sum needs no allocation.
type macState struct {
	h   hash.Hash
	sum [sha512.Size]byte
}

func newMacPools(secret []byte) *macPools {
	// The pools keep their own copy: the caller's slice could change after the key was made.
	key := append([]byte(nil), secret...)
	p := new(macPools)
	p.sha256.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	p.sha384.New = func() any { return &macState{h: hmac.New(sha512.New384, key)} }
	p.sha512.New = func() any { return &macState{h: hmac.New(sha512.New, key)} }
	return p
}

// pools returns k's HMAC pools, making them on first use. Keys built by this package get them
// at load time; a Key written as a literal gets them here, race-free.
func (k *Key) pools(secret []byte) *macPools {
	if p, ok := k.mac.Load().(*macPools); ok {
		return p
	}
	k.mac.CompareAndSwap(nil, newMacPools(secret))
	return k.mac.Load().(*macPools)
}

// verifyHMAC checks an HS256/384/512 signature in constant time.
func (k *Key) verifyHMAC(alg, signingInput string, sig []byte) error {
	secret, ok := k.Public.([]byte)
	if !ok || len(secret) == 0 {
		return errKeyType
	}
	p := k.pools(secret)
	var pool *sync.Pool
	switch alg {
	case "HS256":
		pool = &p.sha256
	case "HS384":
		pool = &p.sha384
	case "HS512":
		pool = &p.sha512
	default:
		return errKeyType
	}
	st := pool.Get().(*macState)
	st.h.Reset()
	st.h.Write(stringBytes(signingInput))
	ok = hmac.Equal(st.h.Sum(st.sum[:0]), sig)
	pool.Put(st)
	if !ok {
		return ErrSignature
	}
	return nil
}
