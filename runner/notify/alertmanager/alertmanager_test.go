package alertmanager_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/alertmanager"
	"github.com/vigil-risk/vigil/runner/notify/internal/channeltest"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// am is a local Alertmanager API v2: POST /api/v2/alerts validated as
// api/v2 and types.Alert.Validate do (labels required and valid, empty
// values dropped, endsAt not before startsAt), alerts kept by label set.
type am struct {
	*httptest.Server
	t   *testing.T
	now time.Time

	mu     sync.Mutex
	alerts map[string]alertmanager.Alert // by label set
	posts  int
	auth   []string
	force  func(w http.ResponseWriter, req *http.Request) bool
}

var validLabel = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func newAM(t *testing.T, now time.Time) *am {
	a := &am{t: t, now: now, alerts: map[string]alertmanager.Alert{}}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func key(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(&b, "%s=%q,", k, labels[k])
	}
	return b.String()
}

func (a *am) serve(w http.ResponseWriter, req *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.force != nil && a.force(w, req) {
		return
	}
	if req.Method != http.MethodPost || req.URL.Path != "/prefix/api/v2/alerts" || req.Header.Get("Content-Type") != "application/json" {
		http.NotFound(w, req)
		return
	}
	a.posts++
	a.auth = append(a.auth, req.Header.Get("Authorization"))
	var alerts []alertmanager.Alert
	if err := json.NewDecoder(req.Body).Decode(&alerts); err != nil {
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(err.Error())
		return
	}
	var errs []string
	for _, al := range alerts {
		for k, v := range al.Labels {
			if v == "" {
				delete(al.Labels, k)
			}
		}
		switch {
		case len(al.Labels) == 0:
			errs = append(errs, "at least one label pair required")
			continue
		case al.StartsAt.IsZero():
			errs = append(errs, "start time missing")
			continue
		case al.EndsAt != nil && al.EndsAt.Before(al.StartsAt):
			errs = append(errs, "start time must be before end time")
			continue
		}
		bad := false
		for k := range al.Labels {
			if !validLabel.MatchString(k) {
				errs = append(errs, fmt.Sprintf("invalid label set: invalid name %q", k))
				bad = true
			}
		}
		if !bad {
			a.alerts[key(al.Labels)] = al
		}
	}
	if len(errs) > 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(strings.Join(errs, ";"))
		return
	}
	w.WriteHeader(200)
}

// firing lists the alerts still firing at the server's now.
func (a *am) firing() []alertmanager.Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []alertmanager.Alert
	for _, al := range a.alerts {
		if al.EndsAt == nil || al.EndsAt.After(a.now) {
			out = append(out, al)
		}
	}
	return out
}

func newChannel(t *testing.T, url string, cfg alertmanager.Config, now time.Time, topts template.Options) *alertmanager.Channel {
	t.Helper()
	topts.LinkBase = "https://vigil.example.com"
	set, err := template.New("alertmanager", topts)
	if err != nil {
		t.Fatal(err)
	}
	cfg.URL = url + "/prefix/"
	c, err := alertmanager.New(cfg, alertmanager.Options{Templates: set, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPostFiringRepostAndResolve(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	srv := newAM(t, now)
	c := newChannel(t, srv.URL, alertmanager.Config{Token: "proxy-token", Labels: map[string]string{"source": "vigil"}, EndsAfter: 6 * time.Hour}, now, template.Options{})
	m := template.Example(1, template.EN)
	channeltest.SendAll(t, c, m)
	got := srv.firing()
	if len(got) != 1 {
		t.Fatalf("firing = %v", got)
	}
	al := got[0]
	wantLabels := map[string]string{"alertname": "card_testing", "rule": "card_testing", "severity": "high", "action": "block", "owner": "payments-risk",
		"entity": "e-100000", "entity_field": "card_id", "tags": ",card,velocity,", "env": "prod", "source": "vigil"}
	if !maps.Equal(al.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", al.Labels, wantLabels)
	}
	if al.Annotations["summary"] != "Card testing burst · card_id=e-100000" || al.Annotations["runbook_url"] != "https://wiki.example.com/risk/card_testing" ||
		!strings.HasPrefix(al.Annotations["description"], "6 small authorisations in 1m (1 hits, first seen 2026-03-01 08:00:00 UTC") ||
		al.Annotations["vigil_alert_id"] != "1000" || al.GeneratorURL != "https://vigil.example.com/alerts/1000" {
		t.Errorf("annotations %v, generatorURL %s", al.Annotations, al.GeneratorURL)
	}
	if !al.StartsAt.Equal(m.Alerts[0].CreatedAt) || !al.EndsAt.Equal(now.Add(6*time.Hour)) {
		t.Errorf("startsAt %s endsAt %s", al.StartsAt, al.EndsAt)
	}
	if srv.auth[0] != "Bearer proxy-token" {
		t.Errorf("Authorization = %q", srv.auth[0])
	}

	// Five hours on, the group repeats: the same payload, sent again, moves
	// endsAt on — Alertmanager keeps one alert, still firing past the
	// first endsAt.
	ps, _ := c.Render(m)
	later := newChannel(t, srv.URL, alertmanager.Config{EndsAfter: 6 * time.Hour, Labels: map[string]string{"source": "vigil"}}, now.Add(5*time.Hour), template.Options{})
	if _, err := later.Send(t.Context(), ps[0]); err != nil {
		t.Fatal(err)
	}
	srv.now = now.Add(7 * time.Hour)
	if got := srv.firing(); len(got) != 1 || !got[0].EndsAt.Equal(now.Add(11*time.Hour)) {
		t.Errorf("after the re-post: %v", got)
	}

	// Resolved: endsAt is when it resolved, and it stops firing.
	resolvedAt := now.Add(7 * time.Hour)
	m.Alerts[0].Status, m.Alerts[0].ResolvedAt = alert.Resolved, &resolvedAt
	m.Status = notify.Resolved
	channeltest.SendAll(t, c, m)
	srv.now = resolvedAt.Add(time.Second)
	if got := srv.firing(); len(got) != 0 {
		t.Errorf("still firing after resolve: %v", got)
	}
}

func TestGroupOf300IsOnePost(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	srv := newAM(t, now)
	channeltest.SendAll(t, newChannel(t, srv.URL, alertmanager.Config{}, now, template.Options{}), template.Example(300, template.EN))
	if srv.posts != 1 || len(srv.firing()) != 299 || len(srv.alerts) != 300 {
		t.Errorf("%d posts, %d alerts, %d firing", srv.posts, len(srv.alerts), len(srv.firing()))
	}
}

func TestChineseAndOverride(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "am.tmpl")
	os.WriteFile(file, []byte(`{{define "summary"}}{{.Rule}}@{{.Entity.Value}}{{end}}`), 0o600)
	for _, tc := range []struct {
		topts       template.Options
		summary     string
		description string
	}{
		{template.Options{Locale: template.ZH}, "银行卡测试攻击 · card_id=e-100000", "1 分钟内 6 笔小额授权（命中 1 次"},
		{template.Options{File: file}, "card_testing@e-100000", "1 分钟内 6 笔小额授权（命中 1 次"}, // the message is in Chinese
	} {
		srv := newAM(t, now)
		channeltest.SendAll(t, newChannel(t, srv.URL, alertmanager.Config{}, now, tc.topts), template.Example(1, template.ZH))
		al := srv.firing()[0]
		if al.Annotations["summary"] != tc.summary || !strings.HasPrefix(al.Annotations["description"], tc.description) {
			t.Errorf("annotations = %v", al.Annotations)
		}
	}
}

func TestVendorAnswers(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		cfg      alertmanager.Config
		force    func(w http.ResponseWriter, req *http.Request) bool
		timeout  bool
		retry    bool
		contains string
	}{
		{name: "invalid alert", cfg: alertmanager.Config{Labels: map[string]string{"source": "vigil"}},
			force: func(w http.ResponseWriter, req *http.Request) bool {
				w.WriteHeader(400)
				io.WriteString(w, `"invalid label set: invalid name \"bad-name\""`+"\n")
				return true
			}, contains: `HTTP 400: invalid label set: invalid name "bad-name"`},
		{name: "server error", retry: true, contains: "HTTP 500",
			force: func(w http.ResponseWriter, req *http.Request) bool { http.Error(w, "boom", 500); return true }},
		{name: "proxy refuses", contains: "HTTP 401",
			force: func(w http.ResponseWriter, req *http.Request) bool { http.Error(w, "unauthorized", 401); return true }},
		{name: "timeout", retry: true, timeout: true,
			force: func(w http.ResponseWriter, req *http.Request) bool {
				io.Copy(io.Discard, req.Body)
				<-req.Context().Done()
				return true
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAM(t, now)
			srv.force = tc.force
			c := newChannel(t, srv.URL, tc.cfg, now, template.Options{})
			ps, _ := c.Render(template.Example(1, template.EN))
			ctx := t.Context()
			if tc.timeout {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
			}
			retry, err := c.Send(ctx, ps[0])
			if err == nil || retry != tc.retry {
				t.Fatalf("Send = %v, %v; want retry %v and an error", retry, err, tc.retry)
			}
			if tc.timeout {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error = %v", err)
				}
				return
			}
			var ve *notify.VendorError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %v: want a VendorError mentioning %q", err, tc.contains)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  alertmanager.Config
		want string
	}{
		{alertmanager.Config{}, "url: required"},
		{alertmanager.Config{URL: "alertmanager:9093"}, "want an absolute http(s) URL"},
		{alertmanager.Config{URL: "http://am:9093", Labels: map[string]string{"bad-name": "x"}}, `labels: "bad-name" is not a valid label name`},
		{alertmanager.Config{URL: "http://am:9093", Labels: map[string]string{"env": ""}}, "labels: env: empty value"},
		{alertmanager.Config{URL: "http://am:9093", EndsAfter: time.Second}, "ends_after 1s: at least 1m"},
	} {
		if _, err := alertmanager.New(tc.cfg, alertmanager.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want it to mention %q", tc.cfg, err, tc.want)
		}
	}
}
