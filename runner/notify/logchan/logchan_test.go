package logchan_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/logchan"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

func TestOneLinePerAlert(t *testing.T) {
	var buf bytes.Buffer
	c := logchan.New(slog.New(slog.NewJSONHandler(&buf, nil)))
	m := template.Example(3, template.EN)
	m.Receiver, m.Digest = "console", 4
	ps, err := c.Render(m)
	if err != nil || len(ps) != 1 {
		t.Fatalf("Render = %v, %v", ps, err)
	}
	if retry, err := c.Send(t.Context(), ps[0]); retry || err != nil {
		t.Fatalf("Send = %v, %v", retry, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	var first, last map[string]any
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[2]), &last)
	for k, want := range map[string]any{"level": "WARN", "msg": "alert firing", "receiver": "console", "alert": 1000.0, "rule": "card_testing",
		"entity": "card_id=e-100000", "severity": "high", "reason": "6 small authorisations in 1m", "count": 1.0, "status": "open", "digest": 4.0} {
		if first[k] != want {
			t.Errorf("first line %s = %v, want %v", k, first[k], want)
		}
	}
	if last["level"] != "INFO" || last["msg"] != "alert resolved" {
		t.Errorf("last line = %v", last)
	}
}

func TestNilLoggerAndForeignPayload(t *testing.T) {
	c := logchan.New(nil)
	if _, err := c.Send(t.Context(), notify.Payload{Body: []byte("not json")}); err == nil {
		t.Error("Send accepted a payload it did not render")
	}
	ps, _ := c.Render(template.Example(1, ""))
	if retry, err := c.Send(t.Context(), ps[0]); retry || err != nil {
		t.Errorf("Send = %v, %v", retry, err)
	}
}
