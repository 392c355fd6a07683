package auditlog

// SetAfterPoll makes Follow call f after each poll, so a test can tell
// that a poll happened while it held a transaction open.
func SetAfterPoll(o *FollowOpts, f func()) { o.afterPoll = f }
