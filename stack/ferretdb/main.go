// Command ferretdb-launcher runs FerretDB 1.x (the embeddable
// github.com/FerretDB/FerretDB/ferretdb package) on its PostgreSQL or SQLite
// backend, as the MongoDB-wire store of the local stack. It exists because `go install
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
//	-listen-addr     FERRETDB_LISTEN_ADDR     TCP address to listen on (default 127.0.0.1:27017)
//	-handler         FERRETDB_HANDLER         backend: postgresql or sqlite (default sqlite)
//	-postgresql-url  FERRETDB_POSTGRESQL_URL  pgx connection string of the postgresql backend,
//	                                          e.g. postgres://postgres@127.0.0.1:5432/ferretdb
//	-data-dir        FERRETDB_DATA_DIR        directory of the SQLite databases (created if missing)
//	-log-level       FERRETDB_LOG_LEVEL       debug, info, warn or error (default info)
//
// The postgresql backend connects lazily (pgx pools are opened on the first
// request), so FerretDB starts and listens even while PostgreSQL is still
// starting; requests fail until it accepts connections. The database in the
// URL must exist; FerretDB creates one PostgreSQL schema per MongoDB database.
//
// SIGTERM and SIGINT cancel the run context: FerretDB closes its listener and
// connections, then the backend, and the process exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
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

// quietDupKeys demotes to debug the error records that FerretDB's pgx tracer
// writes for every query failing with a unique violation (SQLSTATE 23505).
// Clients get those as duplicate key errors (code 11000), which our event
// store produces routinely (stale conditional upserts), so logging each as an
// ERROR with a document excerpt would flood the log.
type quietDupKeys struct{ slog.Handler }

func (h quietDupKeys) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		dup := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" && strings.Contains(a.Value.String(), "(SQLSTATE 23505)") {
				dup = true
				return false
			}
			return true
		})
		if dup {
			if !h.Handler.Enabled(ctx, slog.LevelDebug) {
				return nil
			}
			r.Level = slog.LevelDebug
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietDupKeys) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietDupKeys{h.Handler.WithAttrs(attrs)}
}

func (h quietDupKeys) WithGroup(name string) slog.Handler {
	return quietDupKeys{h.Handler.WithGroup(name)}
}

// redactURL hides the password of a connection URL for logging.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func main() {
	listenAddr := flag.String("listen-addr", envOr("FERRETDB_LISTEN_ADDR", "127.0.0.1:27017"), "TCP listen address")
	handler := flag.String("handler", envOr("FERRETDB_HANDLER", "sqlite"), "backend: postgresql or sqlite")
	pgURL := flag.String("postgresql-url", envOr("FERRETDB_POSTGRESQL_URL", ""), "PostgreSQL URL (required for -handler postgresql)")
	dataDir := flag.String("data-dir", envOr("FERRETDB_DATA_DIR", ""), "directory for the SQLite databases (required for -handler sqlite)")
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
	logger := slog.New(quietDupKeys{slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})})
	slog.SetDefault(logger)

	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listenAddr},
		Logger:   logger,
		Handler:  *handler,
	}
	var backendAttrs []any

	switch *handler {
	case "postgresql":
		if *pgURL == "" {
			fmt.Fprintln(os.Stderr, "ferretdb-launcher: -postgresql-url (or FERRETDB_POSTGRESQL_URL) is required for -handler postgresql")
			os.Exit(2)
		}
		cfg.PostgreSQLURL = *pgURL
		backendAttrs = []any{"postgresql_url", redactURL(*pgURL)}

	case "sqlite":
		if *dataDir == "" {
			fmt.Fprintln(os.Stderr, "ferretdb-launcher: -data-dir (or FERRETDB_DATA_DIR) is required for -handler sqlite")
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
		cfg.SQLiteURL = "file:" + strings.TrimSuffix(filepath.ToSlash(dir), "/") + "/"
		backendAttrs = []any{"sqlite_url", cfg.SQLiteURL}

	default:
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: bad -handler %q (want postgresql or sqlite)\n", *handler)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	f, err := ferretdb.New(cfg)
	if err != nil {
		logger.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	attrs := append([]any{"version", ferretdbVersion(), "handler", *handler}, backendAttrs...)
	logger.Info("FerretDB started", append(attrs, "uri", f.MongoDBURI(), "pid", os.Getpid())...)

	if err := f.Run(ctx); err != nil {
		logger.Error("FerretDB stopped with an error", "error", err)
		os.Exit(1)
	}
	logger.Info("FerretDB stopped")
}
