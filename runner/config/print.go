package config

import (
	"net/url"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// YAML renders the configuration as YAML with secrets redacted: URL
// credentials and query values, and header values that look like secrets.
// Secret references (*_secret_env, *_secret_file) are shown, never their
// contents. A receiver shows only the block of its own type.
func (c Config) YAML() ([]byte, error) {
	c.Notify.Receivers = append([]ReceiverConfig(nil), c.Notify.Receivers...)
	for i := range c.Notify.Receivers {
		r := &c.Notify.Receivers[i]
		r.URL = redactURL(r.URL)
		if len(r.Webhook.Headers) > 0 {
			h := make(map[string]string, len(r.Webhook.Headers))
			for k, v := range r.Webhook.Headers {
				if sensitiveHeader(k) {
					v = "REDACTED"
				}
				h[k] = v
			}
			r.Webhook.Headers = h
		}
	}
	return yaml.Marshal(toMap(c))
}

// redactURL keeps scheme, host and path and hides user info and query values,
// where chat vendors put their tokens (access_token=, key=).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return s
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q.Set(k, "REDACTED")
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"auth", "token", "secret", "key", "cookie", "signature"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// toMap renders a config struct as nested maps keyed by the koanf tags, with
// durations as text, so that printing shows the keys a user writes.
func toMap(v any) any {
	return valueMap(reflect.ValueOf(v))
}

func valueMap(v reflect.Value) any {
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	switch v.Kind() {
	case reflect.Struct:
		m := yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := range t.NumField() {
			name := t.Field(i).Tag.Get("koanf")
			if name == "" || t.Field(i).Tag.Get("print") == "omitzero" && v.Field(i).IsZero() {
				continue
			}
			var val yaml.Node
			_ = val.Encode(valueMap(v.Field(i)))
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, &val)
		}
		return &m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = valueMap(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		for _, k := range v.MapKeys() {
			out[k.String()] = valueMap(v.MapIndex(k))
		}
		return out
	}
	return v.Interface()
}
