package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-risk/vigil/runner/notify/webhook"
)

func TestSignMatchesTheDocumentedScheme(t *testing.T) {
	body := []byte(`{"id":1}`)
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte("1772366400." + string(body)))
	if got, want := webhook.Sign("k", 1772366400, body), "v1="+hex.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1772366400, 0)
	body := []byte(`{"id":1,"kind":"firing"}`)
	sig := webhook.Sign("k", now.Unix(), body)
	ts := "1772366400"
	for _, tc := range []struct {
		name         string
		secret, ts   string
		sig          string
		body         []byte
		now          time.Time
		errSignature bool
		want         string // substring of the error; "" means valid
	}{
		{"valid", "k", ts, sig, body, now, false, ""},
		{"valid within tolerance", "k", ts, sig, body, now.Add(4 * time.Minute), false, ""},
		{"rotation: second signature matches", "k", ts, "v1=00ff, " + sig, body, now, false, ""},
		{"tampered body", "k", ts, sig, []byte(`{"id":2,"kind":"firing"}`), now, true, "does not match"},
		{"wrong secret", "other", ts, sig, body, now, true, "does not match"},
		{"timestamp changed", "k", "1772366401", sig, body, now, true, "does not match"},
		{"stale", "k", ts, sig, body, now.Add(6 * time.Minute), false, "beyond the tolerance of 5m0s"},
		{"from the future", "k", ts, sig, body, now.Add(-6 * time.Minute), false, "beyond the tolerance"},
		{"bad timestamp", "k", "yesterday", sig, body, now, false, `X-Vigil-Timestamp "yesterday" is not unix seconds`},
		{"no v1", "k", ts, "v0=abc", body, now, false, "has no v1= signature"},
		{"not hex", "k", ts, "v1=zz", body, now, true, "does not match"},
		{"no secret", "", ts, sig, body, now, false, "secret is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := webhook.Verify(tc.secret, tc.ts, tc.sig, tc.body, tc.now, 5*time.Minute)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want valid", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want it to mention %q", err, tc.want)
			}
			if errors.Is(err, webhook.ErrSignature) != tc.errSignature {
				t.Errorf("errors.Is(err, ErrSignature) = %v, want %v", !tc.errSignature, tc.errSignature)
			}
		})
	}
}
