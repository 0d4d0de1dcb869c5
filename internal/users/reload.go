package users

import (
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"
)

// reloadInterval is how often, at most, a login looks whether the users file changed.
const reloadInterval = time.Second

// maybeReload reads the users file again if it changed since it was last read, at most once
// per reloadInterval: the one login that claims the check pays for a stat (and, rarely, the
// read); the others go on with the users they have. A file that cannot be read keeps the
// users read before, and the failure is logged once until it changes. A file rewritten in
// place can be read half-written (until the next look, a second later); one replaced by a
// rename, as editors and config management tools do, is always read whole.
func (l *Local) maybeReload() {
	now := l.now().UnixNano()
	next := l.nextCheck.Load()
	if now < next || !l.nextCheck.CompareAndSwap(next, now+int64(reloadInterval)) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fi, err := os.Stat(l.file)
	if err == nil && l.read != nil && os.SameFile(fi, l.read) &&
		fi.ModTime().Equal(l.read.ModTime()) && fi.Size() == l.read.Size() {
		return
	}
	if err == nil {
		err = l.load()
	}
	if err != nil {
		if msg := err.Error(); msg != l.lastErr {
			l.lastErr = msg
			l.log.Warn("users file cannot be read again; keeping the users read before", zap.Error(err))
		}
		return
	}
	l.lastErr = ""
}

// load reads the users file and makes its users current, logging the lines it skipped. The
// caller holds l.mu.
func (l *Local) load() error {
	f, err := os.Open(l.file)
	if err != nil {
		return fmt.Errorf("cannot open the users file (check users_file and that Caddy's user may read it): %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("users file %s is not a regular file", l.file)
	}
	if fi.Size() > maxFileSize {
		return fmt.Errorf("%s: %w", l.file, errFileTooLarge)
	}
	// The file may grow while it is read: bound what is read, too.
	lr := &io.LimitedReader{R: f, N: maxFileSize + 1}
	users, skipped, err := parseHtpasswd(lr, l.algs)
	switch {
	case err != nil:
		return fmt.Errorf("reading the users file %s: %w", l.file, err)
	case lr.N == 0:
		return fmt.Errorf("%s: %w", l.file, errFileTooLarge)
	}
	reloaded := l.read != nil
	l.users.Store(l.merge(users, skipped))
	l.read = fi
	for _, e := range skipped {
		l.log.Warn("users file: line skipped", zap.String("file", l.file), zap.Int("line", e.Line), zap.String("problem", e.Msg))
	}
	msg := "users file read"
	if reloaded {
		msg = "users file changed and was read again"
	}
	l.log.Info(msg, zap.String("file", l.file), zap.Int("users", len(users)), zap.Int("skipped_lines", len(skipped)))
	return nil
}
