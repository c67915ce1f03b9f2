package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// migrationName is NNN_name.sql: a version number, then a short name.
var migrationName = regexp.MustCompile(`^([0-9]+)_([A-Za-z0-9_-]+)\.sql$`)

type migration struct {
	version int
	file    string // path inside fsys, for messages
	name    string
}

// Migrate applies the component's migrations found in fsys — every file named
// NNN_name.sql, in any directory — in version order, each exactly once and in
// its own transaction together with its row in schema_migrations(component,
// version, name, applied_at). Concurrent callers (two processes starting at
// once) are safe: the transaction takes the write lock before it checks
// whether the version was applied.
//
// Each package embeds its own migrations:
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//	err := sqldb.Migrate(ctx, db, "alert", migrations)
func Migrate(ctx context.Context, db *sql.DB, component string, fsys fs.FS) error {
	if component == "" {
		return errors.New("migrate: component is empty")
	}
	ms, err := readMigrations(fsys)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	component  TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	applied_at TEXT    NOT NULL,
	PRIMARY KEY (component, version)
)`); err != nil {
		return fmt.Errorf("migrate %s: create schema_migrations: %w", component, err)
	}
	for _, m := range ms {
		if err := apply(ctx, db, component, fsys, m); err != nil {
			return fmt.Errorf("migrate %s: %s: %w", component, m.file, err)
		}
	}
	return nil
}

func readMigrations(fsys fs.FS) ([]migration, error) {
	var ms []migration
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(p) != ".sql" {
			return nil
		}
		sub := migrationName.FindStringSubmatch(d.Name())
		if sub == nil {
			return fmt.Errorf("%s: want a name like 001_create_things.sql", p)
		}
		v, err := strconv.Atoi(sub[1])
		if err != nil || v <= 0 {
			return fmt.Errorf("%s: version must be a positive number", p)
		}
		ms = append(ms, migration{version: v, file: p, name: sub[2]})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, errors.New("no NNN_name.sql migration files found")
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("%s and %s have the same version %d", ms[i-1].file, ms[i].file, ms[i].version)
		}
	}
	return ms, nil
}

func apply(ctx context.Context, db *sql.DB, component string, fsys fs.FS, m migration) (err error) {
	body, err := fs.ReadFile(fsys, m.file)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var applied int
	err = tx.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM schema_migrations WHERE component = ? AND version = ?`,
		component, m.version).Scan(&applied)
	if err != nil {
		return err
	}
	if applied > 0 {
		return tx.Rollback()
	}
	if _, err = tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)`,
		component, m.version, m.name, FormatTime(time.Now())); err != nil {
		return err
	}
	return tx.Commit()
}
