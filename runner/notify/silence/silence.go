// Package silence keeps silences as Alertmanager does: label matchers and a
// time range during which the alerts they match are not notified (the alerts
// themselves are raised, stored and handled as usual). A silence is pending
// before it starts, active until it ends, expired after; it expires by itself
// at its end, or earlier when someone expires it. Silences live in the
// runner's SQLite database, and every change is an audit event.
package silence

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify/match"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Component is the silences' name in schema_migrations.
const Component = "silence"

var (
	ErrNotFound = errors.New("not found") // no silence with that ID (HTTP 404)
	ErrInvalid  = errors.New("invalid")   // a request that can never succeed (HTTP 400)
	ErrConflict = errors.New("conflict")  // the silence's state does not allow it (HTTP 409)
)

// State is where a silence is in time.
type State string

const (
	Pending State = "pending" // starts later
	Active  State = "active"  // mutes now
	Expired State = "expired" // ended
)

// Silence mutes the alerts its matchers match from StartsAt until EndsAt.
type Silence struct {
	ID        string         `json:"id"`
	Matchers  match.Matchers `json:"matchers"`
	StartsAt  time.Time      `json:"starts_at"`
	EndsAt    time.Time      `json:"ends_at"`
	CreatedBy string         `json:"created_by"`
	Comment   string         `json:"comment"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	State     State          `json:"state"` // as of when it was read
}

// StateAt is the silence's state at t.
func (s *Silence) StateAt(t time.Time) State {
	switch {
	case t.Before(s.StartsAt):
		return Pending
	case t.Before(s.EndsAt):
		return Active
	default:
		return Expired
	}
}

// EventKind names a change to a silence.
type EventKind string

const (
	EventCreated EventKind = "created"
	EventExpired EventKind = "expired"
)

// Event is one change to a silence: who, when, and the silence after it.
type Event struct {
	ID        int64           `json:"id"`
	SilenceID string          `json:"silence_id"`
	Kind      EventKind       `json:"kind"`
	Actor     string          `json:"actor"`
	Time      time.Time       `json:"time"`
	Data      json.RawMessage `json:"data"`
}

// Options configure a Service; zero values take the defaults.
type Options struct {
	Now    func() time.Time // wall clock (default time.Now)
	Logger *slog.Logger     // one line per change (default: discard)
}

// Service creates, lists and expires silences. It is safe for concurrent use.
type Service struct {
	db  *sql.DB
	now func() time.Time
	log *slog.Logger
}

// New migrates the silence tables in db and returns the Service.
func New(ctx context.Context, db *sql.DB, opts Options) (*Service, error) {
	if db == nil {
		return nil, errors.New("silences: database is nil")
	}
	if err := sqldb.Migrate(ctx, db, Component, migrations); err != nil {
		return nil, fmt.Errorf("silences: %w", err)
	}
	s := &Service{db: db, now: opts.Now, log: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Now is the service's clock: what "from now" means to it.
func (s *Service) Now() time.Time { return s.now() }

// Create stores a new silence. It needs at least one matcher, created_by, a
// comment, and an end after both its start and now; a zero start means now.
func (s *Service) Create(ctx context.Context, in Silence) (Silence, error) {
	now := s.now().UTC()
	in.CreatedBy, in.Comment = strings.TrimSpace(in.CreatedBy), strings.TrimSpace(in.Comment)
	if in.StartsAt.IsZero() {
		in.StartsAt = now
	}
	in.StartsAt, in.EndsAt = in.StartsAt.UTC(), in.EndsAt.UTC()
	invalid := func(format string, args ...any) (Silence, error) {
		return Silence{}, fmt.Errorf("create silence: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case len(in.Matchers) == 0:
		return invalid("matchers: at least one is required (a silence of everything is a mistake)")
	case in.CreatedBy == "":
		return invalid("created_by: required")
	case in.Comment == "":
		return invalid("comment: required: say why")
	case in.EndsAt.IsZero():
		return invalid("ends_at: required")
	case !in.EndsAt.After(in.StartsAt):
		return invalid("ends_at %s: must be after starts_at %s", in.EndsAt.Format(time.RFC3339), in.StartsAt.Format(time.RFC3339))
	case !in.EndsAt.After(now):
		return invalid("ends_at %s: already past", in.EndsAt.Format(time.RFC3339))
	}
	for _, m := range in.Matchers {
		if m == nil {
			return invalid("matchers: a matcher is missing")
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Silence{}, fmt.Errorf("create silence: %w", err)
	}
	in.ID, in.CreatedAt, in.UpdatedAt = id.String(), now, now
	in.State = in.StateAt(now)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		matchers, err := json.Marshal(in.Matchers)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, in.ID, string(matchers), sqldb.FormatTime(in.StartsAt), sqldb.FormatTime(in.EndsAt),
			in.CreatedBy, in.Comment, sqldb.FormatTime(now), sqldb.FormatTime(now)); err != nil {
			return err
		}
		return addEvent(ctx, tx, &in, EventCreated, in.CreatedBy, now)
	})
	if err != nil {
		return Silence{}, fmt.Errorf("create silence: %w", err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "silence created", slog.String("silence", in.ID),
		slog.String("matchers", in.Matchers.String()), slog.Time("starts_at", in.StartsAt), slog.Time("ends_at", in.EndsAt),
		slog.String("created_by", in.CreatedBy), slog.String("comment", in.Comment))
	return in, nil
}

// Expire ends a pending or active silence now; expiring an expired one is
// ErrConflict. The actor is who did it.
func (s *Service) Expire(ctx context.Context, id, actor string) (Silence, error) {
	actor = strings.TrimSpace(actor)
	if actor == "" {
		return Silence{}, fmt.Errorf("expire silence %s: %w: actor is required", id, ErrInvalid)
	}
	var out Silence
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.now().UTC()
		sil, err := get(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if sil.State == Expired {
			return fmt.Errorf("%w: it expired at %s", ErrConflict, sil.EndsAt.Format(time.RFC3339))
		}
		sil.EndsAt, sil.UpdatedAt = now, now
		if sil.StartsAt.After(now) {
			sil.StartsAt = now // a pending silence ends before it began
		}
		sil.State = Expired
		if _, err := tx.ExecContext(ctx, `UPDATE silences SET starts_at = ?, ends_at = ?, updated_at = ? WHERE id = ?`,
			sqldb.FormatTime(sil.StartsAt), sqldb.FormatTime(now), sqldb.FormatTime(now), id); err != nil {
			return err
		}
		out = sil
		return addEvent(ctx, tx, &sil, EventExpired, actor, now)
	})
	if err != nil {
		return Silence{}, fmt.Errorf("expire silence %s: %w", id, err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "silence expired", slog.String("silence", id), slog.String("actor", actor))
	return out, nil
}

// Get returns one silence; ErrNotFound wrapped when there is none.
func (s *Service) Get(ctx context.Context, id string) (Silence, error) {
	sil, err := get(ctx, s.db, id, s.now().UTC())
	if err != nil {
		return Silence{}, fmt.Errorf("silence %s: %w", id, err)
	}
	return sil, nil
}

// Filter selects silences for List; zero fields match everything.
type Filter struct {
	State State
	Limit int // 0 means 100; at most 1000
}

// List returns the silences matching f, newest first.
func (s *Service) List(ctx context.Context, f Filter) ([]Silence, error) {
	now := sqldb.FormatTime(s.now())
	query := `SELECT ` + columns + ` FROM silences`
	var args []any
	switch f.State {
	case "":
	case Pending:
		query, args = query+` WHERE starts_at > ?`, []any{now}
	case Active:
		query, args = query+` WHERE starts_at <= ? AND ends_at > ?`, []any{now, now}
	case Expired:
		query, args = query+` WHERE ends_at <= ?`, []any{now}
	default:
		return nil, fmt.Errorf("list silences: %w: state %q: want pending, active or expired", ErrInvalid, f.State)
	}
	if f.Limit < 0 {
		return nil, fmt.Errorf("list silences: %w: limit must not be negative", ErrInvalid)
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	rows, err := s.db.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, min(f.Limit, 1000))...)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	out, err := scanAll(rows, s.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	return out, nil
}

// Active returns the silences in force at t: what the notifier mutes with.
func (s *Service) Active(ctx context.Context, t time.Time) (Set, error) {
	at := sqldb.FormatTime(t)
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM silences WHERE ends_at > ? AND starts_at <= ?`, at, at)
	if err != nil {
		return nil, fmt.Errorf("active silences: %w", err)
	}
	out, err := scanAll(rows, t.UTC())
	if err != nil {
		return nil, fmt.Errorf("active silences: %w", err)
	}
	return out, nil
}

// Events returns a silence's audit trail, oldest first.
func (s *Service) Events(ctx context.Context, id string) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, silence_id, kind, actor, ts, data FROM silence_events
		WHERE silence_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("silence %s: events: %w", id, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var kind, ts string
		var data []byte
		if err := rows.Scan(&e.ID, &e.SilenceID, &kind, &e.Actor, &ts, &data); err != nil {
			return nil, fmt.Errorf("silence %s: events: %w", id, err)
		}
		e.Kind, e.Data = EventKind(kind), data
		if e.Time, err = sqldb.ParseTime(ts); err != nil {
			return nil, fmt.Errorf("silence %s: event %d: %w", id, e.ID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("silence %s: events: %w", id, err)
	}
	if len(out) == 0 {
		if _, err := s.Get(ctx, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Set is the silences in force at one time.
type Set []Silence

// Mutes returns the ID of the first silence that matches the labels, or "".
func (s Set) Mutes(l alert.Labels) string {
	for i := range s {
		if s[i].Matchers.Matches(l) {
			return s[i].ID
		}
	}
	return ""
}

func (s *Service) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func addEvent(ctx context.Context, tx *sql.Tx, sil *Silence, kind EventKind, actor string, now time.Time) error {
	data, err := json.Marshal(sil)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO silence_events (silence_id, kind, actor, ts, data) VALUES (?, ?, ?, ?, ?)`,
		sil.ID, string(kind), actor, sqldb.FormatTime(now), string(data))
	return err
}

const columns = `id, matchers, starts_at, ends_at, created_by, comment, created_at, updated_at`

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func get(ctx context.Context, q querier, id string, now time.Time) (Silence, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+columns+` FROM silences WHERE id = ?`, id)
	if err != nil {
		return Silence{}, err
	}
	out, err := scanAll(rows, now)
	if err != nil {
		return Silence{}, err
	}
	if len(out) == 0 {
		return Silence{}, ErrNotFound
	}
	return out[0], nil
}

func scanAll(rows *sql.Rows, now time.Time) ([]Silence, error) {
	defer rows.Close()
	var out []Silence
	for rows.Next() {
		var sil Silence
		var matchers []byte
		var starts, ends, created, updated string
		if err := rows.Scan(&sil.ID, &matchers, &starts, &ends, &sil.CreatedBy, &sil.Comment, &created, &updated); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(matchers, &sil.Matchers); err != nil {
			return nil, fmt.Errorf("silence %s: %w", sil.ID, err)
		}
		for _, t := range []struct {
			dst *time.Time
			src string
		}{{&sil.StartsAt, starts}, {&sil.EndsAt, ends}, {&sil.CreatedAt, created}, {&sil.UpdatedAt, updated}} {
			var err error
			if *t.dst, err = sqldb.ParseTime(t.src); err != nil {
				return nil, fmt.Errorf("silence %s: %w", sil.ID, err)
			}
		}
		sil.State = sil.StateAt(now)
		out = append(out, sil)
	}
	return out, rows.Err()
}
