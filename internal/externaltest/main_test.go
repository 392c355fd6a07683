package externaltest_test

import (
	"testing"

	"github.com/bulwarkdb/bulwark/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
