package feature

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// A snapshot holds the engine's whole state: the watermark, the remembered
// record ids and every entity's series, so that an engine restored from it
// goes on exactly — bit for bit — as the one that wrote it would have:
//
//	magic "VGLFEAT\x00" · version uvarint (1) · specs hash string ·
//	watermark varint · ids uvarint · per id: id string, event time varint ·
//	per entity: length uvarint (> 0), entity (see codec.go) · 0 ·
//	CRC-32C of everything before, 4 bytes little endian
const (
	snapshotMagic   = "VGLFEAT\x00"
	snapshotVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot writes the state to w. Apply waits while it writes, so the
// snapshot is consistent. Only series of the specs in force are written.
func (e *Engine) Snapshot(w io.Writer) error {
	e.gate.Lock()
	defer e.gate.Unlock()
	p := e.plan.Load()
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16)
	enc := &encoder{b: make([]byte, 0, 4096)}

	enc.b = append(enc.b, snapshotMagic...)
	enc.uvarint(snapshotVersion)
	enc.str(p.specs.Hash())
	enc.varint(e.wm.Load())
	ids := 0
	e.dedup.each(func(string, int64) { ids++ })
	enc.uvarint(uint64(ids))
	e.dedup.each(func(id string, t int64) {
		enc.str(id)
		enc.varint(t)
	})
	if _, err := bw.Write(enc.b); err != nil {
		return fmt.Errorf("feature snapshot: %w", err)
	}

	var body encoder
	keep := func(id uint64) bool { _, ok := p.series[id]; return ok }
	err := e.store.Range(func(ent *Entity) error {
		body.b = body.b[:0]
		ent.encode(&body, keep)
		enc.b = binary.AppendUvarint(enc.b[:0], uint64(len(body.b)))
		if _, err := bw.Write(enc.b); err != nil {
			return err
		}
		_, err := bw.Write(body.b)
		return err
	})
	if err == nil {
		err = bw.WriteByte(0)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		_, err = w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	}
	if err != nil {
		return fmt.Errorf("feature snapshot: %w", err)
	}
	return nil
}

// Restore replaces the state with a snapshot's. Series the specs in force
// no longer have are dropped (and logged); the rest, and the watermark and
// remembered ids, are restored as they were. A snapshot that is truncated
// or corrupt is refused whole, leaving the state as it was.
func (e *Engine) Restore(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("feature restore: %w", err)
	}
	if len(data) < len(snapshotMagic)+4 || !bytes.HasPrefix(data, []byte(snapshotMagic)) {
		return errors.New("feature restore: not a feature snapshot")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("feature restore: %w: checksum mismatch (truncated or damaged file)", errCorrupt)
	}
	d := &decoder{b: body[len(snapshotMagic):]}
	if v := d.uvarint(); d.err == nil && v != snapshotVersion {
		return fmt.Errorf("feature restore: snapshot version %d is not supported (want %d)", v, snapshotVersion)
	}
	specsHash := d.str()
	wm := d.varint()
	type idAt struct {
		id string
		t  int64
	}
	ids := make([]idAt, d.count(2))
	for i := range ids {
		ids[i] = idAt{d.str(), d.varint()}
	}

	e.gate.Lock()
	defer e.gate.Unlock()
	p := e.plan.Load()
	var (
		entities                       []*Entity
		kept, dropped, droppedEntities int
		droppedSeries                  = map[uint64]bool{}
	)
	for d.err == nil {
		n := d.uvarint()
		if n == 0 {
			break
		}
		ent, err := decodeEntity(&decoder{b: d.take(n)})
		if err != nil {
			return fmt.Errorf("feature restore: %w", err)
		}
		slots := ent.slots[:0]
		for _, sl := range ent.slots {
			if sp, ok := p.series[sl.id]; ok && sp.kind == kindOf(sl.s) {
				slots = append(slots, sl)
				kept++
			} else {
				dropped++
				droppedSeries[sl.id] = true
			}
		}
		ent.slots = slots
		if ent.Empty() {
			droppedEntities++
			continue
		}
		entities = append(entities, ent)
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes after the last entity", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("feature restore: %w", d.err)
	}

	e.store.Reset()
	e.dedup.reset()
	e.wm.Store(wm)
	for _, id := range ids {
		e.dedup.put(id.id, id.t)
	}
	for _, ent := range entities {
		e.store.Put(ent)
	}
	attrs := []any{"entities", len(entities), "series_states", kept, "ids", len(ids),
		"watermark", e.watermarkLocked(), "same_specs", specsHash == p.specs.Hash()}
	if dropped > 0 {
		attrs = append(attrs, "series_states_dropped", dropped, "series_dropped", len(droppedSeries),
			"entities_dropped", droppedEntities)
	}
	e.log.Info("feature state restored", attrs...)
	return nil
}

func (e *Engine) watermarkLocked() time.Time {
	if wm := e.wm.Load(); wm != minTime {
		return time.Unix(0, wm).UTC()
	}
	return time.Time{}
}

// SnapshotFile writes a snapshot to path atomically: to a temporary file in
// the same directory, synced, then renamed over path.
func (e *Engine) SnapshotFile(path string) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("feature snapshot: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("feature snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = e.Snapshot(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("feature snapshot: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("feature snapshot: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("feature snapshot: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil { // make the rename durable
		d.Sync()
		d.Close()
	}
	return nil
}

// RestoreFile restores the snapshot at path. It reports false, and no
// error, when there is no such file (a first start).
func (e *Engine) RestoreFile(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("feature restore: %w", err)
	}
	defer f.Close()
	if err := e.Restore(f); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}
