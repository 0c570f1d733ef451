package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is written by Serve's goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFirstServePrintsTheAdministratorsEnrollmentLink(t *testing.T) {
	dir := t.TempDir()
	serve := func() string {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out syncBuffer
		ready := make(chan string, 1)
		done := make(chan error, 1)
		go func() {
			done <- Serve(ctx, Config{DataDir: dir, Addr: "127.0.0.1:0", AdminUsername: "admin", AdminEmail: "admin@example.org",
				PublicURL: "http://localhost:9999", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Ready: func(addr string) { ready <- addr }}, &out)
		}()
		select {
		case addr := <-ready:
			// The enrollment page of the printed link works on this server.
			if m := regexp.MustCompile(`http://localhost:9999(/enroll/\S+)`).FindStringSubmatch(out.String()); m != nil {
				resp, err := http.Get("http://" + addr + m[1])
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("the printed enrollment link gives %d", resp.StatusCode)
				}
			}
		case err := <-done:
			t.Fatalf("serve: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("the server did not start")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
		return out.String()
	}
	first := serve()
	if !strings.Contains(first, "http://localhost:9999/enroll/") {
		t.Errorf("the first serve does not print an enrollment link:\n%s", first)
	}
	if second := serve(); strings.Contains(second, "/enroll/") {
		t.Errorf("a later serve prints an enrollment link again:\n%s", second)
	}
}

func TestServeRefusesAnIPAddressAsPublicURL(t *testing.T) {
	err := Serve(context.Background(), Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", AdminUsername: "admin", AdminEmail: "a@example.org",
		PublicURL: "http://127.0.0.1:8080", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "IP address") {
		t.Fatalf("Serve with an IP public URL: %v", err)
	}
}
