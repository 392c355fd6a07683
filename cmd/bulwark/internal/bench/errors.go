package bench

import "errors"

// ErrInvalidOptions reports [RunOpts] that [Run] cannot use, such as a
// client count of zero. Run returns it before it connects; retrying with
// the same options cannot help.
var ErrInvalidOptions = errors.New("bench: invalid options")

// ErrNotDurable reports that [RunOpts].Durable asked for a durable server
// and the server has fsync or full_page_writes off. Run returns it before
// it creates anything; use a server configured for durability.
var ErrNotDurable = errors.New("bench: the server is not durable")
