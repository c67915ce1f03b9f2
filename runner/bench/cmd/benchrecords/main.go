// Command benchrecords writes the bench's demo records as JSONL: n records,
// event times 50 ms apart from a fixed start, the same for the same seed.
// `make profile` replays them through `vigil replay` under the profiler.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/vigil-risk/vigil/runner/bench"
)

func main() {
	n := flag.Int("n", 100000, "records")
	seed := flag.Int64("seed", 42, "random seed")
	fraud := flag.Float64("fraud-rate", 0.03, "share of records with an injected pattern")
	flag.Parse()
	w := bufio.NewWriter(os.Stdout)
	if _, err := w.Write(bench.Records(*n, *seed, *fraud)); err != nil {
		fmt.Fprintln(os.Stderr, "benchrecords:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "benchrecords:", err)
		os.Exit(1)
	}
}
