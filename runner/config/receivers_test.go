package config

import (
	"strings"
	"testing"
)

func TestReceiverValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string // one receiver, as a flow mapping
		want string // "" means valid
	}{
		{"log", `{name: console, type: log}`, ""},
		{"webhook", `{name: hook, type: webhook, url: "https://x.example/in", secret_env: K, webhook: {headers: {X-Team: risk}, max_bytes: 65536, authorization_secret_file: /run/a}}`, ""},
		{"dingtalk", `{name: ding, type: dingtalk, url_secret_env: D, secret_file: /run/s, locale: zh, timezone: Asia/Shanghai, dingtalk: {msgtype: actionCard, at_mobiles: ["13800001111"], keyword: 风控}}`, ""},
		{"wecom", `{name: wc, type: wecom, url_secret_file: /run/w, wecom: {msgtype: text, mentioned_list: ["@all"]}}`, ""},
		{"feishu", `{name: fs, type: feishu, url_secret_env: F, feishu: {at_all: true}}`, ""},
		{"slack", `{name: sl, type: slack, url_secret_env: S}`, ""},
		{"email", `{name: mail, type: email, secret_env: P, email: {host: smtp.example.com, tls: tls, username: u, from: a@example.com, to: [b@example.com]}}`, ""},
		{"email relay", `{name: mail, type: email, email: {host: localhost, tls: none, from: a@example.com, to: [b@example.com]}}`, ""},
		{"aliyun", `{name: sms, type: sms, secret_env: A, sms: {provider: aliyun, to: ["13800001111"], aliyun: {access_key_id: LTAI, sign_name: 风控, template_code: SMS_1}}}`, ""},
		{"twilio", `{name: sms, type: sms, secret_env: T, url: "http://127.0.0.1:9999", sms: {provider: twilio, to: ["+15558675310"], twilio: {account_sid: AC1, messaging_service_sid: MG1}}}`, ""},
		{"pagerduty", `{name: pd, type: pagerduty, secret_file: /run/pd, pagerduty: {source: vigil-prod}}`, ""},
		{"alertmanager", `{name: am, type: alertmanager, url: "http://am:9093", alertmanager: {labels: {env: prod}, ends_after: 12h}}`, ""},

		{"bad name", `{name: "risk ops", type: log}`, `notify.receivers[risk ops].name: use letters`},
		{"no type", `{name: a}`, `notify.receivers[a].type: required: one of log, webhook, dingtalk`},
		{"unknown type", `{name: a, type: pager}`, `notify.receivers[a].type: "pager": want one of`},
		{"bad locale", `{name: a, type: log, locale: fr}`, `notify.receivers[a].locale: "fr": want zh or en`},
		{"bad timezone", `{name: a, type: log, timezone: Mars/Base}`, `notify.receivers[a].timezone: "Mars/Base"`},
		{"both secrets", `{name: a, type: pagerduty, secret_env: K, secret_file: /k}`, `notify.receivers[a]: set secret_env or secret_file, not both`},
		{"both url secrets", `{name: a, type: slack, url_secret_env: K, url_secret_file: /k}`, `set url_secret_env or url_secret_file, not both`},
		{"url and url secret", `{name: a, type: webhook, url: "https://x.example", url_secret_env: U, secret_env: K}`, `set url or url_secret_env/url_secret_file, not both`},
		{"url with token", `{name: a, type: webhook, url: "https://x.example/in?token=s3cret", secret_env: K}`, `notify.receivers[a].url: "https://x.example/in?token=REDACTED" carries credentials or a query`},
		{"url with user", `{name: a, type: alertmanager, url: "https://u:p@am.example"}`, `carries credentials`},
		{"relative url", `{name: a, type: alertmanager, url: "am:9093"}`, `notify.receivers[a].url: "am:9093": want an absolute http(s) URL`},
		{"log with url", `{name: a, type: log, url: "https://x.example"}`, `notify.receivers[a].url: a log receiver has no URL`},
		{"log with secret", `{name: a, type: log, secret_env: K}`, `a log receiver takes no secret_env/secret_file`},
		{"webhook without secret", `{name: a, type: webhook, url: "https://x.example"}`, `webhook needs secret_env or secret_file (the key that signs its requests)`},
		{"webhook without url", `{name: a, type: webhook, secret_env: K}`, `url (or url_secret_env / url_secret_file) is required`},
		{"webhook auth header", `{name: a, type: webhook, url: "https://x.example", secret_env: K, webhook: {headers: {Authorization: "Bearer x"}}}`, `notify.receivers[a].webhook.headers: Authorization would put a credential in the config file`},
		{"webhook max_bytes", `{name: a, type: webhook, url: "https://x.example", secret_env: K, webhook: {max_bytes: 100}}`, `webhook.max_bytes: 100`},
		{"dingtalk plain url", `{name: a, type: dingtalk, url: "https://oapi.dingtalk.com/robot/send"}`, `notify.receivers[a].url: a dingtalk URL holds its token: give it through url_secret_env or url_secret_file`},
		{"dingtalk without url", `{name: a, type: dingtalk}`, `url_secret_env or url_secret_file is required: the dingtalk webhook URL, token included`},
		{"wecom with secret", `{name: a, type: wecom, url_secret_env: W, secret_env: K}`, `a wecom receiver takes no secret_env/secret_file`},
		{"block of another type", `{name: a, type: wecom, url_secret_env: W, dingtalk: {at_all: true}}`, `notify.receivers[a].dingtalk: set, but the type is wecom`},
		{"email without host", `{name: a, type: email, email: {from: a@example.com, to: [b@example.com]}}`, `notify.receivers[a].email.host: required`},
		{"email without to", `{name: a, type: email, email: {host: h, from: a@example.com}}`, `email.to: at least one address`},
		{"email user without password", `{name: a, type: email, email: {host: h, username: u, from: a@example.com, to: [b@example.com]}}`, `email.username needs the password in secret_env or secret_file`},
		{"email password without user", `{name: a, type: email, secret_env: P, email: {host: h, from: a@example.com, to: [b@example.com]}}`, `set email.username too`},
		{"email tls", `{name: a, type: email, email: {host: h, tls: ssl, from: a@example.com, to: [b@example.com]}}`, `email.tls: "ssl": want starttls, tls or none`},
		{"sms provider", `{name: a, type: sms, secret_env: K, sms: {provider: nexmo, to: ["1"]}}`, `sms.provider: "nexmo": want aliyun or twilio`},
		{"sms without numbers", `{name: a, type: sms, secret_env: K, sms: {provider: aliyun}}`, `sms.to: at least one phone number`},
		{"sms without secret", `{name: a, type: sms, sms: {provider: aliyun, to: ["13800001111"], aliyun: {access_key_id: L, sign_name: s, template_code: t}}}`, `sms needs secret_env or secret_file (the provider's API secret)`},
		{"aliyun template", `{name: a, type: sms, secret_env: K, sms: {provider: aliyun, to: ["13800001111"], aliyun: {access_key_id: L, sign_name: s}}}`, `sms.aliyun.template_code: required`},
		{"twilio from", `{name: a, type: sms, secret_env: K, sms: {provider: twilio, to: ["+1555"], twilio: {account_sid: AC1}}}`, `sms.twilio: set from or messaging_service_sid, one of them`},
		{"twilio block on aliyun", `{name: a, type: sms, secret_env: K, sms: {provider: aliyun, to: ["1"], aliyun: {access_key_id: L, sign_name: s, template_code: t}, twilio: {from: "+1"}}}`, `sms.twilio: set, but the provider is aliyun`},
		{"pagerduty without key", `{name: a, type: pagerduty}`, `pagerduty needs secret_env or secret_file (the integration key)`},
		{"alertmanager ends_after", `{name: a, type: alertmanager, url: "http://am", alertmanager: {ends_after: 2h}}`, `alertmanager.ends_after: 2h0m0s is not above notify.repeat_interval (4h0m0s)`},
		{"timeout", `{name: a, type: log, timeout: -1s}`, `notify.receivers[a].timeout: must be a positive duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, "c.yaml", "notify:\n  repeat_interval: 4h\n  receivers:\n    - "+tc.yaml+"\n")
			c, err := Load(Sources{Files: []string{file}, Environ: []string{}})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if len(c.Notify.Receivers) != 1 || c.Notify.Receivers[0].Timeout != DefaultReceiverTimeout {
					t.Errorf("receivers = %+v", c.Notify.Receivers)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Load error %v, want one line containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestReceiverSecrets(t *testing.T) {
	file := writeFile(t, "secret", "  from-file\n")
	empty := writeFile(t, "empty", " \n")
	env := map[string]string{"S": "from-env", "U": "https://oapi.dingtalk.com/robot/send?access_token=t", "A": "Bearer abc"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name    string
		resolve func() (string, error)
		want    string
		err     string
	}{
		{"secret_env", func() (string, error) { return ReceiverConfig{SecretEnv: "S"}.Secret(getenv) }, "from-env", ""},
		{"secret_file", func() (string, error) { return ReceiverConfig{SecretFile: file}.Secret(getenv) }, "from-file", ""},
		{"no secret", func() (string, error) { return ReceiverConfig{}.Secret(getenv) }, "", ""},
		{"unset variable", func() (string, error) { return ReceiverConfig{SecretEnv: "MISSING"}.Secret(getenv) }, "", "secret_env: environment variable MISSING is empty or unset"},
		{"empty file", func() (string, error) { return ReceiverConfig{SecretFile: empty}.Secret(getenv) }, "", "secret_file " + empty + " is empty"},
		{"missing file", func() (string, error) { return ReceiverConfig{SecretFile: "/nonexistent/s"}.Secret(getenv) }, "", "secret_file: open /nonexistent/s"},
		{"url_secret_env", func() (string, error) { return ReceiverConfig{URLSecretEnv: "U"}.URLSecret(getenv) }, env["U"], ""},
		{"plain url", func() (string, error) { return ReceiverConfig{URL: "http://am:9093"}.URLSecret(getenv) }, "http://am:9093", ""},
		{"url_secret_file", func() (string, error) { return ReceiverConfig{URLSecretFile: file}.URLSecret(getenv) }, "from-file", ""},
		{"unset url variable", func() (string, error) { return ReceiverConfig{URLSecretEnv: "NOPE"}.URLSecret(getenv) }, "", "url_secret_env: environment variable NOPE"},
		{"authorization", func() (string, error) {
			return ReceiverConfig{Webhook: WebhookReceiver{AuthorizationSecretEnv: "A"}}.AuthorizationSecret(getenv)
		}, "Bearer abc", ""},
	} {
		got, err := tc.resolve()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
