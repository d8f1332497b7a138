// Package ferret gives tests an embedded FerretDB v1 with its SQLite
// backend: a second, independent implementation of the MongoDB wire
// protocol beside mongo-java-server, so that the mongo backend's contract
// suite is not tuned to one server's quirks. It is pure Go (no CGO), started
// once per test binary on a free 127.0.0.1 port over a temporary directory;
// GRIDEDGE_FERRETDB_LOG=1 sends its log (warnings and errors) to stderr.
//
// Only tests import this package: FerretDB and SQLite must never reach the
// hub binary (checked by TestFerretDBStaysOutOfTheHub in hub/store/mongo).
// When FerretDB cannot start, tests skip with the reason, and fail when
// GRIDEDGE_REQUIRE_INTEROP=1.
package ferret

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Kind names the server in test names and skip reasons.
const Kind = "ferretdb"

var (
	once sync.Once
	srv  struct {
		uri    string
		err    error
		dir    string
		cancel context.CancelFunc
		done   chan struct{}
	}
)

// URI returns the URI of the embedded FerretDB, starting it on first use.
func URI(tb testing.TB) string {
	tb.Helper()
	once.Do(start)
	if srv.err != nil {
		if os.Getenv("GRIDEDGE_REQUIRE_INTEROP") == "1" {
			tb.Fatalf("no FerretDB for the mongo backend tests: %v", srv.err)
		}
		tb.Skipf("no FerretDB for the mongo backend tests: %v", srv.err)
	}
	return srv.uri
}

// Stop stops the server and removes its files; call it from TestMain after m.Run.
func Stop() {
	if srv.cancel == nil {
		return
	}
	srv.cancel()
	select {
	case <-srv.done:
	case <-time.After(10 * time.Second):
	}
	_ = os.RemoveAll(srv.dir)
}

func start() {
	dir, err := os.MkdirTemp("", "gridedge-ferretdb-")
	if err != nil {
		srv.err = fmt.Errorf("ferretdb: temporary directory: %w", err)
		return
	}
	// Commands the suite expects to fail are logged as errors, so the log
	// is off unless GRIDEDGE_FERRETDB_LOG=1 asks for it on stderr.
	var logOut io.Writer = io.Discard
	if os.Getenv("GRIDEDGE_FERRETDB_LOG") == "1" {
		logOut = os.Stderr
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:    slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		srv.err = fmt.Errorf("ferretdb: %w", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	uri := make(chan string, 1)
	go func() { uri <- f.MongoDBURI() }() // waits for the listener
	select {
	case u := <-uri:
		srv.uri, srv.dir, srv.cancel, srv.done = u, dir, cancel, done
	case <-done:
		cancel()
		_ = os.RemoveAll(dir)
		srv.err = errors.New("ferretdb: stopped before listening")
	case <-time.After(time.Minute):
		cancel()
		_ = os.RemoveAll(dir)
		srv.err = errors.New("ferretdb: not listening within a minute")
	}
}
