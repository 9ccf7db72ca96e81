// Command parleybench measures Parley against the raw engine in one run
// and prints a table with the ratios (and, with -json, every figure as one
// flat JSON object). docs/performance.md says how to read it.
//
//	parleybench [-quick] [-only append,visible,fanout,query,rebuild] [-n N] [-append-n N]
//	            [-json FILE] [-dir DIR] [-timeout D] [-rebuild-cpuprofile FILE]
//	            [-query-cpuprofile FILE] [-query-memprofile FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/parley-news/parley/internal/bench"
)

func main() {
	quick := flag.Bool("quick", false, "a run of about a minute")
	only := flag.String("only", "", "comma-separated scenarios: append, visible, fanout, query, rebuild")
	n := flag.Int("n", 0, "events for rebuild and the largest query size (default 1,000,000; 50,000 quick)")
	appendN := flag.Int("append-n", 0, "events for the append figures")
	jsonOut := flag.String("json", os.Getenv("BENCH_JSON"), "also write every figure to this JSON `file`")
	dir := flag.String("dir", "", "data folder (default: a temporary one, removed after)")
	rebuildProfile := flag.String("rebuild-cpuprofile", "", "write a CPU profile of the rebuild process to `file`")
	queryCPU := flag.String("query-cpuprofile", "", "write a CPU profile of the query phase at the largest size to `file`")
	queryHeap := flag.String("query-memprofile", "", "write a heap profile at the end of the query phase at the largest size to `file`")
	timeout := flag.Duration("timeout", 0, "fail the run after this long (default 30m; 5m quick)")
	flag.Parse()
	cfg := bench.Default()
	if *quick {
		cfg = bench.Quick()
	}
	if *timeout > 0 {
		cfg.Timeout = *timeout
	}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	if *n > 0 {
		cfg = cfg.WithN(*n)
	}
	if *appendN > 0 {
		cfg.AppendN = *appendN
	}
	cfg.Dir, cfg.Progress, cfg.RebuildProfile = *dir, os.Stderr, *rebuildProfile
	cfg.QueryCPUProfile, cfg.QueryHeapProfile = *queryCPU, *queryHeap
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := bench.Run(ctx, cfg)
	bench.Table(os.Stdout, res)
	if *jsonOut != "" {
		if werr := bench.WriteJSON(*jsonOut, res); werr != nil {
			fmt.Fprintln(os.Stderr, "parleybench:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "parleybench:", err)
		os.Exit(1)
	}
}
