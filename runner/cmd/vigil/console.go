package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/pipeline"
	"github.com/vigil-risk/vigil/runner/server/auth"
	"github.com/vigil-risk/vigil/runner/server/console"
)

// webConsole is what `vigil run` adds for people: the users and their
// sessions and links, the console's pages and its decision tap.
type webConsole struct {
	auth       *auth.Auth
	console    *console.Console
	tap        *console.Tap
	adminToken string // the file holding the dev admin's token, when one was made
}

// tapSlot is the decision writer the pipeline is built with; the console's
// tap, which needs the store the app opens, is put in it afterwards.
type tapSlot struct {
	next pipeline.DecisionWriter
	tap  atomic.Pointer[console.Tap]
}

func (s *tapSlot) WriteDecision(d *decision.Decision) error {
	if t := s.tap.Load(); t != nil {
		return t.WriteDecision(d) // the tap hands it on to next
	}
	if s.next != nil {
		return s.next.WriteDecision(d)
	}
	return nil
}

// lateSigner signs chat links with the Auth made once the store is open;
// the receivers, built before it, hold this.
type lateSigner struct{ auth atomic.Pointer[auth.Auth] }

func (l *lateSigner) SignLink(alertID int64, action, actor string) (string, error) {
	a := l.auth.Load()
	if a == nil {
		return "", errors.New("links are not signed yet")
	}
	return a.SignLink(alertID, action, actor)
}

// newWebConsole builds auth from server.auth and the console over the app.
func (c *cli) newWebConsole(ctx context.Context, cfg config.Config, a *app, slot *tapSlot, links *lateSigner, log *slog.Logger) (*webConsole, error) {
	w := &webConsole{}
	stateDir := filepath.Dir(cfg.Store.Path)
	users, err := c.authUsers(cfg, stateDir, w)
	if err != nil {
		return nil, err
	}
	key, err := cfg.Server.Auth.Key(c.getenv)
	if err != nil {
		return nil, err
	}
	if key == "" {
		path := cfg.Server.Auth.KeyFile
		if path == "" {
			path = filepath.Join(stateDir, "server.key")
		}
		var created bool
		if key, created, err = auth.ReadOrCreateSecret(path, 32); err != nil {
			return nil, fmt.Errorf("server.auth.key_file: %w", err)
		}
		if created {
			log.Info("made the server key (signs console sessions and chat links)", "path", path)
		}
	}
	w.auth, err = auth.New(ctx, auth.Options{Users: users, Key: []byte(key), SessionTTL: cfg.Server.Auth.SessionTTL,
		LinkTTL: cfg.Server.Auth.LinkTTL, DB: a.db, Log: log})
	if err != nil {
		return nil, fmt.Errorf("server.auth: %w", err)
	}
	links.auth.Store(w.auth)
	w.tap, err = console.NewTap(ctx, a.db, console.TapOptions{Next: slot.next, Log: log})
	if err != nil {
		return nil, err
	}
	slot.tap.Store(w.tap)
	opts := console.Options{Auth: w.auth, Alerts: a.alerts, Policy: a.engine.Current, Tap: w.tap,
		Config: cfg.YAML, Version: a.info.Version, Log: log}
	if a.dispatcher != nil {
		opts.Silences = a.dispatcher.Silences()
	}
	if w.console, err = console.New(opts); err != nil {
		return nil, err
	}
	return w, nil
}

// authUsers resolves server.auth.users. With none configured, env dev gets
// one admin whose token is kept in <store dir>/admin.token; any other env
// refuses to start, rather than serve alerts to anyone.
func (c *cli) authUsers(cfg config.Config, stateDir string, w *webConsole) ([]auth.User, error) {
	names := slices.Sorted(maps.Keys(cfg.Server.Auth.Users))
	users := make([]auth.User, 0, len(names)+1)
	for _, name := range names {
		uc := cfg.Server.Auth.Users[name]
		hexHash, err := uc.TokenHash(name, c.getenv)
		if err != nil {
			return nil, err
		}
		h, err := auth.ParseTokenHash(hexHash)
		if err != nil {
			return nil, fmt.Errorf("config: server.auth.users.%s: %w", name, err)
		}
		role, err := auth.ParseRole(uc.Role)
		if err != nil {
			return nil, fmt.Errorf("config: server.auth.users.%s.role: %w", name, err)
		}
		users = append(users, auth.User{Name: name, Role: role, TokenSHA256: h})
	}
	if len(users) > 0 {
		return users, nil
	}
	if cfg.Env != "dev" {
		return nil, fmt.Errorf("config: server.auth.users: env %s has no users; configure at least an admin (docs/console.md)", cfg.Env)
	}
	path := filepath.Join(stateDir, "admin.token")
	token, _, err := auth.ReadOrCreateSecret(path, 24)
	if err != nil {
		return nil, fmt.Errorf("server.auth: the dev admin token: %w", err)
	}
	w.adminToken = path
	return []auth.User{{Name: "admin", Role: auth.Admin, TokenSHA256: auth.HashToken(token)}}, nil
}
