package config

import (
	"fmt"
	"net"
	"net/url"

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
	switch c.Policies.VerificationAlgorithm {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512":
	default:
		return bad("policies.verification_algorithm", "%q: want RS256, PS256, ES256, HS256 or another of their 384/512 variants", c.Policies.VerificationAlgorithm)
	}
	if c.Policies.RequireSignature && c.Policies.VerificationKey == "" {
		return bad("policies.require_signature", "needs policies.verification_key, the key signed bundles are checked against")
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
	if err := c.validateAuth(); err != nil {
		return err
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
	if err := c.validateReceivers(); err != nil {
		return err
	}
	if err := c.validateHandling(); err != nil {
		return err
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
