package cmd

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strconv"

	"golang.org/x/term"
)

// IOStreams are the standard streams of one invocation, injected so that every command
// runs the same in a test as in a terminal.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY   bool
	stdoutTTY  bool
	noColor    bool
	inReader   *bufio.Reader
	width      func() int      // the terminal's width in columns; 0 when unknown
	fixedWidth int             // set by tests
	interrupt  <-chan struct{} // closed on Ctrl-C: a prompt stops waiting for its answer
}

// System returns the process's own streams, asking the terminal which of them is one.
func System() *IOStreams {
	noColor := os.Getenv("NO_COLOR") != ""
	return &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		noColor:   noColor,
		width: func() int {
			if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
				return w
			}
			return 0
		},
	}
}

// TerminalWidth is the width of the terminal on stdout in columns, 0 when unknown;
// COLUMNS, when set to a number, wins, as in most tools.
func (s *IOStreams) TerminalWidth() int {
	if s.fixedWidth > 0 {
		return s.fixedWidth
	}
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 0 {
		return c
	}
	if s.width == nil {
		return 0
	}
	return s.width()
}

// SetWidth fixes the terminal width, for tests of table layout.
func (s *IOStreams) SetWidth(w int) { s.fixedWidth = w }

// SetInterrupt makes prompts give up when done is closed (Ctrl-C).
func (s *IOStreams) SetInterrupt(done <-chan struct{}) { s.interrupt = done }

// Test returns streams backed by buffers (stdin, stdout, stderr), none a terminal.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, noColor: true}, in, out, errOut
}

// SetTTY makes the streams claim to be terminals (or not), for tests of terminal output
// and prompts.
func (s *IOStreams) SetTTY(stdin, stdout bool) {
	s.stdinTTY, s.stdoutTTY = stdin, stdout
}

// IsStdoutTTY reports whether stdout is a terminal: tables and QR codes then, plain lines
// otherwise.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// CanPrompt reports whether a question may be asked: only when a person sits at both ends.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stdoutTTY }

// ColorEnabled reports whether escape codes may be written: on a terminal without
// NO_COLOR (set to anything but the empty string, as https://no-color.org asks).
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.noColor }

// Colors returns the colour scheme fitting these streams.
func (s *IOStreams) Colors() ColorScheme { return ColorScheme{enabled: s.ColorEnabled()} }

// ColorScheme paints words, or leaves them plain when colour is off.
type ColorScheme struct{ enabled bool }

func (c ColorScheme) paint(code, s string) string {
	if !c.enabled {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Green marks success.
func (c ColorScheme) Green(s string) string { return c.paint("32", s) }

// Red marks failure.
func (c ColorScheme) Red(s string) string { return c.paint("31", s) }

// Yellow marks a warning.
func (c ColorScheme) Yellow(s string) string { return c.paint("33", s) }

// Bold marks what matters most on a line.
func (c ColorScheme) Bold(s string) string { return c.paint("1", s) }
