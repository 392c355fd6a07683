package authz

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// stepRecorder is a StepObserver that keeps what its steps' ends report.
type stepRecorder struct {
	ends []StepResult
}

func (r *stepRecorder) Observe(context.Context, Record) {}

func (r *stepRecorder) StartCall(ctx context.Context, _ CallInfo) context.Context { return ctx }

func (r *stepRecorder) StartRetry(ctx context.Context, _ CallInfo) (context.Context, func(int, error)) {
	return ctx, func(int, error) {}
}

func (r *stepRecorder) StartStep(ctx context.Context, _ Step) (context.Context, func(StepResult)) {
	return ctx, func(res StepResult) { r.ends = append(r.ends, res) }
}

func TestStartStepReportsTheFirstEndOnly(t *testing.T) {
	t.Parallel()

	rec := &stepRecorder{}
	g := &Gate{observer: rec}
	_, step := g.startStep(context.Background(), StepSnapshot)
	step(StepResult{Replay: true})
	require.NoError(t, step.end(nil))
	_, step = g.startStep(context.Background(), StepPolicy)
	failed := errors.New("denied")
	require.ErrorIs(t, step.end(failed), failed)
	require.NoError(t, step.end(nil), "end returns its argument, reported or not")
	require.Equal(t, []StepResult{{Replay: true}, {Err: failed}}, rec.ends)

	// Without a StepObserver there is nothing to report to.
	_, step = (&Gate{observer: ObserverFunc(func(context.Context, Record) {})}).startStep(context.Background(), StepTransition)
	require.ErrorIs(t, step.end(failed), failed)
}
