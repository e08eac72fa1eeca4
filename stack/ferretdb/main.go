// Command ferretdb-launcher runs FerretDB 1.x (the embeddable
// github.com/FerretDB/FerretDB/ferretdb package) on its SQLite backend, as the
// MongoDB-wire store of the local stack. It exists because `go install
// github.com/FerretDB/FerretDB/cmd/ferretdb` yields a binary that panics at
// start (its build/version/version.txt is generated at release time and is not
// part of the module); the embeddable package does not need that file.
//
// Telemetry: the embeddable package never creates the telemetry reporter and
// additionally disables and locks telemetry in its state provider, so nothing
// is ever sent.
//
// Flags (each has an environment fallback):
//
//	-listen-addr  FERRETDB_LISTEN_ADDR  TCP address to listen on (default 127.0.0.1:27017)
//	-data-dir     FERRETDB_DATA_DIR     directory of the SQLite databases (created if missing)
//	-log-level    FERRETDB_LOG_LEVEL    debug, info, warn or error (default info)
//
// SIGTERM and SIGINT cancel the run context: FerretDB closes its listener and
// connections, then the SQLite backend, and the process exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// ferretdbVersion reports the FerretDB module version linked into this binary.
func ferretdbVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/FerretDB/FerretDB" {
				if dep.Replace != nil {
					return dep.Replace.Version
				}
				return dep.Version
			}
		}
	}
	return "unknown"
}

func main() {
	listenAddr := flag.String("listen-addr", envOr("FERRETDB_LISTEN_ADDR", "127.0.0.1:27017"), "TCP listen address")
	dataDir := flag.String("data-dir", envOr("FERRETDB_DATA_DIR", ""), "directory for the SQLite databases (required)")
	logLevel := flag.String("log-level", envOr("FERRETDB_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	showVersion := flag.Bool("version", false, "print the FerretDB version and exit")
	flag.Parse()

	if *showVersion {
		fmt.Println(ferretdbVersion())
		return
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: bad -log-level %q: %s\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "ferretdb-launcher: -data-dir (or FERRETDB_DATA_DIR) is required")
		os.Exit(2)
	}
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		logger.Error("cannot resolve data dir", "dir", *dataDir, "error", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logger.Error("cannot create data dir", "dir", dir, "error", err)
		os.Exit(1)
	}
	// The SQLite backend wants a file: URI of an existing directory ending with "/".
	sqliteURL := "file:" + strings.TrimSuffix(filepath.ToSlash(dir), "/") + "/"

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listenAddr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		logger.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	logger.Info("FerretDB started", "version", ferretdbVersion(), "handler", "sqlite",
		"sqlite_url", sqliteURL, "uri", f.MongoDBURI(), "pid", os.Getpid())

	if err := f.Run(ctx); err != nil {
		logger.Error("FerretDB stopped with an error", "error", err)
		os.Exit(1)
	}
	logger.Info("FerretDB stopped")
}
