// Command vigil is the Vigil runner and its tools: run the pipeline, replay
// files, test the policies, handle alerts.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultGOGC trades a larger heap for less collection: the per-record path
// makes short-lived garbage only, the live heap is small, and at the default
// of 100 the collector cost ~20% of throughput and most of /v1/decide's p99
// (docs/performance.md). GOGC in the environment still decides.
const defaultGOGC = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], nil, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs the CLI and returns the exit code. Every failure is one line
// on stderr: "vigil: <what went wrong>". environ is the environment the
// configuration reads (nil: the process's).
func execute(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr, environ)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		if e, ok := err.(exitError); ok {
			return e.code
		}
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return 1
	}
	return 0
}

// exitError ends the command with a code after the command printed its own report.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
