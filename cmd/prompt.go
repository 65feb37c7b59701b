package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Prompts ask on stderr and read stdin, and only on a terminal: a script answers every
// question with a flag, and a missing answer is a usage error naming that flag.

// readLine reads one answer from stdin; one buffered reader serves every prompt of the
// invocation, so no typed-ahead input is lost between two questions.
func (s *IOStreams) readLine() (string, error) {
	if s.inReader == nil {
		s.inReader = bufio.NewReader(s.In)
	}
	line, err := s.inReader.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", Usagef("no answer on standard input")
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
	fmt.Fprintf(io.ErrOut, "%s [y/N] ", question)
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
		fmt.Fprintf(io.ErrOut, "%s: ", question)
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
	fmt.Fprintln(io.ErrOut, question)
	for i, o := range options {
		fmt.Fprintf(io.ErrOut, "  %d) %s\n", i+1, o)
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
		fmt.Fprintf(io.ErrOut, "%q is not a number from 1 to %d\n", ans, len(options))
	}
	return 0, Usagef("%s: no valid choice given", question)
}
