package demo_test

import (
	"testing"

	"github.com/bulwarkdb/bulwark/bulwarktest"
	"github.com/bulwarkdb/bulwark/sql/schema"
)

func TestMain(m *testing.M) {
	bulwarktest.Main(m, &bulwarktest.MainOpts{Lines: schema.Examples()})
}
