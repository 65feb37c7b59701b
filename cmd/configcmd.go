package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// ConfigValue is one line of `config show`.
type ConfigValue struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source Source `json:"source"`
	Env    string `json:"env"`
}

// ConfigShow is `config show -o json`.
type ConfigShow struct {
	File   string        `json:"file"`
	Values []ConfigValue `json:"values"`
}

func newConfigCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("config", "Show the effective configuration")
	c.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print each setting, its value and where it came from (flag, env, file, default)",
		Long: `Print each setting, its value and where it came from. Precedence: a flag, then the
TAGPAY_* environment variable, then the config file, then the default. Secrets are masked.`,
		Example: `  tagpay config show
  tagpay config show -o json --jq '.values[] | select(.source != "default") | .key'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			show, err := configShow(f)
			if err != nil {
				return err
			}
			p, err := f.Printer()
			if err != nil {
				return err
			}
			t := Table{Header: []string{"KEY", "VALUE", "SOURCE", "ENV"}}
			for _, v := range show.Values {
				t.Rows = append(t.Rows, []string{v.Key, v.Value, string(v.Source), v.Env})
			}
			if !p.JSONOutput() {
				fmt.Fprintf(f.IO.ErrOut, "config file: %s\n", show.File)
			}
			return p.List(show, t)
		},
	})
	return c
}

func configShow(f *Factory) (ConfigShow, error) {
	if _, err := f.Config(); err != nil {
		return ConfigShow{}, err
	}
	show := ConfigShow{File: f.loader.file}
	for _, s := range settings {
		val := f.loader.v.GetString(s.Key)
		if s.Secret {
			val = maskSecret(val)
		}
		show.Values = append(show.Values, ConfigValue{Key: s.Key, Value: val, Source: f.loader.source(s), Env: s.Env()})
	}
	return show, nil
}

// maskSecret keeps only enough of a secret to tell two apart.
func maskSecret(s string) string {
	if s == "" {
		return ""
	}
	if len(s) <= 8 {
		return strings.Repeat("*", 8)
	}
	return s[:4] + strings.Repeat("*", 8)
}
