package bench

import "context"

// rawImpl is one UPDATE with no checks at all: the ceiling on throughput,
// and what a job or a hurried script does when nothing stops it. Only the
// copy's constraints can refuse it.
type rawImpl struct {
	copyTable
}

func (r *rawImpl) do(ctx context.Context, req request) (Snapshot, error) {
	return r.write(ctx, req)
}
