package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/vigil-risk/vigil/runner/alert"
)

// manyChunk keeps each IN list well below SQLite's limit on bound parameters.
const manyChunk = 500

// Alerts reads the alerts with these IDs as they are now, by ID; IDs with no
// alert are left out. Notify reads a group's alerts with it just before it
// notifies, so that a message shows the latest count and reason. Call it
// with the transaction the caller is in, if any.
func Alerts(ctx context.Context, q Querier, ids []int64) (map[int64]alert.Alert, error) {
	out := make(map[int64]alert.Alert, len(ids))
	args := make([]any, 0, min(len(ids), manyChunk))
	for start := 0; start < len(ids); start += manyChunk {
		chunk := ids[start:min(start+manyChunk, len(ids))]
		args = args[:0]
		for _, id := range chunk {
			args = append(args, id)
		}
		query := `SELECT ` + alertColumns + ` FROM alerts WHERE id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("read %d alerts: %w", len(ids), err)
		}
		for rows.Next() {
			a, err := scanAlert(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("read %d alerts: %w", len(ids), err)
			}
			out[a.ID] = a
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read %d alerts: %w", len(ids), err)
		}
	}
	return out, nil
}
