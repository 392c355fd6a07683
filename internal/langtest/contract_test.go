package langtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/db"
	"github.com/bulwarkdb/bulwark/fault"
)

// TestContract meets every SQLSTATE of the contract on the German server,
// through the generated queries (and, where the database is what refuses
// a service call, through the article service), and checks the layer and
// code db.InterpretError gives it and the message the caller sees:
// bulwark's own sentence where bulwark raised the error, the db layer's
// where the server did, never the server's German.
func TestContract(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	w := newWorld(t)

	t.Run("BWP01", func(t *testing.T) {
		t.Parallel()

		_, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.nobody, Title: "Titel", Body: "Text."})
		requireRefused(t, err, db.SQLStateMissingCapability, fault.LayerPermission, fault.CodeMissingCapability).
			requireOwnMessage(t, "lacks capability article.create")
	})

	t.Run("BWI01", func(t *testing.T) {
		t.Parallel()

		a := w.draft(t, w.alice)
		_, err := w.q.ArticleApprove(ctx, w.pool, db.ArticleApproveParams{Actor: w.erin, ID: a.ID, ExpectedVersion: a.Version})
		requireRefused(t, err, db.SQLStateIllegalTransition, fault.LayerInvariant, fault.CodeIllegalTransition).
			requireOwnMessage(t, "cannot approve")
	})

	t.Run("BWI02", func(t *testing.T) {
		t.Parallel()

		a := w.published(t)
		_, err := w.q.ArticleEdit(ctx, w.pool, db.ArticleEditParams{Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version, Title: ptr("Neu")})
		requireRefused(t, err, db.SQLStateFrozen, fault.LayerInvariant, fault.CodeFrozen).
			requireOwnMessage(t, "only a draft can be edited")
	})

	t.Run("BWI03", func(t *testing.T) {
		t.Parallel()

		// Approved without a slug or summary: publishing needs both.
		a, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.alice, Title: "Titel", Body: "Text."})
		require.NoError(t, err)
		a, err = w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version})
		require.NoError(t, err)
		a, err = w.q.ArticleApprove(ctx, w.pool, db.ArticleApproveParams{Actor: w.erin, ID: a.ID, ExpectedVersion: a.Version})
		require.NoError(t, err)
		_, err = w.q.ArticlePublish(ctx, w.pool, db.ArticlePublishParams{Actor: w.pat, ID: a.ID, ExpectedVersion: a.Version})
		requireRefused(t, err, db.SQLStatePreconditionFailed, fault.LayerInvariant, fault.CodePreconditionFailed).
			requireOwnMessage(t, "needs a title, slug and summary to be published")
	})

	t.Run("BWI04", func(t *testing.T) {
		t.Parallel()

		// As the migration role, which owns everything: the privileges
		// allow the write, the guard refuses it.
		a := w.draft(t, w.alice)
		_, err := w.pool.Exec(ctx, "UPDATE app.articles SET state = 'in_review' WHERE id = $1", a.ID)
		requireRefused(t, err, db.SQLStateDirectWrite, fault.LayerInvariant, fault.CodeDirectWrite).
			requireOwnMessage(t, "outside a transition function")
	})

	t.Run("BWI05", func(t *testing.T) {
		t.Parallel()

		a := w.inReview(t, w.sneaky)
		_, err := w.q.ArticleApprove(ctx, w.pool, db.ArticleApproveParams{Actor: w.sneaky, ID: a.ID, ExpectedVersion: a.Version})
		requireRefused(t, err, db.SQLStateSeparationOfDuties, fault.LayerInvariant, fault.CodeSeparationOfDuties).
			requireOwnMessage(t, "the author cannot approve their own article")
	})

	t.Run("BWC01", func(t *testing.T) {
		t.Parallel()

		a := w.draft(t, w.alice)
		_, err := w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: a.ID, ExpectedVersion: a.Version - 1})
		r := requireRefused(t, err, db.SQLStateStaleVersion, fault.LayerConflict, fault.CodeStaleVersion)
		r.requireOwnMessage(t, "is at version")
		require.True(t, r.err.Retryable())
	})

	t.Run("BWC02", func(t *testing.T) {
		t.Parallel()

		key := "vertrag-" + uuid.NewString()
		_, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.alice, Title: "Erster", Body: "Text.", IdemKey: &key})
		require.NoError(t, err)
		_, err = w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.alice, Title: "Zweiter", Body: "Text.", IdemKey: &key})
		r := requireRefused(t, err, db.SQLStateIdempotencyKeyReused, fault.LayerConflict, fault.CodeIdempotencyKeyReused)
		r.requireOwnMessage(t, "idempotency key reused with different arguments")
		require.False(t, r.err.Retryable())
	})

	t.Run("BWC02ThroughService", func(t *testing.T) {
		t.Parallel()

		// The gate takes a used key for a replay and lets the database
		// decide: the refusal reaches the service's caller as an authz
		// error carrying bulwark's sentence.
		key := "dienst-" + uuid.NewString()
		_, err := w.svc.Create(ctx, w.alice, articles.CreateRequest{Title: "Erster", Body: "Text.", IdemKey: key}, nil)
		require.NoError(t, err)
		_, err = w.svc.Create(ctx, w.alice, articles.CreateRequest{Title: "Zweiter", Body: "Text.", IdemKey: key}, nil)
		var e *fault.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, fault.LayerConflict, e.Layer)
		require.Equal(t, fault.CodeIdempotencyKeyReused, e.Code)
		require.ErrorIs(t, err, fault.ErrConflict)
		require.False(t, fault.IsRetryable(err))
		requireRefused(t, err, db.SQLStateIdempotencyKeyReused, fault.LayerConflict, fault.CodeIdempotencyKeyReused).
			requireOwnMessage(t, "idempotency key reused with different arguments")
	})

	t.Run("BWN01", func(t *testing.T) {
		t.Parallel()

		_, err := w.q.ArticleSubmit(ctx, w.pool, db.ArticleSubmitParams{Actor: w.alice, ID: uuid.New(), ExpectedVersion: 1})
		requireRefused(t, err, db.SQLStateNotFound, fault.LayerNotFound, fault.CodeNotFound).
			requireOwnMessage(t, "no article")
	})

	t.Run("Class22ByBulwark", func(t *testing.T) {
		t.Parallel()

		_, err := w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.alice, Title: strings.Repeat("x", 301), Body: "Text."})
		requireRefused(t, err, pgerrcode.StringDataRightTruncationDataException, fault.LayerInvalid, fault.CodeTooLong).
			requireOwnMessage(t, "title is longer than 300 characters")

		_, err = w.q.ArticleCreate(ctx, w.pool, db.ArticleCreateParams{Actor: w.alice, Title: " ", Body: "Text."})
		requireRefused(t, err, pgerrcode.InvalidParameterValue, fault.LayerInvalid, fault.CodeInvalidInput).
			requireOwnMessage(t, "an article needs a title")
	})

	t.Run("Class22ByServer", func(t *testing.T) {
		t.Parallel()

		// A negative page size reaches LIMIT, which the server refuses in
		// its own words.
		_, err := w.q.ArticleListByState(ctx, w.pool, db.ArticleListByStateParams{State: "draft", MaxRows: -1})
		requireRefused(t, err, pgerrcode.InvalidRowCountInLimitClause, fault.LayerInvalid, fault.CodeInvalidInput).
			requireLayerMessage(t, "the database refused a malformed value")

		// So does format() with a bad conversion: the SQLSTATE is one
		// bulwark raises too.
		var s string
		err = w.pool.QueryRow(ctx, "SELECT pg_catalog.format('%z', 1)").Scan(&s)
		requireRefused(t, err, pgerrcode.InvalidParameterValue, fault.LayerInvalid, fault.CodeInvalidInput).
			requireLayerMessage(t, "the database refused a malformed value")
	})

	t.Run("Class23", func(t *testing.T) {
		t.Parallel()

		boot, err := w.q.PrincipalGetByName(ctx, w.pool, "bootstrap")
		require.NoError(t, err)
		conflicts, err := db.LoadConflicts(ctx, w.pool)
		require.NoError(t, err)
		_, err = w.q.PrincipalCreate(ctx, w.pool, db.PrincipalCreateParams{Actor: boot.ID, Kind: "human", Name: "alice"})
		r := requireRefusedWith(t, conflicts, err, pgerrcode.UniqueViolation, fault.LayerConflict, fault.CodeNameTaken)
		r.requireLayerMessage(t, "a principal with that name exists")
		require.Equal(t, "principal_name_unique", r.err.Constraint)

		// Under the owner's maintenance switch the guard lets the write
		// through, and a constraint refuses it.
		a := w.draft(t, w.alice)
		err = pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT bulwark.maintenance_begin('langtest: a constraint in German')"); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "UPDATE app.articles SET approved_by = author_id WHERE id = $1", a.ID)
			return err
		})
		r = requireRefused(t, err, pgerrcode.CheckViolation, fault.LayerInvariant, fault.CodeIntegrity)
		r.requireLayerMessage(t, "the database refused the change: constraint article_approver_not_author")
	})

	t.Run("42501", func(t *testing.T) {
		t.Parallel()

		app := dial(t, loginURL(t, w, "bulwark_app"))
		_, err := app.Exec(ctx, "INSERT INTO app.articles (author_id, title) VALUES ($1, 'direkt')", w.alice)
		requireRefused(t, err, pgerrcode.InsufficientPrivilege, fault.LayerInvariant, fault.CodeBoundaryViolation).
			requireLayerMessage(t, "the database refused a statement that goes around the transition functions")
	})
}
