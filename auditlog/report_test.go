package auditlog_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bulwarkdb/bulwark/auditlog"
)

// TestWriteTextBoundsAcknowledgements writes the report of a database
// whose table was rewritten (the README's recipe acknowledges every row):
// the text lists 20 acknowledged entities and says how many there are and
// that the JSON lists more; the JSON keeps what Check listed.
func TestWriteTextBoundsAcknowledgements(t *testing.T) {
	t.Parallel()

	r := &auditlog.CheckReport{OK: true, AcknowledgementCount: 5000, Problems: []auditlog.Problem{}}
	for range 1000 {
		r.Acknowledgements = append(r.Acknowledgements, auditlog.Acknowledgement{
			AcknowledgedAt: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), DBUser: "migrator", Entity: uuid.New(),
			LogID: 7, Machine: "article", Reason: "00007 rewrote app.articles", State: "draft", Version: 3,
		})
	}
	var text bytes.Buffer
	require.NoError(t, r.WriteText(&text))
	require.Contains(t, text.String(), "5000 histories checked from its acknowledgement (bulwark.history_acknowledge), not from creation (20 listed; the JSON report lists up to 1000):")
	require.Equal(t, 20, strings.Count(text.String(), "00007 rewrote app.articles"))

	var js bytes.Buffer
	require.NoError(t, r.WriteJSON(&js))
	require.Equal(t, 1000, strings.Count(js.String(), "00007 rewrote app.articles"))
}
