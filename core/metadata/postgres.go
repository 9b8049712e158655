package metadata

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/structure-net/structure-net-data/core/errs"
)

// postgresBackend is a database on a PostgreSQL server, reached with pgx.
type postgresBackend struct {
	host, user, database string
	port                 uint16
	password             string // only to scrub it from driver messages
}

// connectTimeout bounds one connection attempt when the URI sets none.
const connectTimeout = 10 * time.Second

func openPostgres(uri string, opts Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(uri)
	if err != nil {
		// The parser's message may quote the URI; name it redacted instead.
		return nil, errs.Invalidf("metadata: %s is not a valid PostgreSQL URI (postgresql://user:password@host:port/database)", redactURI(uri))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	b := postgresBackend{host: cfg.Host, port: cfg.Port, user: cfg.User, database: cfg.Database, password: cfg.Password}
	db := stdlib.OpenDB(*cfg)
	// A few connections per process: a cluster's many processes share the server's max_connections.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	// Fail at once, with a clear reason, when the server cannot be reached
	// or refuses us; retries are for connections lost later.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ConnectTimeout+time.Second)
	err = db.PingContext(ctx)
	cancel()
	if err != nil {
		db.Close()
		return nil, b.connectError(err)
	}
	return newStore(db, b, opts.RetryFor)
}

// connectError explains a failed first connection, naming host and port.
func (b postgresBackend) connectError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "28P01" || pe.Code == "28000":
			return errs.Invalidf("metadata: PostgreSQL at %s:%d refused user %q (wrong user or password): %s", b.host, b.port, b.user, b.scrub(pe.Message))
		case pe.Code == "3D000":
			return errs.NotFoundf("metadata: database %q does not exist on PostgreSQL at %s:%d: create it first (createdb)", b.database, b.host, b.port)
		}
	}
	return errs.Unavailablef("metadata: cannot connect to PostgreSQL at %s:%d (database %q, user %q): %s", b.host, b.port, b.database, b.user, b.scrub(rootCause(err)))
}

// bind numbers the '?' placeholders ($1, $2...); the queries have no '?' in literals.
func (postgresBackend) bind(query string) string {
	var out strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			out.WriteString("$" + strconv.Itoa(n))
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}

func (postgresBackend) usageOrder() string { return "timestamp, seq" }

func (postgresBackend) migrations() [][]string { return postgresMigrations }

// lockSchema: stores opening an empty database at once would race on CREATE TABLE.
func (postgresBackend) lockSchema(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('snd_metadata_schema'))`)
	return err
}

func (b postgresBackend) classify(err error) error {
	if hasKind(err) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "28P01" || pe.Code == "28000":
			return errs.Invalidf("metadata: PostgreSQL at %s:%d refused user %q: %s", b.host, b.port, b.user, b.scrub(pe.Message))
		case strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P"):
			return errs.Unavailablef("metadata: PostgreSQL at %s:%d: %s (SQLSTATE %s)", b.host, b.port, b.scrub(pe.Message), pe.Code)
		}
		return errs.IOf("metadata database %s: %s (SQLSTATE %s)", b.location(), b.scrub(pe.Message), pe.Code)
	}
	if b.transient(err) {
		return errs.Unavailablef("metadata: PostgreSQL at %s:%d: %s", b.host, b.port, b.scrub(rootCause(err)))
	}
	return errs.IOf("metadata database %s: %s", b.location(), b.scrub(err.Error()))
}

// transient reports a lost or refused connection, or a server shutting
// down or starting up: what a restart looks like from the client.
func (postgresBackend) transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03", "40001", "40P01": // shutdown, crash, starting up; serialization, deadlock
			return true
		}
		return strings.HasPrefix(pe.Code, "08") // connection exceptions
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &ne) || errors.As(err, &ce) || strings.Contains(err.Error(), "conn closed")
}

func (postgresBackend) duplicate(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func (postgresBackend) attemptTimeout() time.Duration { return 30 * time.Second }

func (b postgresBackend) location() string {
	return fmt.Sprintf("postgresql://%s@%s:%d/%s", b.user, b.host, b.port, b.database)
}

// scrub removes the password from a driver message (pgx does not put it in
// its messages, but a message must never carry it whatever the driver does).
func (b postgresBackend) scrub(msg string) string {
	if len(b.password) >= 3 {
		msg = strings.ReplaceAll(msg, b.password, "***")
	}
	return msg
}

// rootCause is the innermost message of a wrapped error chain.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// redactURI replaces the password of a URI by "***" for messages.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		if i := strings.Index(uri, "@"); i >= 0 {
			if j := strings.Index(uri, "://"); j >= 0 && j < i {
				return uri[:j+3] + "***" + uri[i:]
			}
		}
		return "(an unparsable URI)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
		return strings.Replace(u.String(), ":REDACTED@", ":***@", 1)
	}
	return u.String()
}
