// Command projector builds Parley's read model from the stream into bbolt
// and serves it over HTTP; with no -nats it runs NATS embedded. Its
// subcommands rebuild the read model and replay it without a server:
//
//	projector [-data DIR] [-http ADDR] [-nats URL] [-seed]
//	projector rebuild -data DIR [-nats URL]
//	projector state -data DIR [-at T] [-known-at R] [-json]
//	projector history -data DIR -issue ISSUE [-party P] [-known-at R] [-json]
//	projector diff -data DIR -from T1 -to T2 [-known-at R] [-json]
//	projector dump -data DIR [-sum]
//
// Every command takes -cpuprofile FILE, for go tool pprof.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/parley-news/parley/internal/feed"
	"github.com/parley-news/parley/internal/procstat"
	"github.com/parley-news/parley/internal/service"
)

const usage = `Usage:
  projector [-data DIR] [-http ADDR] [-nats URL] [-seed]    serve (the default)
  projector rebuild -data DIR [-nats URL]
  projector state -data DIR [-at T] [-known-at R] [-json]
  projector history -data DIR -issue ISSUE [-party P] [-known-at R] [-json]
  projector diff -data DIR -from T1 -to T2 [-known-at R] [-json]
  projector dump -data DIR [-sum]                     the canonical dump, to compare replicas
Run "projector COMMAND -h" for a command's flags.
`

func main() {
	cmd, args := "serve", os.Args[1:]
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" {
		fmt.Print(usage + "Every command's flags: docs/cli.md.\n")
		return
	}
	fs := flag.NewFlagSet("projector "+cmd, flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fmt.Fprintf(fs.Output(), "\nFlags of projector %s:\n", cmd)
		fs.PrintDefaults()
	}
	var c service.Config
	var q service.ReplayQuery
	fs.StringVar(&c.DataDir, "data", "var/parley", "data `folder`: the read model and, embedded, the JetStream store")
	if cmd == "serve" || cmd == "rebuild" {
		// The replay commands read the bbolt file alone: no stream flags.
		fs.StringVar(&c.NATSURL, "nats", os.Getenv("PARLEY_NATS_URL"), "NATS `URLs`, comma-separated (or PARLEY_NATS_URL); empty runs NATS embedded")
		fs.StringVar(&c.CredsFile, "creds", os.Getenv("PARLEY_NATS_CREDS"), "NATS credentials `file` (or PARLEY_NATS_CREDS)")
		fs.StringVar(&c.TLSCA, "tls-ca", os.Getenv("PARLEY_NATS_CA"), "CA `file` to verify NATS servers with (or PARLEY_NATS_CA)")
	}
	fs.StringVar(&c.VocabularyFile, "vocabulary", os.Getenv("PARLEY_VOCABULARY"), "vocabulary `file` (or PARLEY_VOCABULARY; default: the shipped one)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the command to `file` (go tool pprof)")
	switch cmd {
	case "serve":
		fs.StringVar(&c.HTTPAddr, "http", service.DefaultHTTPAddr, "HTTP listen `address`")
		fs.StringVar(&c.NATSListen, "nats-listen", "127.0.0.1:4222", "embedded NATS listen `address`")
		fs.BoolVar(&c.Seed, "seed", false, "append the shipped seed timeline at start")
		fs.StringVar(&c.APIToken, "api-token", os.Getenv("PARLEY_API_TOKEN"), "bearer `token` for write endpoints (or PARLEY_API_TOKEN)")
		fs.StringVar(&c.PublicURL, "public-url", os.Getenv("PARLEY_PUBLIC_URL"), "the `URL` readers reach the service at, for the feeds' links (or PARLEY_PUBLIC_URL; default: each request's host)")
		fs.StringVar(&c.FeedTitle, "feed-title", os.Getenv("PARLEY_FEED_TITLE"), "`title` of the Atom and JSON feeds (or PARLEY_FEED_TITLE; default Parley)")
		fs.StringVar(&c.FeedID, "feed-id", os.Getenv("PARLEY_FEED_ID"), "`URI` the feeds' ids start with, your own for each negotiation followed (or PARLEY_FEED_ID; default "+feed.DefaultIDPrefix+")")
		fs.IntVar(&c.FeedMaxStreams, "feed-max-streams", envInt("PARLEY_FEED_MAX_STREAMS"), "live-feed `streams` served at once; past it a reader is asked to come back (or PARLEY_FEED_MAX_STREAMS; default "+strconv.Itoa(feed.DefaultMaxClients)+")")
		fs.BoolVar(&c.PrivateReads, "private-reads", false, "require the API token for reads too")
		fs.Func("cors-origins", "comma-separated `origins` whose pages may read the API and feeds from another site, or * (or PARLEY_CORS_ORIGINS; default none)", func(v string) error {
			c.CORSOrigins = splitList(v)
			return nil
		})
		c.CORSOrigins = splitList(os.Getenv("PARLEY_CORS_ORIGINS"))
		fs.BoolVar(&c.WebhookAllowLoopback, "webhook-allow-loopback", false, "allow webhook deliveries to 127.0.0.1 (local testing)")
	case "state", "history", "diff":
		// Each command takes only its own flags: one that would be
		// ignored (history -at) is an error instead.
		switch cmd {
		case "state":
			fs.StringVar(&q.At, "at", "", "event time `T`: a date or RFC 3339 time")
		case "history":
			fs.StringVar(&q.Issue, "issue", "", "issue id")
			fs.StringVar(&q.Party, "party", "", "party id")
		case "diff":
			fs.StringVar(&q.From, "from", "", "from event time: a date stands for its start")
			fs.StringVar(&q.To, "to", "", "to event time: a date stands for its end")
		}
		fs.StringVar(&q.KnownAt, "known-at", "", "count only what was recorded by `R`")
		fs.BoolVar(&q.JSON, "json", false, "print JSON instead of a table")
	case "dump":
		fs.BoolVar(&q.Sum, "sum", false, "print only the checkpoint and the dump's SHA-256")
	case "rebuild":
	default:
		fmt.Fprintf(os.Stderr, "projector: unknown command %q (serve, rebuild, state, history, diff, dump)\n", cmd)
		os.Exit(2)
	}
	fs.Parse(args)
	if fs.NArg() > 0 {
		// "projector -data D rebuild" would otherwise serve.
		fmt.Fprintf(os.Stderr, "projector %s: unexpected argument %q: the command comes first, then its flags (projector %s -data DIR ...)\n", cmd, fs.Arg(0), cmd)
		if slices.Contains([]string{"serve", "rebuild", "state", "history", "diff", "dump"}, fs.Arg(0)) {
			fmt.Fprintf(os.Stderr, "did you mean: projector %s %s\n", fs.Arg(0), strings.Join(args[:len(args)-fs.NArg()], " "))
		}
		os.Exit(2)
	}
	if err := service.CheckLogFormat(*logFormat); err != nil {
		fmt.Fprintf(os.Stderr, "projector %s: %v\n", cmd, err)
		os.Exit(2)
	}
	c.Logger = service.NewLogger(os.Stderr, *logFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile := func() {}
	var err error
	if *cpuProfile != "" {
		if stopProfile, err = procstat.CPUProfile(*cpuProfile); err != nil {
			fmt.Fprintf(os.Stderr, "projector %s: %v\n", cmd, err)
			os.Exit(1)
		}
	}
	switch cmd {
	case "serve":
		err = service.Run(ctx, c)
	case "rebuild":
		_, err = service.Rebuild(ctx, c)
	case "dump":
		err = service.Dump(ctx, c, q.Sum, os.Stdout)
	default:
		err = service.Replay(ctx, c, cmd, q, os.Stdout)
	}
	stopProfile()
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Stopped by a signal in the middle (a rebuild at start, say): what
		// was asked, and the read model is as it was before.
		fmt.Fprintf(os.Stderr, "projector %s: stopped before it finished (%v); the read model is as it was\n", cmd, err)
		if cmd == "serve" {
			os.Exit(0)
		}
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "projector %s: %v\n", cmd, err)
		if usage := (*service.UsageError)(nil); errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// envInt is the whole number in the environment variable name, 0 when it
// is unset; anything else ends the command, naming the variable.
func envInt(name string) int {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "projector: %s=%q: not a whole number\n", name, v)
		os.Exit(2)
	}
	return n
}

// splitList is a comma-separated list without its blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
