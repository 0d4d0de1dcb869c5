package users

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/limit"
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

	timed map[string]time.Duration // cost class -> one comparison's time (see slowest); guarded by mu
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
	l.warnMixedCosts(all, s.decoy)
	return s
}

// decoy returns what an unknown user's password is compared against: the costliest hash among
// the users (that user's own; the result of the comparison is never used), so that an unknown
// name takes as long as the slowest user. Any cheaper hash would tell names apart: Caddy's
// bcrypt fake hash has cost 14, `htpasswd -B` makes cost 5, 500 times faster, and one user at
// cost 12 among users at cost 10 answers four times slower than a made-up name would. Within an
// algorithm the cost is read from the hash (bcrypt's cost; argon2id's memory times passes);
// across algorithms it cannot be, so the costliest of each is timed once (see slowest). With no
// users at all, it is the first algorithm's FakeHash.
func (l *Local) decoy(all []*account) *account {
	if len(all) == 0 {
		return &account{hash: l.algs[0].FakeHash, alg: 0, where: "the fake hash"}
	}
	var perAlg []*account // the costliest user of each algorithm in use, in first-seen order
	for _, a := range all {
		i := slices.IndexFunc(perAlg, func(b *account) bool { return b.alg == a.alg })
		switch {
		case i < 0:
			perAlg = append(perAlg, a)
		case costlier(a, perAlg[i]):
			perAlg[i] = a
		}
	}
	if len(perAlg) == 1 {
		return perAlg[0]
	}
	return l.slowest(perAlg)
}

// costlier reports whether comparing a password with a's hash costs more than with b's, both of
// one algorithm: a higher bcrypt cost; more argon2id memory x passes, or as much with fewer
// threads (which run in parallel). Hashes of other formats all cost the same.
func costlier(a, b *account) bool {
	wa, la := hashCost(string(a.hash))
	wb, lb := hashCost(string(b.hash))
	return wa > wb || (wa == wb && la < lb)
}

// hashCost is the work of one comparison with hash in the algorithm's own unit, and the threads
// it runs on (1, but for argon2id's p).
func hashCost(hash string) (work, threads uint64) {
	switch {
	case isBcrypt(hash) && len(hash) >= 6:
		cost, err := strconv.Atoi(hash[4:6])
		if err == nil && cost >= 0 && cost < 64 {
			return 1 << cost, 1
		}
	case strings.HasPrefix(hash, "$argon2id$"):
		var m, t, p, k uint64
		if params, err := argon2Params(hash); err == nil {
			if _, err := fmt.Sscanf(params, "m=%d,t=%d,p=%d,k=%d", &m, &t, &p, &k); err == nil {
				return m * t, p
			}
		}
	}
	return 0, 1
}

// slowest times one comparison with each hash (of different algorithms, whose costs have no
// common unit) and returns the slowest. Each cost class is timed once per Local: a users file
// read again costs a comparison only for a class it did not have. The caller holds l.mu, or is
// NewLocal.
func (l *Local) slowest(cands []*account) *account {
	if l.timed == nil {
		l.timed = make(map[string]time.Duration)
	}
	var best *account
	var bestTime time.Duration
	for _, a := range cands {
		class := costClass(a.alg, string(a.hash))
		d, ok := l.timed[class]
		if !ok {
			start := time.Now()
			_, _ = compare(l.algs[a.alg].Comparer, a.hash, "gatehouse timing probe")
			d = time.Since(start)
			l.timed[class] = d
		}
		if best == nil || d > bestTime {
			best, bestTime = a, d
		}
	}
	return best
}

// warnMixedCosts tells the operator when the users' hashes differ in cost: an unknown name
// costs what the costliest does, so a user with a cheaper hash answers faster than a made-up
// name, and a client that times the answers can tell that the name exists.
func (l *Local) warnMixedCosts(all []*account, decoy *account) {
	classes := make(map[string]bool)
	for _, a := range all {
		classes[costClass(a.alg, string(a.hash))] = true
	}
	if len(classes) > 1 {
		l.log.Warn("password hashes of different costs: unknown usernames are checked at the highest one, so "+
			"users with cheaper hashes can be told apart by how fast a wrong password is answered; hash every password at one cost",
			zap.Int("costs", len(classes)), zap.String("costliest", decoy.where),
			zap.String("algorithm", l.algs[decoy.alg].Name))
	}
}

// LineErrors returns the lines skipped when the file was last read.
func (l *Local) LineErrors() []LineError {
	return append([]LineError(nil), l.users.Load().skipped...)
}

// Authenticate implements Authenticator: ErrInvalid for an unknown user or a wrong password, at
// the same cost as the costliest user (an unknown user is compared against that user's hash);
// limit.ErrQueueFull or limit.ErrShareExceeded, without hashing, when the Gate is busy.
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
	// The gate counts the caller's share by its client (limit.WithClient), so that one client
	// address cannot fill the queue; a refusal comes before any hashing.
	client := limit.Client(ctx)
	if err := l.gate.Enter(ctx, client); err != nil {
		return Identity{}, err
	}
	ok, err := compare(l.algs[target.alg].Comparer, target.hash, password)
	l.gate.Leave(client)
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

// Lookup implements Directory: the identity of a configured user, as Authenticate gives it.
func (l *Local) Lookup(username string) (Identity, bool) {
	if l.file != "" {
		l.maybeReload()
	}
	acct := l.users.Load().byName[username]
	if acct == nil {
		return Identity{}, false
	}
	return Identity{Username: acct.name, Claims: maps.Clone(acct.claims)}, true
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
