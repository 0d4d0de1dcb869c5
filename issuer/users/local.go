package users

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/issuer/limit"
)

// User is one configured user.
type User struct {
	Name string
	// Hash is the password hash (bcrypt $2a$/$2b$/$2y$, or argon2id $argon2id$...).
	Hash string
	// Claims are extra token claims for this user (nil for none).
	Claims map[string]any
}

// LineError is a line of the users file that was skipped, and why (never the hash or password).
type LineError struct {
	Line int
	Msg  string
}

// LocalConfig configures Local.
type LocalConfig struct {
	// Users are configured inline; they win over file users of the same name.
	Users []User
	// File is an htpasswd-style file (user:hash per line, # comments, blank lines), "" for none.
	File string
	// Algorithms are the accepted hash formats (at least one).
	Algorithms []Algorithm
	// Gate bounds concurrent hash comparisons; nil means limit.NewGate(0).
	Gate *limit.Gate
	// Logger receives file reload events and skipped lines (with line numbers); nil: zap.NewNop().
	Logger *zap.Logger
}

// Local checks passwords of inline users and users from a file. The file is read by NewLocal
// and again when its modification time or size changes (checked at most once a second, when a
// login needs it); a line that cannot be used is skipped and reported with its number without
// dropping the good ones, and a file that cannot be read keeps the users last read.
type Local struct {
	algs   []Algorithm
	gate   *limit.Gate
	log    *zap.Logger
	inline []*account // in config order
	file   string

	users atomic.Pointer[userSet] // what Authenticate reads; replaced whole on reload

	// The file's reload state. nextCheck (unix nanoseconds) lets one login a second look at
	// the file; mu serialises the reads and guards the rest.
	now       func() time.Time
	nextCheck atomic.Int64
	mu        sync.Mutex
	read      os.FileInfo // the file as last read successfully
	lastErr   string      // the last reload failure logged, so a missing file warns once
}

// account is a user Local can check.
type account struct {
	name   string
	hash   []byte
	alg    int            // index into Local.algs
	claims map[string]any // nil for none
	where  string         // for logs: "users file line 3", "inline user 2" (never the name)
}

// userSet is every user at one time, with the hash unknown users are compared against.
type userSet struct {
	byName  map[string]*account
	decoy   *account
	skipped []LineError
}

// NewLocal reads the file (an unreadable file is an error that says what to fix) and returns a
// Local. Skipped lines are available from LineErrors.
func NewLocal(cfg LocalConfig) (*Local, error) {
	if err := checkAlgorithms(cfg.Algorithms); err != nil {
		return nil, err
	}
	if len(cfg.Users) == 0 && cfg.File == "" {
		return nil, errors.New("users: no users; configure inline users or a users file")
	}
	l := &Local{
		algs: cfg.Algorithms,
		gate: cfg.Gate,
		log:  cfg.Logger,
		file: cfg.File,
		now:  time.Now,
	}
	if l.gate == nil {
		l.gate = limit.NewGate(0)
	}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	seen := make(map[string]bool, len(cfg.Users))
	for i, u := range cfg.Users {
		a, err := l.inlineAccount(i, u)
		if err != nil {
			return nil, err
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("users: user %q is configured twice; keep one", u.Name)
		}
		seen[u.Name] = true
		l.inline = append(l.inline, a)
	}
	if l.file == "" {
		l.users.Store(l.merge(nil, nil))
		return l, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.load(); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	l.nextCheck.Store(l.now().Add(reloadInterval).UnixNano())
	return l, nil
}

// checkAlgorithms checks that every algorithm can be used, its fake hash included.
func checkAlgorithms(algs []Algorithm) error {
	if len(algs) == 0 {
		return errors.New("users: no password hash algorithms; configure at least one")
	}
	for i, a := range algs {
		switch {
		case a.Name == "":
			return fmt.Errorf("users: hash algorithm %d has no name", i)
		case a.Comparer == nil:
			return fmt.Errorf("users: hash algorithm %s has no comparer", a.Name)
		case len(a.Prefixes) == 0 || slices.Contains(a.Prefixes, ""):
			return fmt.Errorf("users: hash algorithm %s needs non-empty prefixes", a.Name)
		case findAlgorithm(algs[i:i+1], string(a.FakeHash)) < 0:
			return fmt.Errorf("users: the fake hash of %s does not start with one of its prefixes", a.Name)
		}
		if err := checkHash(string(a.FakeHash)); err != nil {
			return fmt.Errorf("users: the fake hash of %s: %w", a.Name, err)
		}
	}
	return nil
}

// inlineAccount checks the i-th configured user.
func (l *Local) inlineAccount(i int, u User) (*account, error) {
	if u.Name == "" {
		return nil, fmt.Errorf("users: user %d has no name", i+1)
	}
	hash := normalizeHash(u.Hash)
	alg := findAlgorithm(l.algs, hash)
	if alg < 0 {
		return nil, fmt.Errorf("users: user %q: %s", u.Name, unknownFormat(l.algs))
	}
	if err := checkHash(hash); err != nil {
		return nil, fmt.Errorf("users: user %q: %w", u.Name, err)
	}
	var claims map[string]any
	if len(u.Claims) > 0 {
		claims = maps.Clone(u.Claims)
	}
	return &account{name: u.Name, hash: []byte(hash), alg: alg, claims: claims, where: "inline user " + strconv.Itoa(i+1)}, nil
}

// merge returns the set of inline users and the users read from the file; inline users win
// over file users of the same name.
func (l *Local) merge(fromFile []fileUser, skipped []LineError) *userSet {
	s := &userSet{byName: make(map[string]*account, len(l.inline)+len(fromFile)), skipped: skipped}
	all := make([]*account, 0, len(l.inline)+len(fromFile))
	for _, a := range l.inline {
		s.byName[a.name] = a
		all = append(all, a)
	}
	for _, u := range fromFile {
		if _, ok := s.byName[u.name]; ok {
			continue
		}
		a := &account{name: u.name, hash: []byte(u.hash), alg: u.alg, where: "users file line " + strconv.Itoa(u.line)}
		s.byName[a.name] = a
		all = append(all, a)
	}
	s.decoy = l.decoy(all)
	return s
}

// decoy returns what an unknown user's password is compared against: a hash of the commonest
// algorithm and cost among the users (the first such user's), so that an unknown user costs
// what a wrong password costs for most users. A fixed fake hash would not: Caddy's bcrypt fake
// hash has cost 14, and `htpasswd -B` makes cost 5, 500 times faster, which would tell a client
// which names exist. With no users at all, it is the first algorithm's FakeHash. The result of
// comparing against the decoy is never used.
func (l *Local) decoy(all []*account) *account {
	classes := make([]string, len(all))
	counts := make(map[string]int)
	for i, a := range all {
		classes[i] = costClass(a.alg, string(a.hash))
		counts[classes[i]]++
	}
	best := -1 // the first user of the class with the most users
	for i := range all {
		if best < 0 || counts[classes[i]] > counts[classes[best]] {
			best = i
		}
	}
	if best < 0 {
		return &account{hash: l.algs[0].FakeHash, alg: 0, where: "the fake hash"}
	}
	return all[best]
}

// LineErrors returns the lines skipped when the file was last read.
func (l *Local) LineErrors() []LineError {
	return append([]LineError(nil), l.users.Load().skipped...)
}

// Authenticate implements Authenticator: ErrInvalid for an unknown user or a wrong password, at
// the same cost (an unknown user is compared against a fake hash).
func (l *Local) Authenticate(ctx context.Context, username, password string) (Identity, error) {
	if l.file != "" {
		l.maybeReload()
	}
	set := l.users.Load()
	acct := set.byName[username]
	target := acct
	if target == nil {
		target = set.decoy
	}
	if err := l.gate.Enter(ctx); err != nil {
		return Identity{}, err
	}
	ok, err := compare(l.algs[target.alg].Comparer, target.hash, password)
	l.gate.Leave()
	switch {
	case acct == nil:
		return Identity{}, ErrInvalid
	case err != nil:
		// Hashes are checked when read, so this is a comparer that disagrees with that check:
		// no login, and the operator learns which hash (by place, never by content).
		l.log.Error("a password hash cannot be checked; replace it", zap.String("user", acct.where),
			zap.String("algorithm", l.algs[acct.alg].Name), zap.Error(err))
		return Identity{}, ErrInvalid
	case !ok:
		return Identity{}, ErrInvalid
	}
	return Identity{Username: acct.name, Claims: maps.Clone(acct.claims)}, nil
}

// compare runs a comparer, turning a panic (a comparer given a hash it cannot take) into an
// error: bad input is never a crash, and never a login.
func compare(c Comparer, hash []byte, password string) (ok bool, err error) {
	defer func() {
		if recover() != nil {
			ok, err = false, errors.New("the hash comparer panicked on this hash")
		}
	}()
	return c.Compare(hash, []byte(password))
}
