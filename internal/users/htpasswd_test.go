package users

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// fixed hashes for parser tests: syntactically valid, never compared.
const (
	hb = "$2b$10$abcdefghijklmnopqrstuuSECRETSECRETSECRETSECRETSECRETS" // 60 characters
	ha = "$argon2id$v=19$m=47104,t=1,p=1$U0VDUkVUU0VDUkVUU0VDUg$U0VDUkVUU0VDUkVUU0VDUkVUU0VDUkVUU0VDUkVUU0U"
)

// user is a parsed user, as tests compare them.
type user struct {
	name string
	line int
}

func parsed(us []fileUser) []user {
	var out []user
	for _, u := range us {
		out = append(out, user{u.name, u.line})
	}
	return out
}

func TestParseHtpasswd(t *testing.T) {
	long := "x:" + strings.Repeat("A", maxLineLen)
	tests := []struct {
		name    string
		in      string
		users   []user
		skipped []LineError
	}{
		{"empty file", "", nil, nil},
		{"one user, no final newline", "alice:" + hb, []user{{"alice", 1}}, nil},
		{"comments and blank lines", lines("# c", "  # indented comment", "", "   ", "\t", "alice:"+hb, "bob:"+ha, ""),
			[]user{{"alice", 6}, {"bob", 7}}, nil},
		{"CRLF", "alice:" + hb + "\r\n\r\nbob:" + ha + "\r\n", []user{{"alice", 1}, {"bob", 3}}, nil},
		{"byte order mark", "\uFEFFalice:" + hb + "\n", []user{{"alice", 1}}, nil},
		{"spaces around the hash", "alice: " + hb + " \t\n", []user{{"alice", 1}}, nil},
		{"names may have inner spaces and any UTF-8", "Zoë Smith:" + hb + "\nuser@example.com:" + ha, []user{{"Zoë Smith", 1}, {"user@example.com", 2}}, nil},
		{"no colon", lines("alice:"+hb, "bobSECRET", "carol:"+ha), []user{{"alice", 1}, {"carol", 3}},
			[]LineError{{2, "no ':' between user name and hash; write user:hash"}}},
		{"empty user", ":" + hb, nil, []LineError{{1, "empty user name before ':'"}}},
		{"spaces around name", " alice:" + hb + "\nbob :" + hb, nil,
			[]LineError{{1, "spaces around the user name; remove them"}, {2, "spaces around the user name; remove them"}}},
		{"control character in name", "al\x00ice:" + hb + "\nal\rice:" + hb, nil,
			[]LineError{{1, "user name is not valid UTF-8 or has control characters"}, {2, "user name is not valid UTF-8 or has control characters"}}},
		{"invalid UTF-8 in name", "al\xffice:" + hb, nil, []LineError{{1, "user name is not valid UTF-8 or has control characters"}}},
		{"no hash", "alice:\nbob:  ", nil, []LineError{
			{1, "no hash after ':'; hash the password with `caddy hash-password`"},
			{2, "no hash after ':'; hash the password with `caddy hash-password`"}}},
		{"extra field", "alice:" + hb + ":SECRET", nil, []LineError{{1, "a second ':' after the hash; write user:hash with nothing after it"}}},
		{"plaintext password", "alice:SECRET", nil, []LineError{{1, "unknown password hash format; use bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$), e.g. from `caddy hash-password`"}}},
		{"MD5 htpasswd hash", "alice:$apr1$SECRET$SECRETSECRET", nil, []LineError{{1, "unknown password hash format; use bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$), e.g. from `caddy hash-password`"}}},
		{"truncated bcrypt", "alice:" + hb[:59], nil, []LineError{{1, "bcrypt hash is not 60 characters of the form $2b$NN$...; copy it whole from `caddy hash-password` or `htpasswd -nB`"}}},
		{"damaged argon2id", "alice:" + strings.Replace(ha, "t=1", "t=0", 1), nil, []LineError{{1, "argon2id iterations (t) must be at least 1"}}},
		{"duplicate: first wins", lines("alice:"+hb, "bob:"+hb, "alice:"+ha), []user{{"alice", 1}, {"bob", 2}},
			[]LineError{{3, "duplicate user: line 1 defines it first and is used; remove one of the two"}}},
		{"a skipped line does not reserve its name", lines("alice:SECRET", "alice:"+hb), []user{{"alice", 2}},
			[]LineError{{1, "unknown password hash format; use bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$), e.g. from `caddy hash-password`"}}},
		{"longest line allowed", "x:" + hb + strings.Repeat(" ", maxLineLen-62), []user{{"x", 1}}, nil},
		{"overly long line, then good lines", lines(long, "alice:"+hb, long+"\r", long+long, "bob:"+hb), []user{{"alice", 2}, {"bob", 5}},
			[]LineError{
				{1, "line is longer than 4096 bytes; a user:hash line is far shorter"},
				{3, "line is longer than 4096 bytes; a user:hash line is far shorter"},
				{4, "line is longer than 4096 bytes; a user:hash line is far shorter"}}},
		{"overly long last line", "alice:" + hb + "\n" + long, []user{{"alice", 1}},
			[]LineError{{2, "line is longer than 4096 bytes; a user:hash line is far shorter"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			us, skipped, err := parseHtpasswd(strings.NewReader(tt.in), caddyAlgorithms())
			if err != nil {
				t.Fatal(err)
			}
			if got := parsed(us); !reflect.DeepEqual(got, tt.users) {
				t.Errorf("users = %v, want %v", got, tt.users)
			}
			if !reflect.DeepEqual(skipped, tt.skipped) {
				t.Errorf("skipped = %v, want %v", skipped, tt.skipped)
			}
			for _, e := range skipped {
				if strings.Contains(e.Msg, "SECRET") {
					t.Errorf("line %d: message quotes the line: %s", e.Line, e.Msg)
				}
			}
		})
	}
}

// TestParseHtpasswdReadError keeps the reader's error, so that a reload failure keeps the old
// users instead of installing a partial set.
func TestParseHtpasswdReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader("alice:"+hb+"\nbob"), iotestErr{boom})
	if _, _, err := parseHtpasswd(r, caddyAlgorithms()); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

// messageTemplates are every message parseHtpasswd may give, digits replaced by N: the fuzz
// target checks each message against them, which proves messages never quote a line.
var messageTemplates = func() map[string]bool {
	algs := caddyAlgorithms()
	m := make(map[string]bool)
	for _, s := range []string{
		unknownFormat(algs),
		"no ':' between user name and hash; write user:hash",
		"empty user name before ':'",
		"spaces around the user name; remove them",
		"user name is not valid UTF-8 or has control characters",
		"no hash after ':'; hash the password with `caddy hash-password`",
		"a second ':' after the hash; write user:hash with nothing after it",
		"duplicate user: line N defines it first and is used; remove one of the two",
		"line is longer than N bytes; a user:hash line is far shorter",
		"bcrypt hash is not N characters of the form $Nb$NN$...; copy it whole from `caddy hash-password` or `htpasswd -nB`",
		"bcrypt cost must be two digits from N to N",
		"bcrypt hash has characters outside bcrypt's alphabet; copy it whole",
		"argon2id hash is not of the form $argonNid$v=N$m=...,t=...,p=...$salt$key; copy it whole from `caddy hash-password --algorithm argonNid`",
		"argon2id hash must be version N (v=N)",
		"argon2id parameters must be m=<KiB>,t=<iterations>,p=<threads>",
		"argon2id iterations (t) must be at least N",
		"argon2id threads (p) must be from N to N",
		"argon2id memory (m) must be at least N KiB per thread",
		"argon2id memory (m) over N GiB: check the hash's m= value",
		"argon2id salt must be at least N bytes of unpadded base64",
		"argon2id key must be N to N bytes of unpadded base64",
	} {
		m[digits.ReplaceAllString(s, "N")] = true
	}
	return m
}()

var digits = regexp.MustCompile(`[0-9]+`)

// FuzzHtpasswd feeds arbitrary files to the users file reader. It must not panic, and:
// every line is accounted for once (a user, a skipped line, or blank/comment); users are
// unique, in line order, with names free of ':', spaces around, control characters and
// invalid UTF-8, and hashes an algorithm accepts and checkHash passes; messages come from a
// fixed set, so they never quote the file; and writing the users back and reading them again
// gives the same users.
func FuzzHtpasswd(f *testing.F) {
	for _, s := range []string{
		"", "alice:" + hb + "\n", "# c\r\nbob:" + ha + "\r\n", "a:b:c\n:x\nnocolon\n a:" + hb,
		"alice:" + hb + "\nalice:" + ha, "\uFEFFz:" + hb, "x:" + strings.Repeat("y", maxLineLen+3),
	} {
		f.Add([]byte(s))
	}
	algs := caddyAlgorithms()
	f.Fuzz(func(t *testing.T, data []byte) {
		us, skipped, err := parseHtpasswd(bytes.NewReader(data), algs)
		if err != nil {
			t.Fatalf("read error from memory: %v", err)
		}
		nLines := bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			nLines++
		}
		seenLine := make(map[int]bool)
		for _, e := range skipped {
			if e.Line < 1 || e.Line > nLines || seenLine[e.Line] {
				t.Fatalf("skipped line %d of %d reported once more or out of range", e.Line, nLines)
			}
			seenLine[e.Line] = true
			if !messageTemplates[digits.ReplaceAllString(e.Msg, "N")] {
				t.Fatalf("line %d: message not from the fixed set: %q", e.Line, e.Msg)
			}
		}
		names := make(map[string]bool)
		last := 0
		var back strings.Builder
		for _, u := range us {
			switch {
			case u.line <= last || u.line > nLines || seenLine[u.line]:
				t.Fatalf("user on line %d after line %d, or on a skipped line", u.line, last)
			case names[u.name]:
				t.Fatalf("user %q twice", u.name)
			case u.name == "" || strings.ContainsRune(u.name, ':') || strings.TrimSpace(u.name) != u.name:
				t.Fatalf("bad name %q", u.name)
			case findAlgorithm(algs, u.hash) != u.alg || u.alg < 0:
				t.Fatalf("line %d: hash of algorithm %d, found %d", u.line, u.alg, findAlgorithm(algs, u.hash))
			case checkHash(u.hash) != nil:
				t.Fatalf("line %d: hash fails checkHash: %v", u.line, checkHash(u.hash))
			}
			names[u.name], last = true, u.line
			fmt.Fprintf(&back, "%s:%s\n", u.name, u.hash)
		}
		again, skippedAgain, err := parseHtpasswd(strings.NewReader(back.String()), algs)
		if err != nil || len(skippedAgain) != 0 || len(again) != len(us) {
			t.Fatalf("round trip: %d users, %v skipped, %v; want %d users", len(again), skippedAgain, err, len(us))
		}
		for i := range us {
			if again[i].name != us[i].name || again[i].hash != us[i].hash {
				t.Fatalf("round trip changed user %d", i)
			}
		}
	})
}
