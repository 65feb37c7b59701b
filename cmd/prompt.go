package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// Prompts ask on stderr and read stdin, and only on a terminal: a script answers every
// question with a flag, and a missing answer is a usage error naming that flag.

// readLine reads one answer from stdin; one buffered reader serves every prompt of the
// invocation, so no typed-ahead input is lost between two questions.
func (s *IOStreams) readLine() (string, error) {
	if s.inReader == nil {
		s.inReader = bufio.NewReader(s.In)
	}
	line, err := s.interruptible(func() (string, error) { return s.inReader.ReadString('\n') })
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", Usagef("no answer on standard input")
		}
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// interruptible runs a blocking read of stdin, and gives up with context.Canceled when
// Ctrl-C arrives first: a read of a terminal does not end on a caught signal. The read
// itself is left behind; the process is about to exit.
func (s *IOStreams) interruptible(read func() (string, error)) (string, error) {
	if s.interrupt == nil {
		return read()
	}
	type answer struct {
		line string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		line, err := read()
		done <- answer{line, err}
	}()
	select {
	case a := <-done:
		return a.line, a.err
	case <-s.interrupt:
		fmt.Fprintln(s.ErrOut)
		return "", context.Canceled
	}
}

// readSecret reads one line without echoing it when stdin is a terminal (a card number
// typed there stays off the screen and out of the shell history), or a plain line from
// stdin otherwise.
func (s *IOStreams) readSecret(question string) (string, error) {
	if !s.stdinTTY {
		return s.readLine()
	}
	f, ok := s.In.(interface{ Fd() uintptr })
	if !ok {
		return s.readLine()
	}
	fmt.Fprintf(s.ErrOut, "%s: ", printable(question))
	line, err := s.interruptible(func() (string, error) {
		b, err := term.ReadPassword(int(f.Fd()))
		return string(b), err
	})
	fmt.Fprintln(s.ErrOut)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return "", err
		}
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// confirm asks a yes/no question; no is the default. flag names the flag that answers it
// in scripts.
func confirm(io *IOStreams, question, flag string) (bool, error) {
	if !io.CanPrompt() {
		return false, Usagef("%s: no terminal to ask on; pass %s", question, flag)
	}
	fmt.Fprintf(io.ErrOut, "%s [y/N] ", printable(question))
	ans, err := io.readLine()
	if err != nil {
		return false, err
	}
	switch strings.ToLower(ans) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// ask asks for a line of text, which must not be empty.
func ask(io *IOStreams, question, flag string) (string, error) {
	if !io.CanPrompt() {
		return "", Usagef("%s: no terminal to ask on; pass %s", question, flag)
	}
	for range 3 {
		fmt.Fprintf(io.ErrOut, "%s: ", printable(question))
		ans, err := io.readLine()
		if err != nil {
			return "", err
		}
		if ans != "" {
			return ans, nil
		}
	}
	return "", Usagef("%s: no answer given", question)
}

// choose shows numbered options and returns the index of the one picked.
func choose(io *IOStreams, question, flag string, options []string) (int, error) {
	if !io.CanPrompt() {
		return 0, Usagef("%s: no terminal to ask on; pass %s", question, flag)
	}
	if len(options) == 0 {
		return 0, errors.New("nothing to choose from")
	}
	fmt.Fprintln(io.ErrOut, printable(question))
	for i, o := range options {
		fmt.Fprintf(io.ErrOut, "  %d) %s\n", i+1, printable(o))
	}
	for range 3 {
		fmt.Fprintf(io.ErrOut, "Number [1-%d]: ", len(options))
		ans, err := io.readLine()
		if err != nil {
			return 0, err
		}
		if n, err := strconv.Atoi(ans); err == nil && n >= 1 && n <= len(options) {
			return n - 1, nil
		}
		fmt.Fprintf(io.ErrOut, "%q is not a number from 1 to %d\n", printable(ans), len(options))
	}
	return 0, Usagef("%s: no valid choice given", question)
}
