package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	env "github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
	yamlv3 "go.yaml.in/yaml/v3"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// EnvPrefix starts every environment variable the config reads. A double
// underscore separates levels: VIGIL_SERVER__ADDR sets server.addr.
const EnvPrefix = "VIGIL_"

// Sources says where the layers above the defaults come from.
type Sources struct {
	Files   []string          // YAML files, later ones win
	Environ []string          // "KEY=value" pairs; nil means os.Environ()
	Set     []string          // "key=value" from --set, YAML-typed values
	Flags   map[string]string // config key → value, from shortcut flags that were given
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	cfg, err := Load(Sources{Environ: []string{}})
	if err != nil {
		panic("config: the embedded defaults are invalid: " + err.Error()) // a build defect, caught by tests
	}
	return cfg
}

// Load builds the effective configuration: defaults < files < environment <
// --set < flags. Each layer is checked for unknown keys on its own so that the
// error can say where a bad key came from.
func Load(src Sources) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(rawbytes.Provider(defaultsYAML), yaml.Parser()); err != nil {
		return Config{}, fmt.Errorf("config: defaults: %w", err)
	}
	known := knownKeys(reflect.TypeOf(Config{}), "")

	for _, f := range src.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		layer := koanf.New(".")
		if err := layer.Load(rawbytes.Provider(data), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("config: %s: %s", f, yamlMessage(err))
		}
		if err := merge(k, layer, known, f); err != nil {
			return Config{}, err
		}
	}

	environ := src.Environ
	if environ == nil {
		environ = os.Environ()
	}
	// A secret may live in a VIGIL_* variable that a receiver names with
	// secret_env (or url_secret_env, ...): that variable is a value, not a key.
	secretVars := referencedVars(k.Raw())
	layer := koanf.New(".")
	if err := layer.Load(env.Provider(".", env.Opt{
		Prefix: EnvPrefix,
		TransformFunc: func(name, v string) (string, any) {
			if secretVars[name] {
				return "", nil
			}
			return envKey(name, v)
		},
		EnvironFunc: func() []string { return environ },
	}), nil); err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}
	if err := merge(k, layer, known, "the environment ("+EnvPrefix+"*)"); err != nil {
		return Config{}, err
	}

	set := map[string]any{}
	for _, kv := range src.Set {
		key, val, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(key) == "" {
			return Config{}, fmt.Errorf("config: --set %q: want key=value", kv)
		}
		var v any
		if err := yamlv3.Unmarshal([]byte(val), &v); err != nil {
			v = val
		}
		set[strings.TrimSpace(key)] = v
	}
	for key, val := range src.Flags {
		set[key] = val
	}
	layer = koanf.New(".")
	_ = layer.Load(confmap.Provider(set, "."), nil)
	if err := merge(k, layer, known, "the command line"); err != nil {
		return Config{}, err
	}

	var cfg Config
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Result:           &cfg,
		TagName:          "koanf",
	}}); err != nil {
		return Config{}, fmt.Errorf("config: %s", decodeMessage(err))
	}
	cfg.fillListDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// referencedVars collects the values of every *_env key (secret_env,
// url_secret_env, ...), at any depth and inside lists.
func referencedVars(v any) map[string]bool {
	out := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && strings.HasSuffix(k, "_env") && s != "" {
					out[s] = true
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// envKey maps VIGIL_SERVER__MAX_BODY_BYTES to server.max_body_bytes.
func envKey(k, v string) (string, any) {
	k = strings.ToLower(strings.TrimPrefix(k, EnvPrefix))
	return strings.ReplaceAll(k, "__", "."), v
}

// merge checks a layer's keys against the Config struct and merges it.
func merge(k, layer *koanf.Koanf, known map[string]bool, origin string) error {
	keys := layer.Keys()
	sort.Strings(keys)
	for _, key := range keys {
		if !keyAllowed(key, known) {
			hint := ""
			if s := closest(key, known); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			return fmt.Errorf("config: unknown key %q in %s%s", key, origin, hint)
		}
	}
	return k.Merge(layer)
}

// knownKeys lists the dotted key of every leaf and map field of the struct;
// map fields are marked with a trailing ".*" since any key may follow them.
func knownKeys(t reflect.Type, prefix string) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if name == "" {
			continue
		}
		key := prefix + name
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type.String() != "time.Duration":
			for k := range knownKeys(f.Type, key+".") {
				out[k] = true
			}
		case f.Type.Kind() == reflect.Map:
			out[key] = true
			out[key+".*"] = true
		default:
			out[key] = true // scalars and lists (list elements are checked when decoding)
		}
	}
	return out
}

func keyAllowed(key string, known map[string]bool) bool {
	if known[key] {
		return true
	}
	for p := key; ; {
		i := strings.LastIndex(p, ".")
		if i < 0 {
			return false
		}
		p = p[:i]
		if known[p+".*"] {
			return true
		}
	}
}

// closest suggests a known key one or two edits away from a misspelt one.
func closest(key string, known map[string]bool) string {
	best, bestD := "", 3
	names := make([]string, 0, len(known))
	for k := range known {
		if !strings.HasSuffix(k, ".*") {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decodeMessage turns mapstructure's multi-line error into one line.
func decodeMessage(err error) string {
	var de *mapstructure.DecodeError
	msgs := []string{}
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
		if line == "" || strings.HasSuffix(line, "error(s) decoding:") || strings.HasPrefix(line, "decoding failed due to the following error") {
			continue
		}
		msgs = append(msgs, line)
	}
	_ = errors.As(err, &de)
	if len(msgs) == 0 {
		return err.Error()
	}
	return strings.Join(msgs, "; ")
}

func yamlMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// Lists in a layer replace the default list whole, so elements get their
// defaults here rather than from defaults.yaml.
func (c *Config) fillListDefaults() {
	for i := range c.Notify.Receivers {
		if c.Notify.Receivers[i].Timeout == 0 {
			c.Notify.Receivers[i].Timeout = DefaultReceiverTimeout
		}
	}
	for i := range c.Sources {
		if c.Sources[i].Format == "" {
			c.Sources[i].Format = "auto"
		}
		if c.Sources[i].Name == "" {
			c.Sources[i].Name = c.Sources[i].Type
		}
	}
}

// DefaultReceiverTimeout bounds one delivery attempt when a receiver sets none.
const DefaultReceiverTimeout = 5 * time.Second
