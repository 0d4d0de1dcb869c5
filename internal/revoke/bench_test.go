package revoke

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// benchStore returns a Store over a Memory holding n revoked ids and families, so that lookups
// are not of an empty map.
func benchStore(b *testing.B, n int) *Store {
	b.Helper()
	s, err := New(Config{Storage: kv.NewMemory(), Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		id := strconv.Itoa(i)
		if err := s.Revoke(ctx, "j"+id, exp); err != nil {
			b.Fatal(err)
		}
		if err := s.RevokeFamily(ctx, "f"+id, exp); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkCheck is the refresh and blacklist endpoints' look-up of a token that is not
// revoked: two reads.
func BenchmarkCheck(b *testing.B) {
	s := benchStore(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Check(ctx, "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckParallel(b *testing.B) {
	s := benchStore(b, 10_000)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Check(ctx, "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRotate is a winning rotation of a fresh token: stripe, read, storage lock, three
// reads, one write, unlock.
func BenchmarkRotate(b *testing.B) {
	s := benchStore(b, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.Rotate(ctx, "j"+strconv.Itoa(i), "fam", exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRotateParallel(b *testing.B) {
	s := benchStore(b, 0)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Rotate(ctx, "j"+strconv.FormatInt(n.Add(1), 10), "fam", exp); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRotateReused is a replayed token: stripe, read, family revocation (read, no write).
func BenchmarkRotateReused(b *testing.B) {
	s := benchStore(b, 0)
	if err := s.Rotate(ctx, "j1", "fam", exp); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Rotate(ctx, "j1", "fam", exp); err != ErrReused {
			b.Fatal(err)
		}
	}
}
