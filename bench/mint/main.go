// Command mint writes the key material and the tokens that bench/e2e.sh serves and sends: a fresh
// HMAC secret, an ECDSA P-256 key and an Ed25519 key, their public halves as PEM, and files of
// access tokens, one per line, shaped like Django REST Framework simplejwt's. It can also measure
// the raw cost of each signature check (crypto/hmac, crypto/ecdsa, crypto/ed25519 on the same
// bytes), which is the floor any verifier pays for a token it has not seen before.
//
// Minting tens of thousands of tokens through `caddy jwt-token` would start a process per token;
// this does it in one.
//
//	go run ./bench/mint -out DIR -hs256 50000 -es256 20000 -eddsa 20000 [-ttl 1h] [-baseline]
//
// Files written in DIR: secret (the HMAC secret, no trailing newline, mode 0600), es256.pem and
// eddsa.pem (SPKI public keys), hs256.tokens, es256.tokens and eddsa.tokens. With -baseline it
// prints one line per algorithm to stdout: "<alg> <nanoseconds per raw verification>".
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// secretBytes is the HMAC secret's entropy. Encoded as unpadded base64url it is 64 characters,
// well over the 32 bytes jwt_auth requires for HS256.
const secretBytes = 48

func main() {
	out := flag.String("out", "", "directory to write keys and tokens to (must exist)")
	nHS := flag.Int("hs256", 1, "number of HS256 tokens")
	nES := flag.Int("es256", 1, "number of ES256 tokens")
	nEd := flag.Int("eddsa", 1, "number of EdDSA tokens")
	ttl := flag.Duration("ttl", time.Hour, "how long the tokens are valid")
	baseline := flag.Bool("baseline", false, "also print the raw verification cost per algorithm")
	flag.Parse()
	if err := run(*out, *nHS, *nES, *nEd, *ttl, *baseline); err != nil {
		fmt.Fprintf(os.Stderr, "mint: %v\n", err)
		os.Exit(1)
	}
}

// keySet is the key material of one run.
type keySet struct {
	secret []byte
	es256  *ecdsa.PrivateKey
	eddsa  ed25519.PrivateKey
}

func run(dir string, nHS, nES, nEd int, ttl time.Duration, baseline bool) error {
	if dir == "" {
		return errors.New("-out is required: the directory to write keys and tokens to")
	}
	if nHS < 1 || nES < 1 || nEd < 1 {
		return errors.New("-hs256, -es256 and -eddsa must each be at least 1")
	}
	if ttl <= 0 {
		return fmt.Errorf("-ttl %s must be positive", ttl)
	}
	ks, err := newKeySet()
	if err != nil {
		return err
	}
	if err := writeKeys(dir, ks); err != nil {
		return err
	}
	now := time.Now()
	mints := []struct {
		file   string
		n      int
		method jwt.SigningMethod
		key    any
	}{
		{"hs256.tokens", nHS, jwt.SigningMethodHS256, ks.secret},
		{"es256.tokens", nES, jwt.SigningMethodES256, ks.es256},
		{"eddsa.tokens", nEd, jwt.SigningMethodEdDSA, ks.eddsa},
	}
	first := make(map[string]string, len(mints))
	for _, m := range mints {
		tok, err := writeTokens(filepath.Join(dir, m.file), m.n, m.method, m.key, now, ttl)
		if err != nil {
			return err
		}
		first[m.method.Alg()] = tok
	}
	if baseline {
		return printBaseline(ks, first)
	}
	return nil
}

func newKeySet() (*keySet, error) {
	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	es, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the P-256 key: %w", err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the Ed25519 key: %w", err)
	}
	// The secret is used as the text jwt_auth reads from the file, so sign with those bytes.
	secret := []byte(base64.RawURLEncoding.EncodeToString(raw))
	return &keySet{secret: secret, es256: es, eddsa: ed}, nil
}

func writeKeys(dir string, ks *keySet) error {
	if err := os.WriteFile(filepath.Join(dir, "secret"), ks.secret, 0o600); err != nil {
		return err
	}
	for name, pub := range map[string]any{"es256.pem": &ks.es256.PublicKey, "eddsa.pem": ks.eddsa.Public()} {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", name, err)
		}
		block := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, name), block, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeTokens writes n tokens signed with method and key to path, one per line, and returns
// the first. Every token has its own sub, user_id and jti, so no two are the same string.
func writeTokens(path string, n int, method jwt.SigningMethod, key any, now time.Time, ttl time.Duration) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriter(f)
	var first string
	jti := make([]byte, 16)
	for i := range n {
		if _, err := rand.Read(jti); err != nil {
			f.Close()
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		claims := jwt.MapClaims{
			"sub":        fmt.Sprintf("user-%d", i+1),
			"user_id":    i + 1,
			"iat":        now.Unix(),
			"exp":        now.Add(ttl).Unix(),
			"token_type": "access",
			"jti":        hex.EncodeToString(jti),
		}
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			f.Close()
			return "", fmt.Errorf("signing a %s token: %w", method.Alg(), err)
		}
		if i == 0 {
			first = tok
		}
		w.WriteString(tok)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return first, f.Close()
}

// printBaseline measures, for the first token of each algorithm, what the signature check alone
// costs with the standard library: hashing the signing input where the algorithm hashes first,
// and the verification proper. A verifier can get close to this, never under it.
func printBaseline(ks *keySet, first map[string]string) error {
	checks := []struct {
		alg    string
		verify func(input, sig []byte) bool
	}{
		{"HS256", func(input, sig []byte) bool {
			mac := hmac.New(sha256.New, ks.secret)
			mac.Write(input)
			return hmac.Equal(mac.Sum(nil), sig)
		}},
		{"ES256", func(input, sig []byte) bool {
			if len(sig) != 64 {
				return false
			}
			h := sha256.Sum256(input)
			r := new(big.Int).SetBytes(sig[:32])
			s := new(big.Int).SetBytes(sig[32:])
			return ecdsa.Verify(&ks.es256.PublicKey, h[:], r, s)
		}},
		{"EdDSA", func(input, sig []byte) bool {
			return ed25519.Verify(ks.eddsa.Public().(ed25519.PublicKey), input, sig)
		}},
	}
	for _, c := range checks {
		tok := first[c.alg]
		dot := strings.LastIndexByte(tok, '.')
		if dot < 0 {
			return fmt.Errorf("the %s token has no signature part", c.alg)
		}
		input := []byte(tok[:dot])
		sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
		if err != nil {
			return fmt.Errorf("decoding the %s signature: %w", c.alg, err)
		}
		if !c.verify(input, sig) {
			return fmt.Errorf("the %s token does not verify with its own key", c.alg)
		}
		res := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				if !c.verify(input, sig) {
					b.Fatal("verification failed")
				}
			}
		})
		fmt.Printf("%s %d\n", c.alg, res.NsPerOp())
	}
	return nil
}
