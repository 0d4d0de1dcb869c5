package users

import (
	"strings"
	"testing"
)

// TestList: users in line order with their algorithm and cost, never the hash; the lines Local
// skips are skipped here with the same messages.
func TestList(t *testing.T) {
	b4 := bcryptHash(t, "pw", 4, "$2b$")
	b5 := bcryptHash(t, "pw", 5, "$2y$")
	a := argon2Hash(t, "pw")
	file := "# users\nalice:" + b4 + "\n\nbob:" + a + "\r\ncarol:plaintext\ndave:" + b5 + "\nalice:" + b5 + "\n"
	got, skipped, err := List(strings.NewReader(file), caddyAlgorithms())
	if err != nil {
		t.Fatal(err)
	}
	want := []Listed{
		{Name: "alice", Line: 2, Algorithm: "bcrypt", Cost: "cost=04"},
		{Name: "bob", Line: 4, Algorithm: "argon2id", Cost: "m=47104,t=1,p=1,k=32"},
		{Name: "dave", Line: 6, Algorithm: "bcrypt", Cost: "cost=05"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("user %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(skipped) != 2 || skipped[0].Line != 5 || !strings.Contains(skipped[0].Msg, "unknown password hash format") ||
		skipped[1].Line != 7 || !strings.Contains(skipped[1].Msg, "duplicate user") {
		t.Errorf("skipped %+v", skipped)
	}
	for _, e := range skipped {
		if strings.Contains(e.Msg, "plaintext") {
			t.Errorf("a skipped line's message quotes the line: %s", e.Msg)
		}
	}
}

func TestListTooLarge(t *testing.T) {
	if _, _, err := List(strings.NewReader(strings.Repeat("#\n", maxFileSize/2+1)), caddyAlgorithms()); err == nil {
		t.Fatal("a file over the size limit was listed")
	}
}
