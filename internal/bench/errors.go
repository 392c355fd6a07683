package bench

import "errors"

// ErrInvalidOptions reports [RunOpts] that [Run] cannot use, such as a
// client count of zero. Run returns it before it connects; retrying with
// the same options cannot help.
var ErrInvalidOptions = errors.New("bench: invalid options")
