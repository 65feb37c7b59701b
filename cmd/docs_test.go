package cmd

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// The command blocks of the README and the guides under docs/ run as written, on the
// prelude of the help examples (see examples_test.go for its variables): each file on a
// fresh one, its ```sh blocks in order. A tagpay command runs unless it is one whose help
// examples are not run either (exampleSkips: it needs a reader, a server or runs until
// interrupted) or it talks to a server; it must exit 0, or the code its comment names
// ("# exit 9 …"); NAME=$(tagpay …) keeps its output in $NAME. No tagpay command, run or
// not, may hold a placeholder. Other lines (scripts, psql, heredocs) are logged and not run.
func TestDocsRunAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a ledger per guide")
	}
	files, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join("..", "README.md")}, files...)
	ios, _, _, _ := Test()
	root := NewRootCmd(NewFactory(ios, BuildInfo{}))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := shellBlocks(string(raw))
		t.Run(filepath.Base(file), func(t *testing.T) {
			env := examplePrelude(t)
			for _, l := range lines {
				runDocLine(t, root, env, l)
			}
		})
	}
}

// docLine is one command of a ```sh block, continuation lines joined.
type docLine struct {
	at   int // line number in the file
	text string
}

// shellBlocks returns the commands of the file's ```sh blocks, skipping heredoc bodies.
func shellBlocks(md string) []docLine {
	var out []docLine
	in, heredoc := false, ""
	var cont *docLine
	for n, line := range strings.Split(md, "\n") {
		switch trimmed := strings.TrimSpace(line); {
		case !in && trimmed == "```sh":
			in = true
		case in && trimmed == "```":
			in = false
		case !in:
		case heredoc != "":
			if trimmed == heredoc {
				heredoc = ""
			}
		case cont != nil:
			cont.text += " " + strings.TrimSuffix(trimmed, `\`)
			if !strings.HasSuffix(trimmed, `\`) {
				out, cont = append(out, *cont), nil
			}
		default:
			if m := heredocStart.FindStringSubmatch(trimmed); m != nil {
				heredoc = m[1]
			}
			if strings.HasSuffix(trimmed, `\`) {
				cont = &docLine{at: n + 1, text: strings.TrimSuffix(trimmed, `\`)}
				continue
			}
			if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
				out = append(out, docLine{at: n + 1, text: trimmed})
			}
		}
	}
	return out
}

// serverExported marks, in the variables, that the guide exported TAGPAY_SERVER: the
// commands after it talk to a server.
const serverExported = "\x00server"

var (
	heredocStart = regexp.MustCompile(`<<-?'?([A-Za-z_]+)'?`)
	assignment   = regexp.MustCompile(`^([A-Z_]+)=\$\((tagpay [^)]*)\)(.*)$`)
	exitComment  = regexp.MustCompile(`#.*\bexits? (\d+)\b`)
	placeholder  = regexp.MustCompile(`…|\.\.\.|\[-|\|[A-Z]`)
)

func runDocLine(t *testing.T, root *cobra.Command, env map[string]string, l docLine) {
	t.Helper()
	// NAME=$(tagpay …) keeps the command's output for the lines after it, as a shell does.
	capture := ""
	if m := assignment.FindStringSubmatch(l.text); m != nil {
		capture, l.text = m[1], m[2]+m[3]
	}
	fields := strings.Fields(l.text)
	if len(fields) > 0 && fields[0] == "export" {
		// export NAME=VALUE sets what later lines expand; after TAGPAY_SERVER they talk
		// to a server.
		if words, ok := shellWords(strings.TrimPrefix(l.text, "export "), env); ok {
			for _, w := range words {
				if name, value, ok := strings.Cut(w, "="); ok {
					env[name] = value
				}
			}
		}
		if strings.Contains(l.text, "TAGPAY_SERVER=") {
			env[serverExported] = "1"
		}
	}
	if len(fields) == 0 || fields[0] != "tagpay" {
		t.Logf("line %d not run (not a tagpay command): %s", l.at, l.text)
		return
	}
	// Even a line this test cannot run is one a reader can.
	if placeholder.MatchString(strings.SplitN(l.text, " #", 2)[0]) {
		t.Errorf("line %d holds a placeholder, so it cannot run as written: %s", l.at, l.text)
		return
	}
	if strings.Contains(l.text, "--server") || env[serverExported] != "" { // after `export TAGPAY_SERVER=…`
		t.Logf("line %d not run (needs a server): %s", l.at, l.text)
		return
	}
	c, _, err := root.Find(fields[1:])
	if err != nil || c == root {
		t.Errorf("line %d names no tagpay command: %s", l.at, l.text)
		return
	}
	path := strings.TrimPrefix(c.CommandPath(), "tagpay ")
	// A tap given on the command line, or an image read as a tag, needs no reader.
	offline := path == "pay" && strings.Contains(l.text, "--uid") || path == "tag read" && strings.Contains(l.text, "--image")
	if why, skip := exampleSkips[path]; skip && !offline {
		t.Logf("line %d not run (%s): %s", l.at, why, l.text)
		return
	}
	args, ok := shellWords(l.text, env)
	if !ok {
		t.Errorf("line %d is not a plain command (or names an unknown variable): %s", l.at, l.text)
		return
	}
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "postgres://") }) {
		t.Logf("line %d not run (needs PostgreSQL): %s", l.at, l.text)
		return
	}
	want := 0
	if m := exitComment.FindStringSubmatch(l.text); m != nil {
		want, _ = strconv.Atoi(m[1])
	}
	ios, in, out, errOut := Test()
	in.WriteString("4111 1111 1111 1111\n")
	if code := Main(context.Background(), args[1:], ios, BuildInfo{Version: "v0.0.0-test"}); code != want {
		t.Errorf("line %d: %s\nexited %d, want %d: %s%s", l.at, l.text, code, want, out, errOut)
	}
	if capture != "" {
		env[capture] = strings.TrimSpace(out.String())
	}
}
