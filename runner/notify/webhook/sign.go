package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a signed delivery.
const (
	TimestampHeader = "X-Vigil-Timestamp" // unix seconds when the request was signed
	SignatureHeader = "X-Vigil-Signature" // "v1=" + hex HMAC-SHA256(secret, timestamp + "." + body)
)

// ErrSignature is returned by Verify when no signature matches.
var ErrSignature = errors.New("webhook signature does not match")

// Sign returns the X-Vigil-Signature value for a body sent at ts (unix
// seconds): "v1=" and the hex HMAC-SHA256 of "<ts>.<body>" keyed by secret.
// Signing the timestamp with the body stops replays of old deliveries.
func Sign(secret string, ts int64, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts, 10), body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery as a receiver gets it: the X-Vigil-Timestamp and
// X-Vigil-Signature header values and the raw body. The timestamp must be
// within tolerance of now (0 skips the check), and one of the signature
// header's comma-separated "v1=" values must match (several allow a secret
// rotation). Comparison is constant-time.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return errors.New("webhook verify: secret is empty")
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("webhook verify: %s %q is not unix seconds", TimestampHeader, timestamp)
	}
	if tolerance > 0 {
		if skew := now.Sub(time.Unix(ts, 0)).Abs(); skew > tolerance {
			return fmt.Errorf("webhook verify: timestamp %d is %s from now, beyond the tolerance of %s", ts, skew.Round(time.Second), tolerance)
		}
	}
	want := mac(secret, strconv.FormatInt(ts, 10), body)
	found := false
	for part := range strings.SplitSeq(signature, ",") {
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		found = true
		if got, err := hex.DecodeString(hexSig); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if !found {
		return fmt.Errorf("webhook verify: %s %q has no v1= signature", SignatureHeader, signature)
	}
	return ErrSignature
}
