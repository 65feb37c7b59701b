package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// Config is the effective configuration of one invocation: flag > TAGPAY_* environment >
// config file > default, resolved by one viper instance.
type Config struct {
	DB     string       `mapstructure:"db"`
	Keys   string       `mapstructure:"keys"`
	Server string       `mapstructure:"server"`
	Token  string       `mapstructure:"token"`
	Output string       `mapstructure:"output"`
	Reader string       `mapstructure:"reader"`
	Device DeviceConfig `mapstructure:"device"`

	// Domain settings of the local ledger (a server has its own).
	BaseURL  string `mapstructure:"base_url"`
	TokenBIN string `mapstructure:"token_bin"`
	// IdempotencyTTL is read from the text of idempotency_ttl.
	IdempotencyTTL     time.Duration `mapstructure:"-"`
	IdempotencyTTLText string        `mapstructure:"idempotency_ttl"`

	// File is the config file that was (or would have been) read.
	File string `mapstructure:"-"`
}

// DeviceConfig is this installation's identity as a payer's device.
type DeviceConfig struct {
	ID string `mapstructure:"id"`
}

// Output formats.
const (
	FormatTable = "table"
	FormatJSON  = "json"
)

// Setting describes one configuration key: where it can come from and how `config show`
// prints it. A new key is one more entry in settings and one more field in Config.
type Setting struct {
	Key    string // viper key, dotted for nesting (device.id); also the config file path
	Flag   string // global flag that sets it, if any
	Secret bool   // masked by config show
	Help   string
}

// Env is the environment variable of a setting: TAGPAY_ and the key in upper case, dots
// and dashes as underscores (device.id → TAGPAY_DEVICE_ID).
func (s Setting) Env() string { return envName(s.Key) }

func envName(key string) string {
	return "TAGPAY_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

var settings = []Setting{
	{Key: "db", Flag: "db", Help: "ledger file"},
	{Key: "keys", Flag: "keys", Help: "key file of the local ledger's master secrets (mode 0600, kept apart from the ledger)"},
	{Key: "server", Flag: "server", Help: "URL of a tagpay server; ledger commands then run there"},
	{Key: "token", Flag: "token", Secret: true, Help: "API key for the server"},
	{Key: "output", Flag: "output", Help: "output format: table or json"},
	{Key: "reader", Flag: "reader", Help: "reader name or index"},
	{Key: "device.id", Flag: "device", Help: "this installation's device id"},
	{Key: "base_url", Help: "base URL of the content of newly registered tags (local ledger)"},
	{Key: "token_bin", Help: "six-digit prefix of new payment tokens (local ledger)"},
	{Key: "idempotency_ttl", Help: "how long an idempotency key holds its first answer (local ledger; negative: for ever); the default of serve --idempotency-ttl and ledger prune --older-than"},
}

// settingOf returns the setting of key; keys are constants of this package.
func settingOf(key string) Setting {
	for _, s := range settings {
		if s.Key == key {
			return s
		}
	}
	return Setting{Key: key}
}

// Source says where an effective value came from.
type Source string

const (
	SourceFlag    Source = "flag"
	SourceEnv     Source = "env"
	SourceFile    Source = "file"
	SourceDefault Source = "default"
)

// configLoader resolves the configuration from the global flags, the environment and
// the config file.
type configLoader struct {
	flags    *pflag.FlagSet
	v        *viper.Viper
	file     string
	explicit bool     // named by --config or TAGPAY_CONFIG, so it must exist
	unknown  []string // keys of the file that no setting reads, sorted
}

// unknownKeys lists the dotted keys of the config file's tree that are not settings: a
// typo there would otherwise be silently ignored.
func unknownKeys(tree map[string]any, prefix string) []string {
	var out []string
	for k, v := range tree {
		key := prefix + k
		if sub, ok := v.(map[string]any); ok {
			if isSettingPrefix(key) {
				out = append(out, unknownKeys(sub, key+".")...)
				continue
			}
		}
		if !isSetting(key) {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out
}

func isSetting(key string) bool {
	for _, s := range settings {
		if s.Key == key {
			return true
		}
	}
	return false
}

func isSettingPrefix(key string) bool {
	for _, s := range settings {
		if strings.HasPrefix(s.Key, key+".") {
			return true
		}
	}
	return false
}

// defaultConfigFile is $XDG_CONFIG_HOME/tagpay/config.yaml, else ~/.config/tagpay/config.yaml.
func defaultConfigFile() string {
	return filepath.Join(xdgDir("XDG_CONFIG_HOME", ".config"), "tagpay", "config.yaml")
}

// defaultDBFile is $XDG_DATA_HOME/tagpay/ledger.db, else ~/.local/share/tagpay/ledger.db.
func defaultDBFile() string {
	return filepath.Join(xdgDir("XDG_DATA_HOME", filepath.Join(".local", "share")), "tagpay", "ledger.db")
}

// xdgDir follows the XDG base directory rule: the variable when it holds an absolute
// path, else a folder under the home directory.
func xdgDir(variable, underHome string) string {
	if d := os.Getenv(variable); filepath.IsAbs(d) {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, underHome)
}

// defaultKeysFile is $XDG_CONFIG_HOME/tagpay/keys.json, else ~/.config/tagpay/keys.json:
// under the configuration, never beside the ledger in the data folder, so that a copy of
// the data folder holds no key to it.
func defaultKeysFile() string {
	return filepath.Join(xdgDir("XDG_CONFIG_HOME", ".config"), "tagpay", "keys.json")
}

// defaults are the values used when nothing sets a key; config show prints them, so
// they are the domain's own defaults, not empty strings standing for them.
func defaults() map[string]any {
	return map[string]any{
		"db": defaultDBFile(), "keys": defaultKeysFile(), "output": FormatTable,
		"base_url": orders.DefaultBaseURL, "token_bin": cards.DefaultBIN,
		"idempotency_ttl": store.DefaultIdempotencyTTL.String(),
	}
}

// loadConfig reads the configuration. flags holds the global flags after parsing.
func loadConfig(flags *pflag.FlagSet) (*configLoader, *Config, error) {
	l := &configLoader{flags: flags, v: viper.New()}
	l.file = defaultConfigFile()
	if env := os.Getenv("TAGPAY_CONFIG"); env != "" {
		l.file, l.explicit = env, true
	}
	if f := flags.Lookup("config"); f != nil && f.Changed {
		l.file, l.explicit = f.Value.String(), true
	}
	for k, d := range defaults() {
		l.v.SetDefault(k, d)
	}
	for _, s := range settings {
		if err := l.v.BindEnv(s.Key, s.Env()); err != nil {
			return nil, nil, fmt.Errorf("config key %s: %w", s.Key, err)
		}
		if s.Flag == "" {
			continue
		}
		if f := flags.Lookup(s.Flag); f != nil {
			if err := l.v.BindPFlag(s.Key, f); err != nil {
				return nil, nil, fmt.Errorf("config key %s: %w", s.Key, err)
			}
		}
	}
	l.v.SetConfigFile(l.file)
	l.v.SetConfigType("yaml")
	if err := l.v.ReadInConfig(); err != nil {
		// The default file may be missing; one that was asked for by name may not.
		if !errors.Is(err, fs.ErrNotExist) || l.explicit {
			return nil, nil, Usagef("config file %s: %v", l.file, err)
		}
	}
	l.unknown = unknownKeys(l.v.AllSettings(), "")
	var cfg Config
	if err := l.v.Unmarshal(&cfg); err != nil {
		return nil, nil, Usagef("config file %s: %v", l.file, err)
	}
	cfg.File = l.file
	cfg.Output = strings.ToLower(strings.TrimSpace(cfg.Output))
	if cfg.Output != FormatTable && cfg.Output != FormatJSON {
		return nil, nil, Usagef("output format %q is not table or json", cfg.Output)
	}
	cfg.Server = strings.TrimRight(strings.TrimSpace(cfg.Server), "/")
	ttl, err := time.ParseDuration(strings.TrimSpace(cfg.IdempotencyTTLText))
	if err != nil {
		s := settingOf("idempotency_ttl")
		return nil, nil, Usagef("idempotency_ttl %q (%s) is not a duration such as 24h or 72h", cfg.IdempotencyTTLText, l.source(s))
	}
	cfg.IdempotencyTTL = ttl
	return l, &cfg, nil
}

// source says where the effective value of key came from.
func (l *configLoader) source(s Setting) Source {
	if s.Flag != "" {
		if f := l.flags.Lookup(s.Flag); f != nil && f.Changed {
			return SourceFlag
		}
	}
	if os.Getenv(s.Env()) != "" {
		return SourceEnv
	}
	if l.v.InConfig(s.Key) {
		return SourceFile
	}
	return SourceDefault
}

// saveConfigValue writes one key into the config file, keeping everything else in it,
// creating the file (mode 0600: it may hold a token) and its folder when missing.
func saveConfigValue(file, key string, value any) error {
	doc := map[string]any{}
	raw, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading config file: %w", err)
	default:
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("config file %s: %w", file, err)
		}
		if doc == nil {
			doc = map[string]any{}
		}
	}
	parts := strings.Split(key, ".")
	node := doc
	for _, p := range parts[:len(parts)-1] {
		child, ok := node[p].(map[string]any)
		if !ok {
			child = map[string]any{}
			node[p] = child
		}
		node = child
	}
	node[parts[len(parts)-1]] = value
	out, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encoding config file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("creating the folder of config file %s: %w", file, err)
	}
	// Write beside it and rename, so an interrupted write never leaves half a file.
	tmp, err := os.CreateTemp(filepath.Dir(file), ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("writing config file %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("writing config file %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing config file %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("writing config file %s: %w", file, err)
	}
	return nil
}
