package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestBinaryStopsCleanlyOnSignal builds the real binary, starts it as an
// operator would (no settings but a port and a folder), and stops it with
// SIGTERM (docker stop, systemd) and SIGINT (Ctrl-C): it must exit 0.
func TestBinaryStopsCleanlyOnSignal(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "leadbox")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin)
			cmd.Dir = dir // the defaults: leadbox.db and mail/ in the working directory
			cmd.Env = append(os.Environ(), "LEADBOX_LISTEN=127.0.0.1:0")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()

			addr := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					var line struct{ Msg, Addr string }
					if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "leadbox listening" {
						addr <- line.Addr
					}
				}
			}()
			select {
			case a := <-addr:
				resp, err := http.Get("http://" + a + "/readyz")
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("GET /readyz: %v %v", resp, err)
				}
				resp.Body.Close()
			case <-time.After(15 * time.Second):
				t.Fatal("the binary did not start listening within 15s")
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exit after %s: %v, want exit code 0", sig, err)
				}
			case <-time.After(25 * time.Second):
				t.Fatalf("still running 25s after %s", sig)
			}
			if _, err := os.Stat(filepath.Join(dir, "leadbox.db")); err != nil {
				t.Errorf("no leadbox.db in the working directory: %v", err)
			}
		})
	}
}
