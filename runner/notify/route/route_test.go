package route_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-risk/vigil/runner/alert"
	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify/route"
)

var defaults = route.Timers{GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, RepeatInterval: 4 * time.Hour}

// parse reads a route as the runner's configuration loads it: from
// notify.route in a YAML file, through config.Load.
func parse(t *testing.T, src string) config.RouteConfig {
	t.Helper()
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(src), &raw); err != nil {
		t.Fatal(err)
	}
	doc, err := yaml.Marshal(map[string]any{"notify": map[string]any{"route": raw}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Sources{Files: []string{path}, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Notify.Route
}

// The tree of Alertmanager's documentation, in Vigil's labels.
const tree = `
receiver: default
group_by: [alertname]
routes:
  - matchers: ['severity="critical"']
    receiver: pager
    group_wait: 0s
    continue: true
  - matchers: ['owner=~"payments.*"']
    receiver: payments
    group_by: [alertname, entity]
    routes:
      - matchers: [action=block]
        receiver: payments-block
        repeat_interval: 1h
      - matchers: ['env="dev"']
        receiver: dev
  - matchers: ['tags=~".*,aml,.*"']
    receiver: aml
    group_by: ["..."]
    group_interval: 10m
  - matchers: [env=staging]
    group_by: []
`

var receivers = []string{"default", "pager", "payments", "payments-block", "dev", "aml"}

func TestMatch(t *testing.T) {
	root, err := route.New(parse(t, tree), defaults, receivers)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		receiver  string
		groupBy   string
		groupWait time.Duration
		interval  time.Duration
		repeat    time.Duration
	}
	for _, tc := range []struct {
		name   string
		labels alert.Labels
		want   []want
	}{
		{"nothing matches below the root: the root takes it", alert.Labels{"alertname": "x", "severity": "low"},
			[]want{{"default", "alertname", 30 * time.Second, 5 * time.Minute, 4 * time.Hour}}},
		{"first matching child wins", alert.Labels{"owner": "payments-risk", "action": "review"},
			[]want{{"payments", "alertname,entity", 30 * time.Second, 5 * time.Minute, 4 * time.Hour}}},
		{"the deepest match, inheriting group_by from its parent", alert.Labels{"owner": "payments-risk", "action": "block"},
			[]want{{"payments-block", "alertname,entity", 30 * time.Second, 5 * time.Minute, time.Hour}}},
		{"continue goes on to later siblings", alert.Labels{"severity": "critical", "owner": "payments-risk", "action": "block"},
			[]want{{"pager", "alertname", 0, 5 * time.Minute, 4 * time.Hour}, {"payments-block", "alertname,entity", 30 * time.Second, 5 * time.Minute, time.Hour}}},
		{"continue with nothing after it still matches", alert.Labels{"severity": "critical"},
			[]want{{"pager", "alertname", 0, 5 * time.Minute, 4 * time.Hour}}},
		{"without continue later siblings are not tried", alert.Labels{"owner": "payments", "tags": ",aml,"},
			[]want{{"payments", "alertname,entity", 30 * time.Second, 5 * time.Minute, 4 * time.Hour}}},
		{"a tag", alert.Labels{"tags": ",aml,card,"}, []want{{"aml", "...", 30 * time.Second, 10 * time.Minute, 4 * time.Hour}}},
		{"not a tag that merely contains it", alert.Labels{"tags": ",aml2,"}, []want{{"default", "alertname", 30 * time.Second, 5 * time.Minute, 4 * time.Hour}}},
		{"the receiver is inherited, group_by [] groups everything", alert.Labels{"env": "staging"},
			[]want{{"default", "", 30 * time.Second, 5 * time.Minute, 4 * time.Hour}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []want
			for _, r := range root.Match(tc.labels) {
				gb := strings.Join(r.GroupBy, ",")
				if r.GroupByAll {
					gb = "..."
				}
				got = append(got, want{r.Receiver, gb, r.GroupWait, r.GroupInterval, r.RepeatInterval})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Match(%v) =\n  %+v\nwant\n  %+v", tc.labels, got, tc.want)
			}
		})
	}
}

func TestGroupKey(t *testing.T) {
	root, err := route.New(parse(t, tree), defaults, receivers)
	if err != nil {
		t.Fatal(err)
	}
	l := alert.Labels{"alertname": "card_testing", "owner": "payments-risk", "action": "block", "entity": "c1", "severity": "high"}
	r := root.Match(l)[0]
	key, g := r.GroupKey(l)
	if want := `{}/{owner=~"payments.*"}/1/{action="block"}/0:{alertname="card_testing", entity="c1"}`; key != want {
		t.Errorf("GroupKey = %s, want %s", key, want)
	}
	if len(g) != 2 || g["entity"] != "c1" {
		t.Errorf("group labels = %v", g)
	}
	other := alert.Labels{"alertname": "card_testing", "owner": "payments-risk", "action": "block", "entity": "c1", "severity": "low"}
	if k2, _ := r.GroupKey(other); k2 != key {
		t.Errorf("labels outside group_by changed the group: %s", k2)
	}
	all := root.Match(alert.Labels{"tags": ",aml,", "entity": "c9"})[0]
	if k, g := all.GroupKey(alert.Labels{"tags": ",aml,", "entity": "c9"}); len(g) != 2 || !strings.HasSuffix(k, `:{entity="c9", tags=",aml,"}`) {
		t.Errorf("group_by ... key %s labels %v", k, g)
	}
	if got := root.Receivers(alert.Labels{"severity": "critical", "owner": "payments"}); !slices.Equal(got, []string{"pager", "payments"}) {
		t.Errorf("Receivers = %v", got)
	}
	// A route's key changes with what decides its groups, not with its timers.
	changed := parse(t, strings.Replace(tree, "receiver: payments-block", "receiver: dev", 1))
	root2, err := route.New(changed, defaults, receivers)
	if err != nil {
		t.Fatal(err)
	}
	r2 := root2.Match(l)[0]
	if r2.ID() != r.ID() || r2.Key() == r.Key() {
		t.Errorf("a new receiver keeps the ID (%s, %s) and changes the key (%s, %s)", r.ID(), r2.ID(), r.Key(), r2.Key())
	}
	retimed, _ := route.New(parse(t, strings.Replace(tree, "repeat_interval: 1h", "repeat_interval: 2h", 1)), defaults, receivers)
	if retimed.Match(l)[0].Key() != r.Key() {
		t.Error("a new repeat_interval changed the route key")
	}
}

func TestRootReceiverDefaultsToTheFirst(t *testing.T) {
	root, err := route.New(config.RouteConfig{}, defaults, []string{"console", "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if root.Receiver != "console" || root.GroupWait != 30*time.Second || len(root.Match(alert.Labels{})) != 1 {
		t.Errorf("root = %+v", root.Opts)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		src       string
		defaults  route.Timers
		receivers []string
		want      []string
	}{
		{"unknown receiver", "routes: [{receiver: nobody}]", defaults, receivers,
			[]string{`config: notify.route.routes[0].receiver: unknown receiver "nobody" (notify.receivers has: default, pager`}},
		{"bad matcher", `routes: [{routes: [{matchers: [ok=1, 'rule=~"(x"']}]}]`, defaults, receivers,
			[]string{"config: notify.route.routes[0].routes[0].matchers[1]: matcher `rule=~\"(x\"`: label rule: regular expression"}},
		{"root with matchers", "matchers: [a=b]", defaults, receivers,
			[]string{"config: notify.route.matchers: the root route matches every alert"}},
		{"root with continue", "continue: true", defaults, receivers, []string{"config: notify.route.continue"}},
		{"no receivers", `receiver: ""`, defaults, nil, []string{"config: notify.receivers: no receiver is configured"}},
		{"bad group_by", "routes: [{group_by: [alertname, bad-name]}, {group_by: [..., alertname]}]", defaults, receivers,
			[]string{`notify.route.routes[0].group_by[1]: "bad-name" is not a label name`,
				`notify.route.routes[1].group_by[0]: "..." groups by every label and cannot be combined`}},
		{"zero group_interval on a route", "routes: [{group_interval: 0s}]", defaults, receivers,
			[]string{"notify.route.routes[0].group_interval: must be a positive duration"}},
		{"negative group_wait", "routes: [{group_wait: -1s}]", defaults, receivers,
			[]string{"notify.route.routes[0].group_wait: -1s must not be negative"}},
		{"zero default repeat_interval", `receiver: ""`, route.Timers{GroupInterval: time.Minute}, receivers,
			[]string{"config: notify.repeat_interval: must be a positive duration"}},
		{"every problem at once", "routes: [{receiver: x}, {receiver: y}]", defaults, receivers,
			[]string{`routes[0].receiver: unknown receiver "x"`, `routes[1].receiver: unknown receiver "y"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := route.New(parse(t, tc.src), tc.defaults, tc.receivers)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
