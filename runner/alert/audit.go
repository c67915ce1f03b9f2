package alert

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// The audit trail is a hash chain: each event's Hash covers its canonical
// encoding and the Hash of the event before it, written in the transaction
// that appends it. Editing an event breaks its own hash; deleting one breaks
// the next event's PrevHash and leaves a gap in the IDs (they are never
// reused). `vigil audit verify` walks the chain with a Chain.

// chainDomain starts every hashed encoding, so that a hash from this chain
// cannot be mistaken for one of anything else.
const chainDomain = "vigil-audit-v1"

// chainTimeLayout is the event time as hashed: RFC 3339 in UTC with nine
// fractional digits, exactly as the store keeps it.
const chainTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// ChainHash returns the Hash an event must carry: hex SHA-256 over the
// domain and each field — id, alert id, kind, actor, time, comment, data,
// previous hash — each prefixed by its length, so that no two different
// events encode alike.
func ChainHash(e *Event) string {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	field := func(b []byte) {
		h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(b)))])
		h.Write(b)
	}
	num := func(n int64) { h.Write(buf[:binary.PutVarint(buf[:], n)]) }
	field([]byte(chainDomain))
	num(e.ID)
	num(e.AlertID)
	field([]byte(e.Kind))
	field([]byte(e.Actor))
	field([]byte(e.Time.UTC().Format(chainTimeLayout)))
	field([]byte(e.Comment))
	field(e.Data)
	field([]byte(e.PrevHash))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// ChainError names the first event at which the chain breaks.
type ChainError struct {
	EventID int64
	AlertID int64 // 0 when the event is gone
	Reason  string
}

func (e *ChainError) Error() string {
	if e.AlertID == 0 {
		return fmt.Sprintf("audit chain broken at event %d: %s", e.EventID, e.Reason)
	}
	return fmt.Sprintf("audit chain broken at event %d (alert %d): %s", e.EventID, e.AlertID, e.Reason)
}

// Chain checks events one after another, in ID order.
type Chain struct {
	lastID   int64
	lastHash string
	n        int
}

// ResumeChain continues a chain after an event already verified (or
// anchored elsewhere): its ID and Hash.
func ResumeChain(lastID int64, lastHash string) *Chain {
	return &Chain{lastID: lastID, lastHash: lastHash, n: 1}
}

// Add checks the next event: it must follow the previous one without a gap,
// point at its hash, and match its own.
func (c *Chain) Add(e *Event) error {
	bad := func(format string, args ...any) error {
		return &ChainError{EventID: e.ID, AlertID: e.AlertID, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.n == 0 && e.ID != 1 && e.PrevHash == "":
		// The first event kept is not the first ever written.
		return bad("events 1 to %d are missing (deleted)", e.ID-1)
	case c.n > 0 && e.ID != c.lastID+1:
		return bad("events %d to %d are missing (deleted)", c.lastID+1, e.ID-1)
	case e.Hash == "":
		return bad("it carries no hash (written around the chain)")
	case e.PrevHash != c.lastHash && c.n == 0:
		return bad("it points at an earlier event that is missing (deleted)")
	case e.PrevHash != c.lastHash:
		return bad("its prev_hash does not match the hash of event %d (an event before it was edited or replaced)", c.lastID)
	case ChainHash(e) != e.Hash:
		return bad("its contents do not match its hash (edited)")
	}
	c.lastID, c.lastHash = e.ID, e.Hash
	c.n++
	return nil
}

// Head is the last event checked: its ID and Hash (zero before any). Keep
// it somewhere else to notice, later, that the newest events were deleted.
func (c *Chain) Head() (int64, string) { return c.lastID, c.lastHash }

// Len is how many events Add accepted, a resumed chain's anchor included.
func (c *Chain) Len() int { return c.n }
