// Command ingest appends events to Parley's stream, from files or over HTTP:
//
//	ingest [-nats URL] [-check] FILE... (.yaml, .json, .ndjson, a folder of them, or - for stdin)
//	ingest serve [-http ADDR] [-nats URL] [-api-token T]
//
// It prints one line per file with the records appended, duplicate and
// rejected, each rejected record with its reason, and exits 1 when any
// record was rejected.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-news/parley/internal/service"
)

func main() {
	serve := len(os.Args) > 1 && os.Args[1] == "serve"
	args := os.Args[1:]
	if serve {
		args = args[1:]
	}
	var c service.IngestConfig
	fs := flags(serve, &c)
	logFormat := fs.String("log-format", "text", "log format: text or json")
	files := parseInterspersed(fs, args)
	if serve && len(files) > 0 {
		fmt.Fprintf(os.Stderr, "ingest serve: unexpected argument %q: serve reads no files\n", files[0])
		os.Exit(2)
	}
	if err := service.CheckLogFormat(*logFormat); err != nil {
		fmt.Fprintf(os.Stderr, "ingest: %v\n", err)
		os.Exit(2)
	}
	c.Logger = service.NewLogger(os.Stderr, *logFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first interrupt lets the batch in flight finish; a second one
	// ends the process at once.
	context.AfterFunc(ctx, stop)
	if serve {
		if err := service.ServeIngest(ctx, c, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "ingest serve: %v\n", err)
			os.Exit(1)
		}
		return
	}
	ok, err := service.IngestFiles(ctx, c, files, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ingest: %v\n", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// flags are the flags of ingest, or of ingest serve, into c.
func flags(serve bool, c *service.IngestConfig) *flag.FlagSet {
	name := "ingest"
	if serve {
		name = "ingest serve"
	}
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage:
  ingest [-nats URL] [-check] FILE...    .yaml, .json, .ndjson, a folder of them, or - for stdin
  ingest serve [-http ADDR] [-nats URL] [-api-token T]

Flags of `+name+`:
`)
		fs.PrintDefaults()
	}
	natsURL := os.Getenv("PARLEY_NATS_URL")
	if natsURL == "" {
		natsURL = "nats://127.0.0.1:4222"
	}
	fs.StringVar(&c.NATSURL, "nats", natsURL, "NATS `URLs`, comma-separated (or PARLEY_NATS_URL)")
	fs.StringVar(&c.CredsFile, "creds", os.Getenv("PARLEY_NATS_CREDS"), "NATS credentials `file` (or PARLEY_NATS_CREDS)")
	fs.StringVar(&c.TLSCA, "tls-ca", os.Getenv("PARLEY_NATS_CA"), "CA `file` to verify NATS servers with (or PARLEY_NATS_CA)")
	fs.StringVar(&c.Source, "source", "", "CloudEvents source of the events (default /parley/ingest)")
	fs.StringVar(&c.VocabularyFile, "vocabulary", os.Getenv("PARLEY_VOCABULARY"), "vocabulary `file` (or PARLEY_VOCABULARY; default: the shipped one)")
	// Each mode takes only its own flags: "ingest serve -check" would
	// otherwise serve, appending what is posted, and "ingest -http ADDR
	// FILE" ignore the address without a word.
	if !serve {
		fs.BoolVar(&c.Check, "check", false, "validate only; append nothing (no NATS needed)")
		return fs
	}
	fs.StringVar(&c.HTTPAddr, "http", "127.0.0.1:8081", "listen `address`")
	fs.StringVar(&c.APIToken, "api-token", os.Getenv("PARLEY_API_TOKEN"), "bearer `token` required to post (or PARLEY_API_TOKEN)")
	fs.Int64Var(&c.MaxBody, "max-body", 8<<20, "largest body in `bytes`")
	return fs
}

// parseInterspersed parses the flags in args wherever they are, and
// returns the other arguments, the files, in order: "ingest new.yaml
// -check" checks, where flag.Parse alone would stop at the file and take
// -check for a file name, after appending new.yaml. "-" is a file
// (stdin); after "--" everything is.
func parseInterspersed(fs *flag.FlagSet, args []string) []string {
	var files []string
	for {
		fs.Parse(args)
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(files, rest...)
		}
		if len(rest) == 0 {
			return files
		}
		files = append(files, rest[0])
		args = rest[1:]
	}
}
