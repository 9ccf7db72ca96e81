package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestUntilAnswered: a call that gets no answer is asked again until it
// does; a stop says it was a stop (context.Canceled), which the commands
// tell from giving up; an answer that is an error ends the wait.
func TestUntilAnswered(t *testing.T) {
	ctx := context.Background()
	tries := 0
	err := UntilAnswered(ctx, slog.Default(), "twice unanswered", func(ctx context.Context) error {
		if tries++; tries < 3 {
			return context.DeadlineExceeded
		}
		return nil
	})
	if err != nil || tries != 3 {
		t.Errorf("unanswered twice: %v after %d tries, want nil after 3", err, tries)
	}

	stop, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	err = UntilAnswered(stop, slog.Default(), "stopped", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("a stopped wait: %v, want context.Canceled", err)
	}

	for _, answer := range []error{
		&jetstream.APIError{Code: 400, ErrorCode: 10058, Description: "stream name already in use with a different configuration"},
		fmt.Errorf("create: %w", nats.ErrPermissionViolation),
		jetstream.ErrJetStreamNotEnabled,
	} {
		tries = 0
		err = UntilAnswered(ctx, slog.Default(), "refused", func(ctx context.Context) error { tries++; return answer })
		if !errors.Is(err, answer) || tries != 1 {
			t.Errorf("an answer (%v): %v after %d tries, want it at once", answer, err, tries)
		}
	}
}
