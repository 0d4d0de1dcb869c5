package keys

import (
	"testing"
)

func TestCandidates(t *testing.T) {
	a := &Key{ID: "a", Algs: []string{"RS256", "PS256"}}
	b := &Key{ID: "b", Algs: []string{"RS256"}}
	noID := &Key{Algs: []string{"HS256", "RS256"}}
	es := &Key{ID: "a", Algs: []string{"ES256"}}
	s := NewSet(a, b, noID, es)

	tests := []struct {
		name     string
		set      *Set
		kid, alg string
		want     []*Key
	}{
		{"kid and keys without id", s, "a", "RS256", []*Key{a, noID}},
		{"kid picks among duplicates by alg", s, "a", "ES256", []*Key{es}},
		{"unknown kid leaves keys without id", s, "zzz", "RS256", []*Key{noID}},
		{"no kid: every key allowing alg", s, "", "RS256", []*Key{a, b, noID}},
		{"alg nobody allows", s, "a", "HS512", nil},
		{"alg only the id-less key allows", s, "b", "HS256", []*Key{noID}},
		{"nil set", nil, "a", "RS256", nil},
		{"empty set", NewSet(), "", "RS256", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.set.Candidates(nil, tt.kid, tt.alg)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d candidates, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("candidate %d is %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCandidatesAppendsWithoutAllocating(t *testing.T) {
	x := &Key{ID: "x", Algs: []string{"HS256"}}
	s := NewSet(&Key{ID: "a", Algs: []string{"HS256"}}, &Key{Algs: []string{"HS256"}})
	var buf [4]*Key
	dst := append(buf[:0], x)
	got := s.Candidates(dst, "a", "HS256")
	if len(got) != 3 || got[0] != x {
		t.Fatalf("Candidates did not append to dst: %v", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.Candidates(buf[:0], "a", "HS256") }); n != 0 {
		t.Errorf("Candidates allocates %v times with room in dst", n)
	}
}

func TestHasID(t *testing.T) {
	s := NewSet(&Key{ID: "a"}, &Key{})
	tests := []struct {
		set  *Set
		kid  string
		want bool
	}{
		{s, "a", true},
		{s, "A", false},
		{s, "b", false},
		{s, "", true}, // the key without an id
		{NewSet(&Key{ID: "a"}), "", false},
		{nil, "a", false},
	}
	for _, tt := range tests {
		if got := tt.set.HasID(tt.kid); got != tt.want {
			t.Errorf("HasID(%q) = %v, want %v", tt.kid, got, tt.want)
		}
	}
}

func TestSetLenKeys(t *testing.T) {
	var nilSet *Set
	if nilSet.Len() != 0 || nilSet.Keys() != nil {
		t.Error("nil set is not empty")
	}
	k := &Key{ID: "a"}
	if s := NewSet(k); s.Len() != 1 || s.Keys()[0] != k {
		t.Error("NewSet lost its key")
	}
}
