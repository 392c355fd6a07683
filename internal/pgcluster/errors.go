package pgcluster

import "errors"

// ErrNoBinaries reports that the PostgreSQL server binaries (initdb, pg_ctl,
// postgres) could not be found. [Start] and [FindBinDir] return it wrapped
// with the directories they searched. Retrying cannot help until the binaries
// are installed, for example with `apt-get install postgresql`.
var ErrNoBinaries = errors.New("pgcluster: PostgreSQL server binaries not found")
