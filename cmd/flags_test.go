package cmd

import (
	"fmt"
	"maps"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// A local flag with the name of a persistent one hides the global flag in that command:
// `pay --token` once swallowed the API key. Walk the whole tree and refuse any.
func TestNoLocalFlagShadowsAGlobalOne(t *testing.T) {
	streams, _, _, _ := Test()
	for _, s := range shadowedFlags(NewRootCmd(NewFactory(streams, BuildInfo{}))) {
		t.Error(s)
	}
}

func TestShadowedFlagsAreFound(t *testing.T) {
	root := &cobra.Command{Use: "root"}
	root.PersistentFlags().String("token", "", "")
	pay := &cobra.Command{Use: "pay"}
	pay.Flags().String("token", "", "")
	root.AddCommand(pay)
	if got := shadowedFlags(root); len(got) != 1 {
		t.Fatalf("shadowedFlags = %q, want the one of pay", got)
	}
}

func shadowedFlags(root *cobra.Command) []string {
	var out []string
	var walk func(c *cobra.Command, inherited map[string]string)
	walk = func(c *cobra.Command, inherited map[string]string) {
		c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			if owner, ok := inherited[f.Name]; ok {
				out = append(out, fmt.Sprintf("%q defines --%s, which shadows the persistent flag of %q", c.CommandPath(), f.Name, owner))
			}
			if owner, ok := inherited["-"+f.Shorthand]; ok && f.Shorthand != "" {
				out = append(out, fmt.Sprintf("%q defines -%s, which shadows the persistent shorthand of %q", c.CommandPath(), f.Shorthand, owner))
			}
		})
		next := maps.Clone(inherited)
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) {
			next[f.Name] = c.CommandPath()
			if f.Shorthand != "" {
				next["-"+f.Shorthand] = c.CommandPath()
			}
		})
		for _, sub := range c.Commands() {
			walk(sub, next)
		}
	}
	walk(root, map[string]string{})
	return out
}
