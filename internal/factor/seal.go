package factor

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSecretLen is the shortest configured secret the keys are derived from.
const MinSecretLen = 32

// keys are the keys derived from one master secret by HKDF-SHA256, each for one purpose, so
// that no key is ever used for two things.
type keys struct {
	seal cipher.AEAD // AES-256-GCM: TOTP secrets at rest
	mac  []byte      // HMAC-SHA256: challenge cookies
	user []byte      // HMAC-SHA256: storage keys and WebAuthn user handles from user ids
}

// hkdfSalt is fixed: the master secret is already uniformly random or a configured secret of
// at least MinSecretLen bytes, and the info strings keep the purposes apart.
var hkdfSalt = []byte("gatehouse second factor")

// deriveKeys derives the keys of master.
func deriveKeys(master []byte) (*keys, error) {
	if len(master) < MinSecretLen {
		return nil, fmt.Errorf("the second factor secret must be at least %d bytes", MinSecretLen)
	}
	k := &keys{}
	sealKey, err := hkdf.Key(sha256.New, master, hkdfSalt, "gatehouse factor seal v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	if k.seal, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	if k.mac, err = hkdf.Key(sha256.New, master, hkdfSalt, "gatehouse factor challenge v1", 32); err != nil {
		return nil, err
	}
	if k.user, err = hkdf.Key(sha256.New, master, hkdfSalt, "gatehouse factor user v1", 32); err != nil {
		return nil, err
	}
	return k, nil
}

// sealValue encrypts plain with a random nonce, binding it to ad (the user's storage key, so a
// sealed secret copied to another user's record does not open).
func (k *keys) sealValue(plain, ad []byte) []byte {
	nonce := make([]byte, k.seal.NonceSize())
	_, _ = rand.Read(nonce)
	return k.seal.Seal(nonce, nonce, plain, ad)
}

// errUnseal is the answer for a sealed value that does not open: the wrong key (the secret
// changed) or a value changed in storage.
var errUnseal = errors.New("a stored second factor secret cannot be decrypted: the second_factor secret changed, or the record was altered")

// open decrypts what sealValue made.
func (k *keys) open(sealed, ad []byte) ([]byte, error) {
	n := k.seal.NonceSize()
	if len(sealed) < n+k.seal.Overhead() {
		return nil, errUnseal
	}
	plain, err := k.seal.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, errUnseal
	}
	return plain, nil
}

// sign is the HMAC of msg under the challenge key.
func (k *keys) sign(msg []byte) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write(msg)
	return m.Sum(nil)
}

// userHandle is the pseudonym of a user id: the key of the user's record in storage and the
// user handle of their passkeys. Keyed, so neither the storage nor an authenticator reveals
// who the user is, nor can one be computed without the secret.
func (k *keys) userHandle(uid string) []byte {
	m := hmac.New(sha256.New, k.user)
	m.Write([]byte(uid))
	return m.Sum(nil)
}
