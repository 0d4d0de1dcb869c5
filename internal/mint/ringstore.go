package mint

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// storedRing is the JSON a ring is kept as. Keys are in activation order: each key but the last
// was retired when its successor became active, and the last one has no retired time.
type storedRing struct {
	Version int         `json:"version"`
	Alg     string      `json:"alg"`
	Keys    []storedKey `json:"keys"`
}

type storedKey struct {
	Kid string `json:"kid"`
	// Created is when the key starts signing; a key created in the future is published and
	// trusted ahead of its use, so that every instance knows it before the first token it signs.
	Created time.Time `json:"created"`
	// Retired is when the next key took over; zero for the last key.
	Retired time.Time `json:"retired,omitzero"`
	// PrivateKey is the PKCS#8 PEM.
	PrivateKey string `json:"private_key"`
}

// ringVersion is the storage format version this code writes and reads.
const ringVersion = 1

// maxStoredKeys bounds what a stored ring may hold; RingConfig's checks keep a working ring
// far below it.
const maxStoredKeys = 64

// ringKey is one key of a ring in memory.
type ringKey struct {
	signer           *Signer
	created, retired time.Time
}

// encodeRing serialises the keys for storage.
func encodeRing(alg string, ks []ringKey) ([]byte, error) {
	sr := storedRing{Version: ringVersion, Alg: alg, Keys: make([]storedKey, len(ks))}
	for i, k := range ks {
		p, err := k.signer.MarshalPEM()
		if err != nil {
			return nil, err
		}
		sr.Keys[i] = storedKey{Kid: k.signer.Kid, Created: k.created.UTC(), Retired: k.retired.UTC(), PrivateKey: string(p)}
	}
	return json.MarshalIndent(sr, "", "\t")
}

// decodeRing reads a stored ring, checking everything: a ring that is not exactly what this
// code writes is reported, never guessed at or replaced.
func decodeRing(data []byte, alg string) ([]ringKey, error) {
	var sr storedRing
	if err := json.Unmarshal(data, &sr); err != nil {
		return nil, fmt.Errorf("not a key ring JSON object: %v", err)
	}
	switch {
	case sr.Version != ringVersion:
		return nil, fmt.Errorf("key ring format version %d is not supported (this build reads version %d)", sr.Version, ringVersion)
	case sr.Alg != alg:
		return nil, fmt.Errorf("key ring holds %q keys but %s is configured", sr.Alg, alg)
	case len(sr.Keys) == 0:
		return nil, errors.New("key ring has no keys")
	case len(sr.Keys) > maxStoredKeys:
		return nil, fmt.Errorf("key ring has %d keys; at most %d are supported", len(sr.Keys), maxStoredKeys)
	}
	ks := make([]ringKey, len(sr.Keys))
	seen := make(map[string]bool, len(sr.Keys))
	for i, sk := range sr.Keys {
		s, err := ParsePEM([]byte(sk.PrivateKey), alg)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		last := i == len(sr.Keys)-1
		switch {
		case s.Kid != sk.Kid:
			return nil, fmt.Errorf("key %d: kid %q is not the thumbprint of its key", i, sk.Kid)
		case seen[s.Kid]:
			return nil, fmt.Errorf("key %d: kid %q appears twice", i, sk.Kid)
		case sk.Created.IsZero():
			return nil, fmt.Errorf("key %d: no created time", i)
		case i > 0 && !sk.Created.After(sr.Keys[i-1].Created):
			return nil, fmt.Errorf("key %d: keys are not in order of creation", i)
		case last && !sk.Retired.IsZero():
			return nil, errors.New("the newest key is marked retired")
		case !last && !sk.Retired.Equal(sr.Keys[i+1].Created):
			return nil, fmt.Errorf("key %d: retired time is not its successor's created time", i)
		}
		seen[s.Kid] = true
		ks[i] = ringKey{signer: s, created: sk.Created, retired: sk.Retired}
	}
	return ks, nil
}
