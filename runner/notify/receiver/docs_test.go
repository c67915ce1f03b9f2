package receiver_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/notify/receiver"
)

// Every configuration example in docs/channels.md loads and builds, with
// made-up secrets in place of the real ones.
func TestDocumentedExamplesBuild(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/channels.md")
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"DINGTALK_RISK_URL":  "https://oapi.dingtalk.com/robot/send?access_token=0123abcd",
		"wecom-risk-url":     "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx",
		"FEISHU_RISK_URL":    "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d",
		"SLACK_RISK_WEBHOOK": "https://hooks.slack.com/services/T000/B000/XXXX",
		"pagerduty-risk-key": "R0UT1NGKEY0123456789abcdefABCDEF",
	}
	value := func(name string) string {
		if v, ok := secrets[filepath.Base(name)]; ok {
			return v
		}
		return "secret-for-" + name
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 11 {
		t.Fatalf("found %d yaml examples", len(blocks))
	}
	types := map[string]bool{}
	for i, b := range blocks {
		file := filepath.Join(t.TempDir(), "example.yaml")
		os.WriteFile(file, []byte(b[1]), 0o600)
		cfg, err := config.Load(config.Sources{Files: []string{file}, Environ: []string{}})
		if err != nil {
			t.Errorf("example %d does not load: %v\n%s", i+1, err, b[1])
			continue
		}
		// Secret files named in the docs live elsewhere: stand-ins here.
		for j := range cfg.Notify.Receivers {
			r := &cfg.Notify.Receivers[j]
			for _, f := range []*string{&r.SecretFile, &r.URLSecretFile} {
				if *f != "" {
					stand := filepath.Join(t.TempDir(), filepath.Base(*f))
					os.WriteFile(stand, []byte(value(*f)), 0o600)
					*f = stand
				}
			}
			types[r.Type] = true
		}
		if _, err := receiver.Build(cfg.Notify.Receivers, receiver.Options{LinkBase: cfg.Notify.LinkBase, Getenv: value}); err != nil {
			t.Errorf("example %d does not build: %v\n%s", i+1, err, b[1])
		}
	}
	for _, typ := range config.ReceiverTypes() {
		if !types[typ] {
			t.Errorf("docs/channels.md has no example of a %s receiver", typ)
		}
	}
	if !strings.Contains(string(doc), "## Templates") {
		t.Error("docs/channels.md lost its Templates section")
	}
}
