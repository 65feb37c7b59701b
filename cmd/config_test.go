package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestSaveConfigValueKeepsTheRest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "config.yaml")
	if err := saveConfigValue(file, "device.id", "dev_first"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("output: json\ndevice:\n  name: laptop\n  id: dev_first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := saveConfigValue(file, "device.id", "dev_second"); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"output: json", "name: laptop", "id: dev_second"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("config file lacks %q:\n%s", want, raw)
		}
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("config file mode %v, want 0600 (it may hold a token)", fi.Mode().Perm())
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	os.MkdirAll(filepath.Join(dir, "tagpay"), 0o700)
	os.WriteFile(filepath.Join(dir, "tagpay", "config.yaml"), []byte("reader: from-file\nserver: http://file\noutput: json\n"), 0o600)
	t.Setenv("TAGPAY_SERVER", "http://env/")
	t.Setenv("TAGPAY_READER", "from-env")

	flags := pflag.NewFlagSet("t", pflag.ContinueOnError)
	for _, n := range []string{"db", "config", "output", "server", "token", "reader", "device"} {
		flags.String(n, "", "")
	}
	if err := flags.Parse([]string{"--reader", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	l, cfg, err := loadConfig(flags)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key, got, want string
		source         Source
	}{
		{"reader", cfg.Reader, "from-flag", SourceFlag},
		{"server", cfg.Server, "http://env", SourceEnv},
		{"output", cfg.Output, FormatJSON, SourceFile},
		{"db", cfg.DB, filepath.Join(dir, "data", "tagpay", "ledger.db"), SourceDefault},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
		for _, s := range settings {
			if s.Key == c.key && l.source(s) != c.source {
				t.Errorf("%s comes from %s, want %s", c.key, l.source(s), c.source)
			}
		}
	}
}
