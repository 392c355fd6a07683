package fault

// Breaks fault-is-a-leaf: the leaf reaching into bulwark.
import _ "github.com/bulwarkdb/bulwark/internal/pgcluster"
