package metadata_test

// A real PostgreSQL server for the tests: Debian's postgresql package, a
// throwaway cluster made by initdb in a temp dir, listening on a free
// loopback port, run as an unprivileged user (postgres, else nobody) when the
// tests run as root, and stopped when the tests end. A server that cannot
// start fails the tests that need it; they never skip.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	pgTestUser     = "snd"
	pgTestPassword = "pw-Xq81-never-shown"
)

type pgServer struct {
	bin  string // folder with initdb and pg_ctl
	base string // temp folder: data/, log, pwfile
	port int
	cred *syscall.Credential // the unprivileged user to run as, when we are root
}

var (
	pgOnce    sync.Once
	pgShared  *pgServer
	pgErr     error
	pgDBCount atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgShared != nil {
		pgShared.stop()
		os.RemoveAll(pgShared.base)
	}
	os.Exit(code)
}

// sharedPG is one server for the package, started on first use.
func sharedPG(t *testing.T) *pgServer {
	t.Helper()
	pgOnce.Do(func() { pgShared, pgErr = startPG() })
	if pgErr != nil {
		t.Fatalf("PostgreSQL test server: %v", pgErr)
	}
	return pgShared
}

// pgBinDir finds Debian's server binaries (/usr/lib/postgresql/<version>/bin),
// which are not on PATH.
func pgBinDir() (string, error) {
	if dir := os.Getenv("SND_PG_BINDIR"); dir != "" {
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { return pgVersion(found[i]) > pgVersion(found[j]) })
	if len(found) > 0 {
		return filepath.Dir(found[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("initdb not found: install Debian's postgresql package (scripts/ensure-deps.sh does)")
}

func pgVersion(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

func startPG() (*pgServer, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp("", "snd-pg-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{bin: bin, base: base, port: freePort()}
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
		name := "postgres"
		u, err := user.Lookup(name)
		if err != nil {
			if u, err = user.Lookup("nobody"); err != nil {
				return nil, fmt.Errorf("no unprivileged user to run PostgreSQL as: %v", err)
			}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(base, uid, gid); err != nil {
			return nil, err
		}
	}
	pwfile := filepath.Join(base, "pwfile")
	if err := os.WriteFile(pwfile, []byte(pgTestPassword+"\n"), 0o600); err != nil {
		return nil, err
	}
	if s.cred != nil {
		os.Chown(pwfile, int(s.cred.Uid), int(s.cred.Gid))
	}
	if out, err := s.command("initdb", "-D", s.data(), "-U", pgTestUser, "--pwfile="+pwfile, "--auth=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	return s, s.start()
}

func (s *pgServer) data() string { return filepath.Join(s.base, "data") }

func (s *pgServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.base
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func (s *pgServer) start() error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c max_connections=200", s.port)
	out, err := s.command("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.base, "log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, s.logTail())
	}
	return nil
}

func (s *pgServer) stop() {
	s.command("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "stop").Run()
}

func (s *pgServer) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.base, "log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// uri of a database on the server, with the test credentials.
func (s *pgServer) uri(db string) string {
	return fmt.Sprintf("postgresql://%s:%s@127.0.0.1:%d/%s", pgTestUser, pgTestPassword, s.port, db)
}

// freshDB creates an empty database for one test and returns its URI.
func (s *pgServer) freshDB(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", pgDBCount.Add(1), strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")))
	if len(name) > 60 {
		name = name[:60]
	}
	s.exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return s.uri(name)
}

// exec runs one statement on a database as the test superuser.
func (s *pgServer) exec(t *testing.T, db, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.uri(db))
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
