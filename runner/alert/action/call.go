package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
	"github.com/vigil-risk/vigil/runner/sqldb"
)

// Request is the JSON body of an action call.
type Request struct {
	Version        int               `json:"version"` // 1
	Action         string            `json:"action"`
	IdempotencyKey string            `json:"idempotency_key"` // also the Idempotency-Key header
	AlertID        int64             `json:"alert_id"`
	Rule           string            `json:"rule"`
	Title          string            `json:"title"`
	Severity       decision.Severity `json:"severity"`
	Entity         decision.Entity   `json:"entity"`
	Fingerprint    string            `json:"fingerprint"`
	RaisedAt       time.Time         `json:"raised_at"`
	Tags           []string          `json:"tags,omitempty"`
	Decision       DecisionSummary   `json:"decision"`
	Records        []RecordSummary   `json:"records"` // the alert's records when the call was first made, oldest first
}

// DecisionSummary is what the rule decided on the record that raised the alert.
type DecisionSummary struct {
	RecordID       string          `json:"record_id"`
	Action         decision.Action `json:"action"`
	Reason         string          `json:"reason"`
	PolicyRevision string          `json:"policy_revision,omitempty"`
}

// RecordSummary is one record of the alert.
type RecordSummary struct {
	ID     string          `json:"id"`
	Time   time.Time       `json:"ts"`
	Fields json.RawMessage `json:"record"`
}

// maxRecords bounds the records a request carries.
const maxRecords = 5

// maxResponse bounds the reply kept on the alert.
const maxResponse = 512

// pending is one due call.
type pending struct {
	id, alertID        int64
	rule, action, key  string
	attempts           int
	body               []byte
	endpoint           config.ActionEndpoint
	status             int
	err                error
	response           string
	transient, success bool
}

// callDue makes the calls that are due, a few at a time.
func (x *Executor) callDue(ctx context.Context, st *Stats) error {
	for {
		due, err := x.due(ctx)
		if err != nil || len(due) == 0 {
			return err
		}
		var ready []*pending
		for _, p := range due {
			ok, err := x.prepare(ctx, p)
			if err != nil {
				return err
			}
			if ok {
				ready = append(ready, p)
			}
		}
		sem := make(chan struct{}, x.parallel)
		var wg sync.WaitGroup
		for _, p := range ready {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				x.do(ctx, p)
			})
		}
		wg.Wait()
		for _, p := range ready {
			if err := x.record(ctx, p, st); err != nil {
				return err
			}
		}
		if len(due) < batch {
			return nil
		}
	}
}

func (x *Executor) due(ctx context.Context) ([]*pending, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT id, alert_id, rule, action, idempotency_key, attempts, COALESCE(body, '')
		FROM alert_actions WHERE state = ? AND due_at <= ? ORDER BY due_at, id LIMIT ?`,
		statePending, sqldb.FormatTime(x.now()), batch)
	if err != nil {
		return nil, fmt.Errorf("due actions: %w", err)
	}
	defer rows.Close()
	var out []*pending
	for rows.Next() {
		p := &pending{}
		var body string
		if err := rows.Scan(&p.id, &p.alertID, &p.rule, &p.action, &p.key, &p.attempts, &body); err != nil {
			return nil, fmt.Errorf("due actions: %w", err)
		}
		p.body = []byte(body)
		out = append(out, p)
	}
	return out, rows.Err()
}

// prepare fixes the request body at the first attempt and leases the call:
// the attempt is counted and the call set due after the endpoint's timeout,
// before it is made, so that a crash mid-call retries it (the receiver
// deduplicates by Idempotency-Key) without exceeding max_attempts.
func (x *Executor) prepare(ctx context.Context, p *pending) (bool, error) {
	ep, ok := x.endpoints[p.action]
	if !ok { // the endpoint left the configuration while the call waited
		return false, x.finish(ctx, p.id, stateFailed, p.attempts, 0, "no endpoint "+strconv.Quote(p.action)+" in handling.auto_actions.endpoints", "")
	}
	p.endpoint = ep
	if ep.Timeout <= 0 {
		p.endpoint.Timeout = config.DefaultActionTimeout
	}
	a, err := x.svc.Get(ctx, p.alertID)
	if errors.Is(err, alert.ErrNotFound) {
		return false, x.finish(ctx, p.id, stateFailed, p.attempts, 0, "the alert is gone", "")
	}
	if err != nil {
		return false, fmt.Errorf("action %d: %w", p.id, err)
	}
	// An analyst who resolved the alert as a false alarm before the call
	// (or while it waited for a retry) has the last word.
	if a.Status == alert.Resolved && a.Resolution != alert.TruePositive {
		return false, x.finish(ctx, p.id, stateSkipped, p.attempts, 0,
			fmt.Sprintf("not called: the alert was resolved as %s by %s", a.Resolution, a.ResolvedBy), "")
	}
	if len(p.body) == 0 {
		if p.body, err = x.request(ctx, p, &a); err != nil {
			return false, err
		}
	}
	p.attempts++
	if _, err := x.db.ExecContext(ctx, `UPDATE alert_actions SET body = ?, attempts = ?, due_at = ? WHERE id = ?`,
		string(p.body), p.attempts, sqldb.FormatTime(x.now().Add(p.endpoint.Timeout)), p.id); err != nil {
		return false, fmt.Errorf("action %d: lease: %w", p.id, err)
	}
	return true, nil
}

// request builds the body of a call from the alert and its records.
func (x *Executor) request(ctx context.Context, p *pending, a *alert.Alert) ([]byte, error) {
	recs, err := x.svc.Records(ctx, p.alertID)
	if err != nil {
		return nil, fmt.Errorf("action %d: %w", p.id, err)
	}
	r := Request{
		Version: 1, Action: p.action, IdempotencyKey: p.key, AlertID: a.ID, Rule: a.Rule, Title: a.Title,
		Severity: a.Severity, Entity: a.Entity, Fingerprint: a.Fingerprint, RaisedAt: a.CreatedAt, Tags: a.Tags,
		Decision: DecisionSummary{RecordID: a.LastRecordID, Action: a.Action, Reason: a.Reason, PolicyRevision: a.PolicyRevision},
		Records:  []RecordSummary{},
	}
	if len(recs) > 0 {
		first := recs[0]
		r.Decision.RecordID = first.RecordID // the record that raised it
	}
	if len(recs) > maxRecords {
		recs = recs[len(recs)-maxRecords:]
	}
	for _, rec := range recs {
		r.Records = append(r.Records, RecordSummary{ID: rec.RecordID, Time: rec.Time, Fields: rec.Fields})
	}
	s, err := encode(r)
	if err != nil {
		return nil, fmt.Errorf("action %d: encode the request: %w", p.id, err)
	}
	return []byte(s), nil
}

// do makes one attempt and keeps its outcome on p.
func (x *Executor) do(ctx context.Context, p *pending) {
	ctx, cancel := context.WithTimeout(ctx, p.endpoint.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint.URL, bytes.NewReader(p.body))
	if err != nil {
		p.err = fmt.Errorf("build the request: %w", err)
		return
	}
	ts := x.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil-auto-action/1")
	req.Header.Set("Idempotency-Key", p.key)
	req.Header.Set("X-Vigil-Action", p.action)
	req.Header.Set("X-Vigil-Attempt", strconv.Itoa(p.attempts))
	req.Header.Set(webhook.TimestampHeader, strconv.FormatInt(ts, 10))
	if secret := x.secrets[p.action]; secret != "" {
		req.Header.Set(webhook.SignatureHeader, webhook.Sign(secret, ts, p.body))
	}
	resp, err := x.client.Do(req)
	if err != nil {
		p.err, p.transient = err, true
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	p.status, p.response = resp.StatusCode, string(b)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		p.success = true
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout ||
		resp.StatusCode == http.StatusTooEarly || resp.StatusCode == http.StatusTooManyRequests:
		// the endpoint is down, busy or slow: later it may well act
		p.err, p.transient = fmt.Errorf("HTTP %d", resp.StatusCode), true
	default: // 1xx, 3xx, other 4xx: the endpoint refused; trying again would not change its mind
		p.err = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
}

// record writes an attempt's outcome: done, or due again after a backoff.
func (x *Executor) record(ctx context.Context, p *pending, st *Stats) error {
	st.Attempts++
	errText := ""
	if p.err != nil {
		errText = p.err.Error()
	}
	switch {
	case p.success:
		st.Succeeded++
		x.calls.WithLabelValues(p.rule, p.action, stateSucceeded).Inc()
		return x.finish(ctx, p.id, stateSucceeded, p.attempts, p.status, "", p.response)
	case p.transient && p.attempts < x.cfg.MaxAttempts:
		x.calls.WithLabelValues(p.rule, p.action, "retry").Inc()
		wait := x.backoff(p.attempts)
		x.log.Info("auto-action failed; retrying", "alert", p.alertID, "action", p.action, "attempt", p.attempts, "err", errText, "wait", wait)
		_, err := x.db.ExecContext(ctx, `UPDATE alert_actions SET due_at = ?, http_status = ?, error = ?, response = ? WHERE id = ?`,
			sqldb.FormatTime(x.now().Add(wait)), p.status, errText, p.response, p.id)
		if err != nil {
			return fmt.Errorf("action %d: %w", p.id, err)
		}
		return nil
	}
	st.Failed++
	x.calls.WithLabelValues(p.rule, p.action, stateFailed).Inc()
	x.log.Warn("auto-action failed for good", "alert", p.alertID, "action", p.action, "attempts", p.attempts, "err", errText)
	return x.finish(ctx, p.id, stateFailed, p.attempts, p.status, errText, p.response)
}

func (x *Executor) finish(ctx context.Context, id int64, state string, attempts, status int, errText, response string) error {
	_, err := x.db.ExecContext(ctx, `UPDATE alert_actions SET state = ?, attempts = ?, http_status = ?, error = ?, response = ?
		WHERE id = ?`, state, attempts, status, errText, response, id)
	if err != nil {
		return fmt.Errorf("action %d: %w", id, err)
	}
	return nil
}

// Call is one auto-action call as stored, for tools and tests.
type Call struct {
	ID             int64
	AlertID        int64
	Rule, Action   string
	IdempotencyKey string
	State          string // pending, succeeded, failed, suppressed, skipped
	Attempts       int
	HTTPStatus     int
	Error          string
	Due            time.Time
}

// Calls lists the calls of an alert (alertID > 0) or of every alert, oldest first.
func (x *Executor) Calls(ctx context.Context, alertID int64) ([]Call, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT id, alert_id, rule, action, idempotency_key, state, attempts, http_status, error, due_at
		FROM alert_actions WHERE ? = 0 OR alert_id = ? ORDER BY id`, alertID, alertID)
	if err != nil {
		return nil, fmt.Errorf("auto-action calls: %w", err)
	}
	defer rows.Close()
	var out []Call
	for rows.Next() {
		var c Call
		var due string
		if err := rows.Scan(&c.ID, &c.AlertID, &c.Rule, &c.Action, &c.IdempotencyKey, &c.State, &c.Attempts, &c.HTTPStatus, &c.Error, &due); err != nil {
			return nil, fmt.Errorf("auto-action calls: %w", err)
		}
		if c.Due, err = sqldb.ParseTime(due); err != nil {
			return nil, fmt.Errorf("auto-action calls: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
