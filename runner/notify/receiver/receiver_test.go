package receiver_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/receiver"
	"github.com/vigil-risk/vigil/runner/notify/webhook"
)

func TestBuild(t *testing.T) {
	hits := 0
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer s.Close()
	var logs bytes.Buffer
	rs, err := receiver.Build([]receiver.Config{
		{Name: "console-log", Type: receiver.TypeLog},
		{Name: "ops.hook", Type: receiver.TypeWebhook, Webhook: &webhook.Config{URL: s.URL, Timeout: 3 * time.Second}},
	}, receiver.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(rs) != 2 || rs[0].Name != "console-log" || rs[1].Name != "ops.hook" || rs[1].Timeout != 3*time.Second || rs[0].Timeout != 0 {
		t.Fatalf("receivers = %+v", rs)
	}
	n := &notify.Notification{Receiver: "x", Kind: notify.Firing, Alert: alert.Alert{ID: 1, Rule: "r"}}
	for _, r := range rs {
		if retry, err := r.Notifier.Notify(context.Background(), n); err != nil || retry {
			t.Errorf("%s: Notify = %v, %v", r.Name, retry, err)
		}
	}
	if hits != 1 || !strings.Contains(logs.String(), "rule=r") {
		t.Errorf("webhook hits %d, log %q: want each channel used once", hits, logs.String())
	}
}

func TestBuildReportsEveryProblem(t *testing.T) {
	_, err := receiver.Build([]receiver.Config{
		{Name: "", Type: receiver.TypeLog},
		{Name: "ok", Type: receiver.TypeLog},
		{Name: "ok", Type: receiver.TypeLog},
		{Name: "bad name!", Type: receiver.TypeLog},
		{Name: "mail", Type: "email"},
		{Name: "untyped"},
		{Name: "hook", Type: receiver.TypeWebhook},
		{Name: "hook2", Type: receiver.TypeWebhook, Webhook: &webhook.Config{URL: "ftp://x"}},
		{Name: "mixed", Type: receiver.TypeLog, Webhook: &webhook.Config{URL: "http://x"}},
		{Name: "pct%d", Type: receiver.TypeLog},
	}, receiver.Options{})
	if err == nil {
		t.Fatal("Build succeeded")
	}
	for _, want := range []string{
		"receivers[0]: name: required",
		`receivers[2] "ok": name: already used by receivers[1]`,
		`receivers[3] "bad name!": name: use letters`,
		`receivers[4] "mail": type "email": want log or webhook`,
		`receivers[5] "untyped": type: required`,
		`receivers[6] "hook": webhook: required for type webhook`,
		`receivers[7] "hook2": webhook.url "ftp://x": want an absolute http or https URL`,
		`receivers[8] "mixed": webhook: set, but type is "log"`,
		`receivers[9] "pct%d": name: use letters`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}
