package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c := Defaults()
	if c.Server.Addr != "127.0.0.1:8080" || c.Store.Path != "var/vigil.db" || c.Policies.Path != "policies" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if len(c.Notify.Receivers) != 1 || c.Notify.Receivers[0].Type != "log" || c.Notify.Receivers[0].Timeout != 5*time.Second {
		t.Fatalf("default receivers: %+v", c.Notify.Receivers)
	}
}

func TestLayers(t *testing.T) {
	file := writeFile(t, "dev.yaml", `
server:
  addr: 127.0.0.1:9000
  read_timeout: 7s
alerts:
  min_severity: high
record:
  rename: {TX_AMOUNT: amount}
  defaults: {type: payment}
notify:
  receivers:
    - name: ops
      type: webhook
      url_secret_env: OPS_URL
      secret_env: OPS_SECRET
`)
	c, err := Load(Sources{
		Files:   []string{file},
		Environ: []string{"VIGIL_SERVER__ADDR=127.0.0.1:9100", "VIGIL_LOG__LEVEL=debug", "HOME=/root"},
		Set:     []string{"alerts.keep_records=5"},
		Flags:   map[string]string{"log.level": "warn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "127.0.0.1:9100" {
		t.Errorf("env must beat the file: addr %q", c.Server.Addr)
	}
	if c.Server.ReadTimeout != 7*time.Second || c.Server.WriteTimeout != 30*time.Second {
		t.Errorf("file values must merge over defaults: %+v", c.Server)
	}
	if c.Log.Level != "warn" {
		t.Errorf("flags must beat env: level %q", c.Log.Level)
	}
	if c.Alerts.KeepRecords != 5 || c.Alerts.MinSeverity != "high" {
		t.Errorf("alerts: %+v", c.Alerts)
	}
	if c.Record.Rename["TX_AMOUNT"] != "amount" || c.Record.Defaults["type"] != "payment" {
		t.Errorf("record maps must keep their keys' case: %+v", c.Record)
	}
	// A list in a file replaces the default list whole; its elements get
	// their own defaults.
	if len(c.Notify.Receivers) != 1 || c.Notify.Receivers[0].Name != "ops" || c.Notify.Receivers[0].Timeout != DefaultReceiverTimeout {
		t.Errorf("receivers: %+v", c.Notify.Receivers)
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		set     []string
		want    string
	}{
		{name: "unknown key in file", file: "server:\n  adr: x\n", want: `config: unknown key "server.adr" in `},
		{name: "suggestion", file: "server:\n  adr: x\n", want: `(did you mean "server.addr"?)`},
		{name: "unknown env key", environ: []string{"VIGIL_SERVR__ADDR=x"}, want: `unknown key "servr.addr" in the environment`},
		{name: "unknown --set key", set: []string{"nope=1"}, want: `unknown key "nope" in the command line`},
		{name: "bad duration", file: "server:\n  read_timeout: soon\n", want: "server.read_timeout"},
		{name: "bad int", file: "server:\n  max_body_bytes: lots\n", want: "server.max_body_bytes"},
		{name: "bad severity", file: "alerts:\n  min_severity: huge\n", want: `config: alerts.min_severity: severity "huge"`},
		{name: "bad addr", set: []string{"server.addr=8080"}, want: "config: server.addr"},
		{name: "unknown receiver key", file: "notify:\n  receivers:\n    - name: a\n      type: log\n      urll: x\n", want: "urll"},
		{name: "webhook without secret", file: "notify:\n  receivers:\n    - {name: a, type: webhook, url: 'https://x.example', timeout: 1s}\n", want: "config: notify.receivers[a]: webhook needs secret_env or secret_file (the key that signs its requests)"},
		{name: "unknown channel key", file: "notify:\n  receivers:\n    - {name: a, type: dingtalk, url_secret_env: D, dingtalk: {at_mobile: [1]}}\n", want: "at_mobile"},
		{name: "receiver type", file: "notify:\n  receivers:\n    - {name: a, type: pager, timeout: 1s}\n", want: `notify.receivers[a].type: "pager"`},
		{name: "malformed yaml", file: "server: [\n", want: "config: "},
		{name: "bad unknown_fields", set: []string{"record.unknown_fields=maybe"}, want: "record.unknown_fields"},
		{name: "bad set syntax", set: []string{"novalue"}, want: `--set "novalue": want key=value`},
		{name: "signature without key", file: "policies:\n  require_signature: true\n", want: "config: policies.require_signature: needs policies.verification_key"},
		{name: "signature algorithm", set: []string{"policies.verification_algorithm=MD5"}, want: `config: policies.verification_algorithm: "MD5"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := Sources{Environ: tt.environ, Set: tt.set}
			if src.Environ == nil {
				src.Environ = []string{}
			}
			if tt.file != "" {
				src.Files = []string{writeFile(t, "c.yaml", tt.file)}
			}
			_, err := Load(src)
			if err == nil {
				t.Fatalf("want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error must be one line: %q", err)
			}
		})
	}
}

func TestYAMLRedactsSecrets(t *testing.T) {
	c := Defaults()
	c.Notify.Receivers = []ReceiverConfig{{
		Name: "hook", Type: "webhook", URL: "https://user:s3cr3t@hooks.example.com/in?token=s3cr3t", SecretEnv: "HOOK_SECRET", Timeout: time.Second,
		Webhook: WebhookReceiver{Headers: map[string]string{"Authorization": "Bearer s3cr3t", "X-Team": "risk"}, AuthorizationSecretEnv: "HOOK_AUTH"},
	}, {
		Name: "ding", Type: "dingtalk", URLSecretEnv: "DING_URL", SecretFile: "/run/secrets/ding", Timeout: time.Second,
		DingTalk: DingTalkReceiver{AtMobiles: []string{"13800001111"}},
	}}
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "s3cr3t") {
		t.Fatalf("secret leaked:\n%s", s)
	}
	for _, want := range []string{"token=REDACTED", "REDACTED@hooks.example.com", "secret_env: HOOK_SECRET", "authorization_secret_env: HOOK_AUTH",
		"X-Team: risk", "url_secret_env: DING_URL", "secret_file: /run/secrets/ding", "at_mobiles:", "read_timeout: 10s", "addr: 127.0.0.1:8080"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// Each receiver shows the block of its own type only.
	for _, unwanted := range []string{"pagerduty:", "alertmanager:", "wecom:", "email:"} {
		if strings.Contains(s, unwanted) {
			t.Errorf("output shows an empty %s block:\n%s", unwanted, s)
		}
	}
}

func TestSecret(t *testing.T) {
	file := writeFile(t, "secret", "  from-file\n")
	env := map[string]string{"S": "from-env"}
	getenv := func(k string) string { return env[k] }
	if v, err := (ReceiverConfig{Name: "a", SecretEnv: "S"}).Secret(getenv); err != nil || v != "from-env" {
		t.Fatalf("env secret: %q %v", v, err)
	}
	if v, err := (ReceiverConfig{Name: "a", SecretFile: file}).Secret(getenv); err != nil || v != "from-file" {
		t.Fatalf("file secret: %q %v", v, err)
	}
	if _, err := (ReceiverConfig{Name: "a", SecretEnv: "MISSING"}).Secret(getenv); err == nil || !strings.Contains(err.Error(), "MISSING") {
		t.Fatalf("missing env secret must name the variable: %v", err)
	}
}

func TestSecretInVigilVariableIsNotAKey(t *testing.T) {
	file := writeFile(t, "c.yaml", "notify:\n  receivers:\n    - {name: ops, type: webhook, url: 'https://hooks.example.com/x', secret_env: VIGIL_OPS_SECRET}\n")
	_, err := Load(Sources{Files: []string{file}, Environ: []string{"VIGIL_OPS_SECRET=s3cret", "VIGIL_LOG__LEVEL=debug"}})
	if err != nil {
		t.Fatalf("a VIGIL_* variable named by secret_env must not be read as a config key: %v", err)
	}
}
