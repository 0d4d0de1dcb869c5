package users

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on a users file. A user:hash line is under 200 bytes; the line bound keeps a stray
// binary or log file from being read as one huge line, the size bound from filling memory.
const (
	maxLineLen  = 4096
	maxFileSize = 64 << 20
)

// errFileTooLarge is returned for a users file over maxFileSize.
var errFileTooLarge = fmt.Errorf("users file is larger than %d MiB; is it the right file?", maxFileSize>>20)

// fileUser is one usable line of a users file.
type fileUser struct {
	name string
	hash string // normalized
	alg  int    // index into the algorithms
	line int
}

// parseHtpasswd reads an htpasswd-style users file: one user:hash per line, lines ending in LF
// or CRLF, blank lines and lines starting with '#' (after optional spaces) ignored. A line that
// cannot be used is skipped and reported, with its number and what to fix, never its content:
// no ':' (or a second one after the hash), an empty user name, spaces around the name, control
// characters or invalid UTF-8 in it, a missing hash, a hash no algorithm accepts or a damaged
// one, and lines over maxLineLen bytes. When a user appears twice, the first line wins (as in
// Apache's mod_authn_file, which stops at the first match) and the later one is reported.
// The error is the reader's; users and skipped lines are returned in line order.
func parseHtpasswd(r io.Reader, algs []Algorithm) ([]fileUser, []LineError, error) {
	var (
		users   []fileUser
		skipped []LineError
		first   = make(map[string]int) // user name -> the line that defines it
	)
	br := bufio.NewReaderSize(r, maxLineLen+2) // room for a whole line, its CR and its LF
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if err == io.EOF {
			return users, skipped, nil
		}
		if err != nil {
			return users, skipped, err
		}
		if n == 1 {
			// A byte order mark, as some Windows editors write, is not part of the first name.
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		if tooLong {
			skipped = append(skipped, LineError{n, fmt.Sprintf("line is longer than %d bytes; a user:hash line is far shorter", maxLineLen)})
			continue
		}
		u, msg := parseLine(string(line), algs)
		switch {
		case msg != "":
			skipped = append(skipped, LineError{n, msg})
		case u.name == "": // blank or comment
		case first[u.name] != 0:
			skipped = append(skipped, LineError{n, fmt.Sprintf("duplicate user: line %d defines it first and is used; remove one of the two", first[u.name])})
		default:
			u.line = n
			first[u.name] = n
			users = append(users, u)
		}
	}
}

// readLine returns the next line without its LF or CRLF, or io.EOF after the last line (a
// last line without LF is a line). A line longer than maxLineLen bytes is read to its end and
// reported as tooLong, without its content.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		line, err = br.ReadSlice('\n')
	}
	switch {
	case err == io.EOF && len(line) == 0 && !tooLong:
		return nil, false, io.EOF
	case err != nil && err != io.EOF:
		return nil, false, err
	case tooLong:
		return nil, true, nil
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, len(line) > maxLineLen, nil
}

// parseLine parses one line: a user, or a message saying what is wrong, or neither for a blank
// line or a comment.
func parseLine(line string, algs []Algorithm) (fileUser, string) {
	trimmed := strings.TrimLeft(line, " \t")
	if trimmed == "" || trimmed[0] == '#' {
		return fileUser{}, ""
	}
	name, hash, ok := strings.Cut(line, ":")
	switch {
	case !ok:
		return fileUser{}, "no ':' between user name and hash; write user:hash"
	case name == "":
		return fileUser{}, "empty user name before ':'"
	case strings.TrimSpace(name) != name:
		return fileUser{}, "spaces around the user name; remove them"
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 || strings.ContainsRune(name, '\uFEFF'):
		return fileUser{}, "user name is not valid UTF-8 or has control characters"
	}
	hash = strings.Trim(hash, " \t")
	switch {
	case hash == "":
		return fileUser{}, "no hash after ':'; hash the password with `caddy hash-password`"
	case strings.ContainsRune(hash, ':'):
		return fileUser{}, "a second ':' after the hash; write user:hash with nothing after it"
	}
	hash = normalizeHash(hash)
	alg := findAlgorithm(algs, hash)
	if alg < 0 {
		return fileUser{}, unknownFormat(algs)
	}
	if err := checkHash(hash); err != nil {
		return fileUser{}, err.Error()
	}
	return fileUser{name: name, hash: hash, alg: alg}, ""
}
