package bulwarktest

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
)

// debugEnv, when set to 1 or true, sends a [PanicTB]'s log to standard
// error. Standard output would disturb an Example's Output comparison.
const debugEnv = "BULWARK_DEBUG"

// PanicTB is a testing.TB for runnable examples, which get no *testing.T:
// a failure panics with its message, so a helper of this package fails the
// Example loudly instead of printing wrong Output. Its Cleanup functions
// run when [PanicTB.Close] is called, last registered first: defer it.
//
//	func Example_refused() {
//		t := bulwarktest.NewPanicTB()
//		defer t.Close()
//		dbURL := bulwarktest.NewDatabase(t) // dropped by t.Close
//		...
//	}
//
// The Example must run under [Main] like any test. Skip, SkipNow and
// Skipf panic too: an example never skips. Its log is discarded unless
// BULWARK_DEBUG is 1 or true; then it goes to standard error.
type PanicTB struct {
	// A nil testing.TB, embedded only for its unexported method: every
	// method of testing.TB is implemented below, so none reaches it.
	testing.TB

	mu       sync.Mutex
	cancel   context.CancelFunc
	cleanups []func()
	ctx      context.Context
	env      map[string]*string // previous values of Setenv's variables
	dirs     []string
	wd       string // the working directory before Chdir
}

// NewPanicTB returns a PanicTB whose Context is live until Close.
func NewPanicTB() *PanicTB {
	ctx, cancel := context.WithCancel(context.Background())
	return &PanicTB{cancel: cancel, ctx: ctx}
}

// Close cancels the Context, runs the Cleanup functions, last registered
// first, and restores what Setenv and Chdir changed and removes what
// TempDir and ArtifactDir made. A failing Cleanup function panics, as any
// failure does, after the others ran.
func (tb *PanicTB) Close() {
	tb.cancel()
	var failure any
	for {
		tb.mu.Lock()
		if len(tb.cleanups) == 0 {
			tb.mu.Unlock()
			break
		}
		f := tb.cleanups[len(tb.cleanups)-1]
		tb.cleanups = tb.cleanups[:len(tb.cleanups)-1]
		tb.mu.Unlock()
		func() {
			defer func() {
				if r := recover(); r != nil && failure == nil {
					failure = r
				}
			}()
			f()
		}()
	}
	tb.mu.Lock()
	for key, prev := range tb.env {
		if prev == nil {
			_ = os.Unsetenv(key)
		} else {
			_ = os.Setenv(key, *prev)
		}
	}
	tb.env = nil
	if tb.wd != "" {
		_ = os.Chdir(tb.wd)
		tb.wd = ""
	}
	for _, dir := range tb.dirs {
		_ = os.RemoveAll(dir)
	}
	tb.dirs = nil
	tb.mu.Unlock()
	if failure != nil {
		panic(failure)
	}
}

// ArtifactDir returns a new directory, removed by Close.
func (tb *PanicTB) ArtifactDir() string { return tb.TempDir() }

// Attr logs key and value.
func (tb *PanicTB) Attr(key, value string) { tb.Logf("%s: %s", key, value) }

// Chdir changes the working directory until Close.
func (tb *PanicTB) Chdir(dir string) {
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatalf("chdir: %v", err)
	}
	if err := os.Chdir(dir); err != nil {
		tb.Fatalf("chdir: %v", err)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.wd == "" {
		tb.wd = wd
	}
}

// Cleanup registers f to run when Close is called.
func (tb *PanicTB) Cleanup(f func()) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.cleanups = append(tb.cleanups, f)
}

// Context returns a context canceled when Close is called.
func (tb *PanicTB) Context() context.Context { return tb.ctx }

// Error panics with its arguments.
func (tb *PanicTB) Error(args ...any) { tb.fail(fmt.Sprint(args...)) }

// Errorf panics with the formatted message.
func (tb *PanicTB) Errorf(format string, args ...any) { tb.fail(fmt.Sprintf(format, args...)) }

// Fail panics.
func (tb *PanicTB) Fail() { tb.fail("Fail called") }

// FailNow panics.
func (tb *PanicTB) FailNow() { tb.fail("FailNow called") }

// Failed reports false: a failure never returns.
func (tb *PanicTB) Failed() bool { return false }

// Fatal panics with its arguments.
func (tb *PanicTB) Fatal(args ...any) { tb.fail(fmt.Sprint(args...)) }

// Fatalf panics with the formatted message.
func (tb *PanicTB) Fatalf(format string, args ...any) { tb.fail(fmt.Sprintf(format, args...)) }

// Helper does nothing.
func (tb *PanicTB) Helper() {}

// Log logs its arguments (see [PanicTB]).
func (tb *PanicTB) Log(args ...any) { fmt.Fprintln(tb.Output(), args...) }

// Logf logs the formatted message (see [PanicTB]).
func (tb *PanicTB) Logf(format string, args ...any) { fmt.Fprintf(tb.Output(), format+"\n", args...) }

// Name returns "PanicTB".
func (tb *PanicTB) Name() string { return "PanicTB" }

// Output returns where the log goes: standard error if BULWARK_DEBUG is 1
// or true, else nowhere.
func (tb *PanicTB) Output() io.Writer {
	if v := os.Getenv(debugEnv); v == "1" || v == "true" {
		return os.Stderr
	}
	return io.Discard
}

// Setenv sets the environment variable key to value until Close.
func (tb *PanicTB) Setenv(key, value string) {
	prev, had := os.LookupEnv(key)
	if err := os.Setenv(key, value); err != nil {
		tb.Fatalf("setenv %s: %v", key, err)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.env == nil {
		tb.env = map[string]*string{}
	}
	if _, seen := tb.env[key]; !seen {
		if had {
			tb.env[key] = &prev
		} else {
			tb.env[key] = nil
		}
	}
}

// Skip panics: an example never skips.
func (tb *PanicTB) Skip(args ...any) { tb.fail("an example cannot skip: " + fmt.Sprint(args...)) }

// SkipNow panics: an example never skips.
func (tb *PanicTB) SkipNow() { tb.fail("an example cannot skip") }

// Skipf panics: an example never skips.
func (tb *PanicTB) Skipf(format string, args ...any) {
	tb.fail("an example cannot skip: " + fmt.Sprintf(format, args...))
}

// Skipped reports false.
func (tb *PanicTB) Skipped() bool { return false }

// TempDir returns a new directory, removed by Close.
func (tb *PanicTB) TempDir() string {
	dir, err := os.MkdirTemp("", "bulwarktest-")
	if err != nil {
		tb.Fatalf("make a temporary directory: %v", err)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.dirs = append(tb.dirs, dir)
	return dir
}

// fail panics with msg.
func (tb *PanicTB) fail(msg string) {
	panic("bulwarktest: " + msg)
}
