// Package auditlog reads bulwark.transition_log for people: it lists the
// audit trail with filters, one keyset page at a time, follows it as rows
// commit, and checks it ([Check]) by replaying every guarded entity's
// history against its current row and its machine's transitions. It is
// what `bulwark log` runs.
//
// The package's rule: it only reads. Every call runs in a READ ONLY
// transaction, so it is safe against production and needs no more than
// SELECT on the log, the declarations and the guarded tables, which
// bulwark_app and bulwark_jobs hold.
//
// # Listing and paging
//
// [List] returns the entries after a log id that match a [Filter]
// (entity, actor, machine, transition, correlation id, time range),
// oldest first, and the id to pass as After for the next page: keyset
// pagination on the log's id, so a page costs the same at the end of a
// long log as at its start and nothing is skipped or repeated between
// pages of rows that had committed when the first page was read.
//
// # Following
//
// [Follow] polls with the same keyset and hands each new entry to a
// function, in id order, without ever skipping one. Ids are drawn when a
// row is written, not when it commits, so a transaction still open may yet
// commit a lower id than one already visible. Follow therefore passes an
// id only once no transaction that was running when it saw that id is
// still running (the snapshot's xmin has passed the earlier snapshot's
// xmax). A quiet database shows a row within one poll; a busy one within
// two; a transaction left open anywhere on the server (idle in
// transaction) holds everything behind it until it ends. It relies on every
// writer of the log holding a transaction id before it draws a log id,
// which holds for bulwark's writers: the audit triggers run after the
// write they record, and the maintenance functions take txid_current()
// first. There is no NOTIFY on the log; polling needs no trigger, no
// channel anyone could spoof and no dedicated connection.
//
// # Checking
//
// [Check] walks, for every guarded table (bulwark.guarded_tables), each
// entity's log rows in id order beside its current row (from its
// acknowledgement, if it has one: see below) and reports every gap
// ([Problem]):
//
//   - no_history: a row with no log row at all (written with the audit
//     trigger off).
//   - no_creation: the history does not start with a creation in the
//     machine's initial state.
//   - unlogged_change: the state moved with no log row saying so: a row
//     starts from a state the previous one did not end in, or the current
//     row is in a state the last one did not end in (a state no logged
//     transition leads to).
//   - illegal_edge: a logged state change that is not one of the machine's
//     transitions (bulwark.transitions).
//   - wrong_action: a logged action that the machine does not declare, or
//     whose kind does not fit the change (a transition that names another
//     edge, an update that moved the state).
//   - version_skipped: the row's version is not the number of log rows since
//     its creation (every write bumps the version and logs one row, so a
//     write without a log row, or a version changed by hand, shows here).
//   - missing_row: the log says the entity exists, but its row is gone
//     without a logged delete.
//
// Maintenance writes (transition maintenance_insert, maintenance_update,
// maintenance_delete) are replayed like any other: they may change columns
// and follow the machine's edges, nothing more.
//
// # Acknowledged gaps
//
// A gap that was investigated is acknowledged with
// bulwark.history_acknowledge(table, id, reason), which records the
// entity's last log row and the row's state and version in
// bulwark.history_acknowledgements. Check reads it exactly as bulwark verify
// does, so that the two give one answer: the log rows up to the
// acknowledged one are not replayed, and the history after it starts from
// the acknowledged state and version, with no creation required. An
// acknowledgement explains only what came before it. A write after it with
// no log row (the version moves past the acknowledged version plus the log
// rows since), a state change with no log row, an illegal edge, a row gone
// without a logged delete: each is a gap again, reported at the
// acknowledged log row when no log row follows it. A row with no log row at
// all that was acknowledged is not no_history. The report lists each
// acknowledged entity ([CheckReport].Acknowledgements, with who, when and
// why) and counts them per machine, so an OK says which histories it
// vouches for only since an acknowledgement.
package auditlog
