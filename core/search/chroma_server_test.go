package search_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// chromaServer is a real Chroma server (`chroma run` from the PyPI
// chromadb package) on 127.0.0.1, killed when the test ends.
type chromaServer struct {
	t    *testing.T
	path string
	port int
	log  string
	cmd  *exec.Cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startChroma starts a server on a fresh data directory; it fails the
// test (never skips) when the server cannot start.
func startChroma(t *testing.T) *chromaServer {
	t.Helper()
	s := &chromaServer{t: t, path: filepath.Join(t.TempDir(), "chroma-data"), port: freePort(t)}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *chromaServer) start() {
	s.t.Helper()
	bin, err := exec.LookPath("chroma")
	if err != nil {
		s.t.Fatalf("the chroma CLI is required for these tests (pip install chromadb): %v", err)
	}
	s.log = filepath.Join(filepath.Dir(s.path), fmt.Sprintf("chroma-%d.log", time.Now().UnixNano()))
	logf, err := os.Create(s.log)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = exec.Command(bin, "run", "--path", s.path, "--port", fmt.Sprint(s.port), "--host", "127.0.0.1")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Env = append(os.Environ(), "ANONYMIZED_TELEMETRY=False")
	// The server dies with the test binary even if a test panics.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start chroma: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			s.cmd = nil
			s.t.Fatalf("chroma exited during start-up (%v): %s", err, s.logTail())
		default:
		}
		resp, err := http.Get(s.url() + "/api/v2/heartbeat")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				go func() { <-exited }()
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.kill()
	s.t.Fatalf("chroma did not answer within 60 s: %s", s.logTail())
}

func (s *chromaServer) url() string { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }

func (s *chromaServer) logTail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// kill ends the server with SIGKILL, as a crash would.
func (s *chromaServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	for i := 0; i < 100; i++ {
		if err := s.cmd.Process.Signal(syscall.Signal(0)); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd = nil
}

// restart starts the server again on the same data and port.
func (s *chromaServer) restart() {
	s.kill()
	s.start()
}
