package pgcluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// superuser is the bootstrap role initdb creates; URLs connect as it.
	superuser = "postgres"

	// markerFile marks a directory made by Start. Attach requires it, so
	// that Stop, which deletes the directory, never deletes a foreign one.
	markerFile = "pgcluster.json"

	// logFile is the server log, written by pg_ctl -l.
	logFile = "postgres.log"

	// startAttempts bounds retries when a picked port is taken between
	// picking and binding.
	startAttempts = 5
)

var (
	// languageRE matches the message catalog names gettext reads from
	// LANGUAGE: de, pt_BR, sr@latin.
	languageRE = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?(@[a-z]+)?$`)

	// settingNameRE matches names that are safe to write into
	// postgresql.conf.
	settingNameRE = regexp.MustCompile(`^[a-z][a-z0-9_.]*$`)
)

// translatedMessagesLocale is the lc_messages of a cluster started with a
// [StartOpts].Language. gettext ignores LANGUAGE under the C locale, but
// not under C.UTF-8, which every glibc since 2.35 (and Debian's long
// before) provides without generated locales.
const translatedMessagesLocale = "C.UTF-8"

// Cluster is a running disposable PostgreSQL cluster made by [Start] or
// taken over with [Attach]. Its methods are safe for concurrent use.
type Cluster struct {
	binDir string
	// cred is the OS user that runs initdb and pg_ctl; nil means the
	// current user.
	cred *syscall.Credential
	dir  string
	// language is the LANGUAGE of the server's environment; empty means
	// untranslated messages.
	language string
	pid      int
	port     int

	stopMu  sync.Mutex
	stopped bool
}

// StartOpts configures [Start]. A nil *StartOpts means the defaults.
type StartOpts struct {
	// BinDir is the directory holding initdb, pg_ctl and postgres. Empty
	// means [FindBinDir].
	BinDir string

	// Dir is the directory under which the cluster's own temporary
	// directory is made; it is created with mode 0755 if missing. Empty
	// means [os.TempDir]. When running as root it must be traversable by
	// OSUser.
	Dir string

	// Language, when not empty, makes the server speak that language: it
	// names a message catalog (de, fr, pt_BR) that goes into the server's
	// environment as LANGUAGE, and lc_messages becomes C.UTF-8, under
	// which gettext honours LANGUAGE. Server messages, their context
	// lines and severities then reach clients translated, as they do on
	// a production server set up in that language. The catalog must be
	// installed (on Debian, /usr/share/locale/<lang>/LC_MESSAGES/
	// postgres-<major>.mo, shipped with the server); without it the
	// server silently speaks English. Empty means untranslated (C)
	// messages.
	Language string

	// OSUser is the OS user that runs initdb and the server when the
	// current process runs as root, because both refuse root. Empty means
	// "postgres". It is ignored when not running as root.
	OSUser string

	// Port is the TCP port to listen on at 127.0.0.1. Zero picks a free
	// one, and picks again if another process takes it first.
	Port int

	// Settings are extra server settings, written to postgresql.conf after
	// the defaults, so they override them. Names must be lower-case
	// setting names; values are quoted.
	Settings map[string]string
}

// marker is the content of markerFile.
type marker struct {
	BinDir string `json:"bin_dir"`
}

// CheckLanguage reports an error unless lang has the form of a message
// catalog name that [StartOpts].Language accepts: de, pt_BR, sr@latin.
func CheckLanguage(lang string) error {
	if !languageRE.MatchString(lang) {
		return fmt.Errorf("invalid language %q: want a message catalog name such as de or pt_BR", lang)
	}
	return nil
}

// Start initializes a cluster in a new temporary directory and starts its
// server, listening on a unix socket in that directory and on a free TCP
// port on 127.0.0.1. The caller must call [Cluster.Stop]. On failure nothing
// is left behind, and the error carries the output of initdb or pg_ctl and
// the tail of the server log; it wraps [ErrNoBinaries] when the binaries are
// missing.
func Start(ctx context.Context, opts *StartOpts) (*Cluster, error) {
	if opts == nil {
		opts = &StartOpts{}
	}

	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	} else if err := checkBinDir(binDir); err != nil {
		return nil, fmt.Errorf("%w (%w): install them, e.g. apt-get install postgresql", ErrNoBinaries, err)
	}

	for name := range opts.Settings {
		if !settingNameRE.MatchString(name) {
			return nil, fmt.Errorf("invalid setting name %q", name)
		}
	}
	if opts.Language != "" {
		if err := CheckLanguage(opts.Language); err != nil {
			return nil, err
		}
	}

	cred, err := serverCredential(opts.OSUser)
	if err != nil {
		return nil, err
	}

	parent := opts.Dir
	if parent == "" {
		parent = os.TempDir()
	}
	if parent, err = filepath.Abs(parent); err != nil {
		return nil, fmt.Errorf("resolve cluster parent directory: %w", err)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create cluster parent directory: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "bulwark-pgcluster-")
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}

	c := &Cluster{binDir: binDir, cred: cred, dir: dir, language: opts.Language}
	if err := c.start(ctx, opts); err != nil {
		// Stop also removes whatever start left behind, a server that
		// started before ctx was cancelled included.
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return c, nil
}

// Attach returns the cluster that [Start] made in dir, so that a process
// other than the one that started it can stop it. The server need not be
// running. Attach fails if dir was not made by Start.
func Attach(dir string) (*Cluster, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve cluster directory: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, markerFile))
	if err != nil {
		return nil, fmt.Errorf("attach cluster %s: %w", dir, err)
	}
	var m marker
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("attach cluster %s: read %s: %w", dir, markerFile, err)
	}

	c := &Cluster{binDir: m.BinDir, dir: dir}
	if os.Geteuid() == 0 {
		// Act as whoever owns the data directory, as Start arranged.
		if info, err := os.Stat(c.dataDir()); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
				c.cred = &syscall.Credential{Uid: st.Uid, Gid: st.Gid}
			}
		}
	}
	if pid, port, err := readPIDFile(c.dataDir()); err == nil {
		c.pid, c.port = pid, port
	}
	return c, nil
}

// Dir returns the cluster's directory: it holds the data directory (data),
// the server log and the unix socket, and Stop deletes it.
func (c *Cluster) Dir() string { return c.dir }

// LogPath returns the path of the server log.
func (c *Cluster) LogPath() string { return filepath.Join(c.dir, logFile) }

// PID returns the process ID of the postmaster, or zero if [Attach] found no
// running server.
func (c *Cluster) PID() int { return c.pid }

// Port returns the TCP port the server listens on at 127.0.0.1, or zero if
// [Attach] found no running server.
func (c *Cluster) Port() int { return c.port }

// URL returns a connection URL for dbname over TCP as the superuser
// "postgres", which needs no password:
// postgres://postgres@127.0.0.1:PORT/dbname?sslmode=disable.
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop stops the server (pg_ctl stop -m immediate: the data is thrown away,
// so a clean shutdown buys nothing) and deletes the cluster's directory.
// Calling it again after success does nothing. If the server cannot be
// stopped, Stop keeps the directory, because deleting it under a running
// server would leave that server unreachable by any later Stop, and returns
// an error carrying pg_ctl's output.
func (c *Cluster) Stop() error {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()

	if c.stopped {
		return nil
	}
	if err := c.stopServer(); err != nil {
		return err
	}
	c.stopped = true
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("remove cluster directory: %w", err)
	}
	return nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

// start does Start's work in c.dir; Start cleans up if it fails.
func (c *Cluster) start(ctx context.Context, opts *StartOpts) error {
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("hand cluster directory to OS user %d: %w", c.cred.Uid, err)
		}
		if err := checkTraversable(c.dir, c.cred); err != nil {
			return err
		}
	}

	raw, err := json.Marshal(marker{BinDir: c.binDir})
	if err != nil {
		return fmt.Errorf("encode %s: %w", markerFile, err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, markerFile), raw, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", markerFile, err)
	}

	out, err := c.run(ctx, "initdb",
		"--pgdata", c.dataDir(),
		"--username", superuser,
		"--auth", "trust",
		"--encoding", "UTF8",
		"--locale", "C",
		"--no-sync",
	)
	if err != nil {
		return fmt.Errorf("run initdb: %w\n%s", err, out)
	}

	settings := maps.Clone(opts.Settings)
	if c.language != "" {
		if settings == nil {
			settings = map[string]string{}
		}
		settings["lc_messages"] = translatedMessagesLocale
	}
	if err := c.writeConfig(settings); err != nil {
		return err
	}

	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return err
			}
		}
		logStart := fileSize(c.LogPath())

		// The port goes on the command line rather than into
		// postgresql.conf so that a retry need not rewrite the file.
		out, err := c.run(ctx, "pg_ctl", "start",
			"--pgdata", c.dataDir(),
			"--log", c.LogPath(),
			"--options", "-p "+strconv.Itoa(port),
			"--wait",
			"--timeout", "120",
		)
		if err == nil {
			break
		}
		tail := logTail(c.LogPath(), logStart)
		if opts.Port == 0 && attempt < startAttempts && ctx.Err() == nil && portTaken(port) {
			continue
		}
		return fmt.Errorf("start server on port %d: %w\n%s\nserver log %s:\n%s", port, err, out, c.LogPath(), tail)
	}

	if c.pid, c.port, err = readPIDFile(c.dataDir()); err != nil {
		return err
	}
	return nil
}

// stopServer stops the server if its postmaster.pid says it runs.
func (c *Cluster) stopServer() error {
	pid, _, err := readPIDFile(c.dataDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil // never started, or already stopped
	}
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.run(ctx, "pg_ctl", "stop",
		"--pgdata", c.dataDir(),
		"--mode", "immediate",
		"--wait",
		"--timeout", "30",
	)
	if err == nil {
		return nil
	}

	// pg_ctl fails on a stale postmaster.pid (the server died) or when its
	// binaries are gone; signals settle both. SIGQUIT is what -m immediate
	// sends.
	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGKILL} {
		if !processAlive(pid) {
			return nil
		}
		_ = syscall.Kill(pid, sig)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && processAlive(pid); {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !processAlive(pid) {
		return nil
	}
	return fmt.Errorf("stop server (pid %d): %w\n%s", pid, err, out)
}

// run runs one of the server binaries as the cluster's OS user and returns
// its combined output.
func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	// The OS user may not be able to enter the current directory (/root).
	cmd.Dir = c.dir
	cmd.Env = serverEnv(c.language)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl's server must not hold our output pipe; should it ever, give
	// up on the pipe rather than hang.
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	return bytes.TrimSpace(out), err
}

// writeConfig appends the cluster's settings to postgresql.conf; later lines
// win, so extra overrides the defaults. Start has checked extra's names.
func (c *Cluster) writeConfig(extra map[string]string) error {
	settings := [][2]string{
		{"listen_addresses", "127.0.0.1"},
		{"unix_socket_directories", c.dir},
		// Durability is worthless for a throwaway cluster.
		{"fsync", "off"},
		{"synchronous_commit", "off"},
		{"full_page_writes", "off"},
		// Parallel test packages each open pools of their own.
		{"max_connections", "300"},
		{"shared_buffers", "128MB"},
		// Keep the log short: problems, not routine.
		{"log_checkpoints", "off"},
		{"log_line_prefix", "%m [%p] %q%u@%d "},
		{"log_min_messages", "warning"},
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		settings = append(settings, [2]string{k, extra[k]})
	}

	var b strings.Builder
	b.WriteString("\n# Added by pgcluster for a disposable cluster.\n")
	for _, s := range settings {
		fmt.Fprintf(&b, "%s = '%s'\n", s[0], strings.ReplaceAll(s[1], "'", "''"))
	}

	path := filepath.Join(c.dataDir(), "postgresql.conf")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("write postgresql.conf: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write postgresql.conf: %w", err)
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pick free port: %w", err)
	}
	return port, nil
}

// fileSize returns the size of the file at path, or zero.
func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// logTail returns the last lines written to the log at path after offset.
func logTail(path string, offset int64) string {
	const maxBytes, maxLines = 8 << 10, 40

	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if size := fileSize(path); size-offset > maxBytes {
		offset = size - maxBytes
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Sprintf("(unreadable log: %v)", err)
	}
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	if len(lines) == 0 {
		return "(empty)"
	}
	return strings.Join(lines, "\n")
}

// portTaken reports whether another process holds the TCP port on
// 127.0.0.1, by trying to bind it: the server's log says so too, but in the
// server's language.
func portTaken(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	_ = l.Close()
	return false
}

// processAlive reports whether a process with the given ID exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// readPIDFile returns the postmaster's process ID and port from
// postmaster.pid in dataDir. The error wraps fs.ErrNotExist when no server
// runs.
func readPIDFile(dataDir string) (pid, port int, err error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	// Lines: pid, data directory, start time, port, socket directory, ...
	lines := strings.Split(string(raw), "\n")
	if len(lines) < 4 {
		return 0, 0, fmt.Errorf("read postmaster.pid: %d lines, want at least 4", len(lines))
	}
	if pid, err = strconv.Atoi(strings.TrimSpace(lines[0])); err != nil {
		return 0, 0, fmt.Errorf("read postmaster.pid: pid: %w", err)
	}
	if port, err = strconv.Atoi(strings.TrimSpace(lines[3])); err != nil {
		return 0, 0, fmt.Errorf("read postmaster.pid: port: %w", err)
	}
	return pid, port, nil
}

// serverEnv returns the environment for the server binaries: ours without
// libpq's PG* variables, which could redirect pg_ctl, with the C locale, so
// that initdb and pg_ctl speak English and initdb picks the C locale for
// the cluster whatever ours is, and with LANGUAGE set to language, if any.
// LANGUAGE reaches only the server's messages: gettext ignores it under
// LC_ALL=C, which the server drops at start-up in favour of lc_messages.
func serverEnv(language string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_ALL=") || strings.HasPrefix(kv, "LANGUAGE=")
	})
	env = append(env, "LC_ALL=C")
	if language != "" {
		env = append(env, "LANGUAGE="+language)
	}
	return env
}
