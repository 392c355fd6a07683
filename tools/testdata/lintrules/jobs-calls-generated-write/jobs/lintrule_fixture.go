package jobs

import (
	"context"

	"github.com/bulwarkdb/bulwark/db"
)

// lintRuleFixture breaks the jobs rule: a job writing through a generated
// transition instead of a domain service.
func lintRuleFixture(ctx context.Context, conn db.DBTX) error {
	_, err := db.New().PrincipalCreate(ctx, conn, db.PrincipalCreateParams{})
	return err
}
