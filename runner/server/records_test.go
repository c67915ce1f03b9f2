package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/decision"
	"github.com/vigil-risk/vigil/runner/server"
)

// batchReply mirrors the /v1/records reply.
type batchReply struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Results  []struct {
		Index    int                `json:"index"`
		Line     int                `json:"line"`
		Decision *decision.Decision `json:"decision"`
		Error    string             `json:"error"`
		Errors   []struct {
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"errors"`
	} `json:"results"`
}

// batchRecord is one record of the mixed batch, as fields in CSV column order.
type batchRecord struct {
	id, ts, card, amount string
	action               decision.Action // "" for a record that is refused
	badField             string
}

// mixedBatch: good and bad records, alternating. The bad ones have an
// amount that is not a number, and no time.
var mixedBatch = []batchRecord{
	{id: "b-0", ts: "2026-03-01T10:00:00Z", card: "ctok_7Hq2Lm9Xb4", amount: "12.5", action: decision.Block},
	{id: "b-1", ts: "2026-03-01T10:01:00Z", card: "ctok_Qw3Er5Ty7U", amount: "abc", badField: "amount"},
	{id: "b-2", ts: "2026-03-01T10:02:00Z", card: "ctok_Qw3Er5Ty7U", amount: "30", action: decision.Allow},
	{id: "b-3", ts: "", card: "ctok_Qw3Er5Ty7U", amount: "40", badField: "ts"},
	{id: "b-4", ts: "2026-03-01T10:04:00Z", card: "ctok_Z81kPd03Rt", amount: "50", action: decision.Block},
}

func (b batchRecord) json() string {
	m := map[string]any{"id": b.id, "type": "payment", "card_id": b.card, "currency": "EUR"}
	if b.ts != "" {
		m["ts"] = b.ts
	}
	if n, err := json.Number(b.amount).Float64(); err == nil {
		m["amount"] = n
	} else {
		m["amount"] = b.amount
	}
	out, _ := json.Marshal(m)
	return string(out)
}

func (b batchRecord) csv() string {
	return strings.Join([]string{b.id, b.ts, "payment", b.card, b.amount, "EUR"}, ",")
}

// batchBody encodes mixedBatch in a format; lines are where each record starts.
func batchBody(format string) (body string, lines []int) {
	var sb strings.Builder
	switch format {
	case "json":
		sb.WriteString("[\n")
		for i, r := range mixedBatch {
			sb.WriteString("  " + r.json())
			if i < len(mixedBatch)-1 {
				sb.WriteString(",")
			}
			sb.WriteString("\n")
			lines = append(lines, i+2)
		}
		sb.WriteString("]\n")
	case "jsonl": // a blank line after the second record: lines and indexes part
		for i, r := range mixedBatch {
			sb.WriteString(r.json() + "\n")
			lines = append(lines, i+1+min(i/2, 1))
			if i == 1 {
				sb.WriteString("\n")
			}
		}
	case "csv":
		sb.WriteString("id,ts,type,card_id,amount,currency\r\n")
		for i, r := range mixedBatch {
			sb.WriteString(r.csv() + "\r\n")
			lines = append(lines, i+2)
		}
	}
	return sb.String(), lines
}

func TestRecords(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		format      string
	}{
		{"JSON array", "application/json", "json"},
		{"JSON array, type detected", "", "json"},
		{"JSONL", "application/x-ndjson", "jsonl"},
		{"JSONL, type detected", "", "jsonl"},
		{"CSV", "text/csv; charset=utf-8", "csv"},
		{"CSV, type detected", "application/octet-stream", "csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, stackConfig{})
			body, lines := batchBody(tt.format)
			r := s.post(t, "/v1/records", tt.contentType, body)
			wantStatus(t, "POST /v1/records", r, http.StatusOK)
			reply := decodeAs[batchReply](t, r)
			if reply.Accepted != 3 || reply.Rejected != 2 || len(reply.Results) != len(mixedBatch) {
				t.Fatalf("accepted %d rejected %d results %d, want 3, 2, %d: %s", reply.Accepted, reply.Rejected, len(reply.Results), len(mixedBatch), r.body)
			}
			var badLines []int
			for i, want := range mixedBatch {
				got := reply.Results[i]
				if got.Index != i || got.Line != lines[i] {
					t.Errorf("result %d: index %d line %d, want %d %d", i, got.Index, got.Line, i, lines[i])
				}
				if want.action != "" {
					if got.Decision == nil || got.Decision.RecordID != want.id || got.Decision.Action != want.action || got.Error != "" {
						t.Errorf("result %d: %+v, want %s decided %s", i, got, want.id, want.action)
					}
					continue
				}
				badLines = append(badLines, lines[i])
				if got.Decision != nil || len(got.Errors) != 1 || got.Errors[0].Field != want.badField || !strings.Contains(got.Error, want.badField) {
					t.Errorf("result %d: %+v, want refused naming field %s", i, got, want.badField)
				}
			}

			// The refused records are in the dead-letter log, raw and all.
			dls := s.readDeadLetters(t)
			if len(dls) != 2 {
				t.Fatalf("%d dead letters, want 2: %+v", len(dls), dls)
			}
			for i, dl := range dls {
				want := mixedBatch[dl.Index]
				if dl.Source != "http" || dl.Line != badLines[i] || want.badField == "" ||
					len(dl.Errors) != 1 || dl.Errors[0].Field != want.badField || !strings.Contains(dl.Raw, want.id) || dl.At == "" {
					t.Errorf("dead letter %d: %+v, want record %s at line %d naming %s", i, dl, want.id, badLines[i], want.badField)
				}
			}

			// The good ones went on to alerts: one per blocked card.
			if as := s.listAlerts(t); len(as) != 2 {
				t.Errorf("%d alerts, want 2 (one per blocked card)", len(as))
			}
		})
	}
}

func TestRecordsRefused(t *testing.T) {
	s := newStack(t, stackConfig{server: server.Options{MaxBodyBytes: 1024}})
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		message     string
	}{
		{"CSV header repeats a column", "text/csv", "id,ts,id\n1,2,3\n", 400, "CSV header"},
		{"unsupported type", "application/xml", "<records/>", 415, "application/xml"},
		{"oversized", "application/x-ndjson", strings.Repeat(clean+"\n", 20), 413, "server.max_body_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, "/v1/records", tt.contentType, tt.body)
			wantStatus(t, "POST /v1/records", r, tt.status)
			if e := decodeAs[apiError](t, r); !strings.Contains(e.Error, tt.message) {
				t.Errorf("error %q does not contain %q", e.Error, tt.message)
			}
		})
	}
	if as := s.listAlerts(t); len(as) != 0 {
		t.Errorf("refused batches raised alerts: %+v", as)
	}

	t.Run("empty batch", func(t *testing.T) {
		r := s.post(t, "/v1/records", "application/x-ndjson", "")
		wantStatus(t, "empty batch", r, http.StatusOK)
		if reply := decodeAs[batchReply](t, r); reply.Accepted != 0 || reply.Rejected != 0 || reply.Results == nil {
			t.Errorf("reply %s, want nothing accepted or rejected and results []", r.body)
		}
	})

	// A JSON document ends at a syntax error: what came before it stands.
	t.Run("JSON broken half way", func(t *testing.T) {
		r := s.post(t, "/v1/records", "application/json", "[\n"+blockedCard+",\n{\"id\": \n")
		wantStatus(t, "broken JSON", r, http.StatusOK)
		reply := decodeAs[batchReply](t, r)
		if reply.Accepted != 1 || reply.Rejected != 1 || !strings.Contains(reply.Results[1].Error, "malformed JSON") {
			t.Errorf("reply %s, want the first record decided and a malformed-JSON refusal", r.body)
		}
	})
}

// A policy that fails on a record answers 500 for /v1/decide and a refusal
// of that record alone in a batch; either way the record is dead-lettered.
func TestPolicyFailure(t *testing.T) {
	schema, err := os.ReadFile(filepath.Join(shippedBundle, "schema.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bundle := t.TempDir()
	writeFile(t, filepath.Join(bundle, "schema.yaml"), string(schema))
	// Two values for one complete rule is an evaluation error, but only for
	// payments over 1.
	writeFile(t, filepath.Join(bundle, "risk", "rules", "conflict.rego"), `# METADATA
# title: Conflict
# custom:
#   severity: high
#   action: review
#   mode: enforce
#   entity: card_id
#   owner: risk
package risk.rules.conflict

hit := {"reason": "a payment"} if input.record.type == "payment"

hit := {"reason": "a large amount"} if input.record.amount > 1
`)
	s := newStack(t, stackConfig{bundle: bundle})
	fails := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"ts":"2026-03-01T10:00:00Z","type":"payment","card_id":"ctok_1","amount":5}`, id)
	}
	works := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"ts":"2026-03-01T10:00:00Z","type":"payment","card_id":"ctok_1","amount":0.5}`, id)
	}

	r := s.post(t, "/v1/decide", "application/json", fails("f-1"))
	wantStatus(t, "decide on a failing policy", r, http.StatusInternalServerError)
	if e := decodeAs[apiError](t, r); !strings.Contains(e.Error, "conflict") {
		t.Errorf("error %q should name the rule", e.Error)
	}
	if d := s.decide(t, works("w-1")); d.Action != decision.Review {
		t.Errorf("a record the policy can judge: action %s, want review", d.Action)
	}

	r = s.post(t, "/v1/records", "application/x-ndjson", works("w-2")+"\n"+fails("f-2")+"\n"+works("w-3")+"\n")
	wantStatus(t, "batch on a failing policy", r, http.StatusOK)
	reply := decodeAs[batchReply](t, r)
	if reply.Accepted != 2 || reply.Rejected != 1 || reply.Results[1].Decision != nil || !strings.Contains(reply.Results[1].Error, "policy evaluation") {
		t.Errorf("reply %s, want w-2 and w-3 decided and f-2 refused", r.body)
	}

	dls := s.readDeadLetters(t)
	var got []string
	for _, dl := range dls {
		got = append(got, fmt.Sprintf("%d:%d", dl.Index, dl.Line))
		if len(dl.Errors) != 1 || !strings.Contains(dl.Errors[0].Reason, "conflict") {
			t.Errorf("dead letter %+v should say why", dl)
		}
	}
	if want := []string{"0:1", "1:2"}; !slices.Equal(got, want) {
		t.Errorf("dead letters at %v, want %v (the decide, then the batch's second line)", got, want)
	}
	if !strings.Contains(dls[0].Raw, `"f-1"`) {
		t.Errorf("the decide's dead letter keeps the record: %q", dls[0].Raw)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
