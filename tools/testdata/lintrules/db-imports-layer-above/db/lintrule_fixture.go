package db

// Breaks db-knows-no-layer-above: the generated seam reaching a layer above it.
import _ "github.com/bulwarkdb/bulwark/verify"
