package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// errHelp: -h was asked for and the usage printed.
var errHelp = errors.New("help shown")

// parse parses a command's flags and its one KEY argument (flags may come
// before or after it).
func parse(fs *flag.FlagSet, args []string, stderr io.Writer, synopsis string) (string, error) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: consulelect %s\n", synopsis)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", errHelp
		}
		return "", usageError{err.Error()}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return "", usageError{"KEY is required"}
	}
	key := rest[0]
	if err := fs.Parse(rest[1:]); err != nil { // flags after KEY
		if errors.Is(err, flag.ErrHelp) {
			return "", errHelp
		}
		return "", usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return "", usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return key, nil
}
