// Package channeltest holds what the channels' tests share: driving a
// channel the way the dispatcher does, against a local vendor server.
package channeltest

import (
	"testing"

	"github.com/vigil-risk/vigil/runner/notify"
)

// SendAll renders m and sends every part in order, as the dispatcher does
// for one notification, failing the test on any error; it returns the parts.
func SendAll(t testing.TB, c notify.Channel, m *notify.Message) []notify.Payload {
	t.Helper()
	ps, err := c.Render(m)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	for _, p := range ps {
		if retry, err := c.Send(t.Context(), p); err != nil {
			t.Fatalf("Send %s: retry %v, %v", p.Summary, retry, err)
		}
	}
	return ps
}
