package authz

import (
	"reflect"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
)

// SnapshotSource says where the gate gets the snapshot a policy decides
// on. Choose one per gate ([GateOpts].Snapshots) or per call
// ([DoOpts].Snapshot). Whichever it is, staleness ends as a conflict,
// never as a wrong write: the transition function re-checks the version
// under the row lock. And no refusal rests on it: a snapshot that is not
// the primary's and that the policy (or a pinned version) refuses is read
// again from the primary and decided again, so that a stale copy cannot
// deny what is allowed. Retries ([DoOpts].Retry) after the first attempt
// always read the primary.
type SnapshotSource interface {
	source() sourceKind
}

type sourceKind int

const (
	sourcePrimary sourceKind = iota
	sourceCache
	sourceReplica
	sourceHeld
)

type namedSource sourceKind

func (s namedSource) source() sourceKind { return sourceKind(s) }

var (
	// FromPrimary reads the snapshot from the gate's pool, together with
	// the idempotency key check, in one round trip. The default.
	FromPrimary SnapshotSource = namedSource(sourcePrimary)
	// FromCache takes the snapshot from the gate's per-process cache of
	// the entities it read and wrote (by type and id), and reads the
	// primary on a miss. A keyed call through a hit costs one round trip.
	// Another process's writes make an entry stale: its transition then
	// fails as a conflict, and the entry is dropped.
	FromCache SnapshotSource = namedSource(sourceCache)
	// FromReplica reads the snapshot from [GateOpts].Replica, a streaming
	// replica, and writes on the primary. Without a replica it reads the
	// primary.
	FromReplica SnapshotSource = namedSource(sourceReplica)
)

type heldSource[S any] struct{ snapshot S }

func (heldSource[S]) source() sourceKind { return sourceHeld }

// Held is the snapshot the caller already holds: the row it rendered, the
// entity an earlier call returned. The gate decides on it without reading,
// so a keyed call costs one round trip. It is used only by actions whose
// snapshot has its type (and, for a [Targeted] request and an [Entity]
// snapshot, only when it is of the request's target, else the call is
// invalid); any other action reads the primary. The database re-checks
// only the version: a held snapshot must come from the server's own memory
// (what it read or was answered), never from what a client sent, or a
// client could hand the policy a row with, say, another author.
func Held[S any](snapshot S) SnapshotSource { return heldSource[S]{snapshot: snapshot} }

// snapshotCache is the gate's per-process cache for [FromCache].
type snapshotCache struct {
	entries *lru.Cache[cacheKey, any]
}

type cacheKey struct {
	id  uuid.UUID
	typ reflect.Type
}

func newSnapshotCache(size int) *snapshotCache {
	entries, err := lru.New[cacheKey, any](size)
	if err != nil {
		// Only a size below 1 fails, and the gate never passes one.
		panic(err)
	}
	return &snapshotCache{entries: entries}
}

func cacheGet[S any](c *snapshotCache, id uuid.UUID) (S, bool) {
	var zero S
	if c == nil {
		return zero, false
	}
	v, ok := c.entries.Get(cacheKey{id: id, typ: reflect.TypeFor[S]()})
	if !ok {
		return zero, false
	}
	s, ok := v.(S)
	return s, ok
}

// cachePut keeps s unless the cache holds a newer version of it: two calls
// finishing out of order must not put an older row back.
func cachePut[S any](c *snapshotCache, s S) {
	e, ok := any(s).(Entity)
	if c == nil || !ok {
		return
	}
	key := cacheKey{id: e.EntityID(), typ: reflect.TypeFor[S]()}
	if old, ok := c.entries.Peek(key); ok {
		if o, ok := old.(Entity); ok && o.EntityVersion() > e.EntityVersion() {
			return
		}
	}
	c.entries.Add(key, s)
}

func cacheDrop[S any](c *snapshotCache, id uuid.UUID) {
	if c != nil {
		c.entries.Remove(cacheKey{id: id, typ: reflect.TypeFor[S]()})
	}
}
