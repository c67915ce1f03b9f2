package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/record"
)

// Validate checks values the types alone cannot, and names the key of the
// first problem.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "%q: want text or json", c.Log.Format)
	}
	switch c.Log.Decisions {
	case "none", "hits", "all":
	default:
		return bad("log.decisions", "%q: want none, hits or all", c.Log.Decisions)
	}
	if c.Policies.Path == "" {
		return bad("policies.path", "must name a bundle directory or .tar.gz")
	}
	if c.Record.UnknownFields != "" {
		if _, err := record.ParseUnknown(c.Record.UnknownFields); err != nil {
			return bad("record.unknown_fields", "%v", err)
		}
	}
	if c.Record.MaxLineBytes < 1024 {
		return bad("record.max_line_bytes", "%d is too small (at least 1024)", c.Record.MaxLineBytes)
	}
	if _, _, err := net.SplitHostPort(c.Server.Addr); err != nil {
		return bad("server.addr", "%q: want host:port (%v)", c.Server.Addr, err)
	}
	if c.Server.MaxBodyBytes < 1024 {
		return bad("server.max_body_bytes", "%d is too small (at least 1024)", c.Server.MaxBodyBytes)
	}
	for key, d := range map[string]int64{
		"server.read_timeout": int64(c.Server.ReadTimeout), "server.write_timeout": int64(c.Server.WriteTimeout),
		"server.shutdown_timeout": int64(c.Server.ShutdownTimeout), "notify.poll_interval": int64(c.Notify.PollInterval),
		"notify.backoff_base": int64(c.Notify.BackoffBase), "notify.backoff_max": int64(c.Notify.BackoffMax),
	} {
		if d <= 0 {
			return bad(key, "must be a positive duration such as 5s")
		}
	}
	if c.Features.Lateness < 0 {
		return bad("features.lateness", "must not be negative")
	}
	if c.Features.MaxEntities < 1 {
		return bad("features.max_entities", "must be at least 1")
	}
	if c.Features.SnapshotPath != "" && c.Features.SnapshotInterval <= 0 {
		return bad("features.snapshot_interval", "must be a positive duration such as 5m")
	}
	if c.Store.Path == "" {
		return bad("store.path", "must name the SQLite file")
	}
	if _, err := decision.ParseSeverity(c.Alerts.MinSeverity); err != nil {
		return bad("alerts.min_severity", "%v", err)
	}
	if c.Alerts.KeepRecords < 1 {
		return bad("alerts.keep_records", "must be at least 1")
	}
	if c.Notify.MaxAttempts < 1 {
		return bad("notify.max_attempts", "must be at least 1")
	}
	if c.Notify.LinkBase != "" {
		if u, err := url.Parse(c.Notify.LinkBase); err != nil || u.Scheme == "" || u.Host == "" {
			return bad("notify.link_base", "%q: want an absolute URL", c.Notify.LinkBase)
		}
	}
	names := map[string]bool{}
	for i, r := range c.Notify.Receivers {
		key := fmt.Sprintf("notify.receivers[%d]", i)
		if r.Name == "" {
			return bad(key+".name", "every receiver needs a name")
		}
		key = fmt.Sprintf("notify.receivers[%s]", r.Name)
		if names[r.Name] {
			return bad(key+".name", "receiver %q is defined twice", r.Name)
		}
		names[r.Name] = true
		switch r.Type {
		case "log":
		case "webhook":
			u, err := url.Parse(r.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return bad(key+".url", "%q: want an http(s) URL", redactURL(r.URL))
			}
			if r.SecretEnv == "" && r.SecretFile == "" {
				return bad(key, "a webhook needs secret_env or secret_file to sign its requests")
			}
		default:
			return bad(key+".type", "%q: want log or webhook", r.Type)
		}
		if r.SecretEnv != "" && r.SecretFile != "" {
			return bad(key, "set secret_env or secret_file, not both")
		}
		if r.Timeout <= 0 {
			return bad(key+".timeout", "must be a positive duration")
		}
	}
	srcNames := map[string]bool{}
	for i, s := range c.Sources {
		key := fmt.Sprintf("sources[%d]", i)
		if s.Name == "" {
			s.Name = s.Type
		}
		if srcNames[s.Name] {
			return bad(key+".name", "source %q is defined twice", s.Name)
		}
		srcNames[s.Name] = true
		switch s.Type {
		case "file":
			if s.Path == "" {
				return bad(key+".path", "a file source needs a path")
			}
		case "stdin":
		default:
			return bad(key+".type", "%q: want file or stdin", s.Type)
		}
		if s.Format != "" {
			if _, err := record.ParseFormat(s.Format); err != nil {
				return bad(key+".format", "%v", err)
			}
		}
	}
	if c.Demo.Rate <= 0 {
		return bad("demo.rate", "must be above 0 records per second")
	}
	if c.Demo.FraudRate < 0 || c.Demo.FraudRate > 1 {
		return bad("demo.fraud_rate", "%v: want a share between 0 and 1", c.Demo.FraudRate)
	}
	if c.Check.MinCoverage < 0 || c.Check.MinCoverage > 100 {
		return bad("check.min_coverage", "%v: want a percentage between 0 and 100", c.Check.MinCoverage)
	}
	return nil
}

// Secret resolves a receiver's secret from its environment variable or file.
// getenv is os.Getenv outside tests.
func (r ReceiverConfig) Secret(getenv func(string) string) (string, error) {
	switch {
	case r.SecretEnv != "":
		v := getenv(r.SecretEnv)
		if v == "" {
			return "", fmt.Errorf("receiver %q: secret_env: environment variable %s is empty or unset", r.Name, r.SecretEnv)
		}
		return v, nil
	case r.SecretFile != "":
		b, err := os.ReadFile(r.SecretFile)
		if err != nil {
			return "", fmt.Errorf("receiver %q: secret_file: %w", r.Name, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("receiver %q: secret_file %s is empty", r.Name, r.SecretFile)
		}
		return v, nil
	}
	return "", errors.New("no secret configured")
}
