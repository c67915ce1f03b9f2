package template

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vigil-risk/vigil/runner/notify"
)

// CompactAbove is how many alerts a message lists in full; beyond it, or
// when the message has to be split, each alert takes one line.
const CompactAbove = 20

// ErrTooLarge is what a Build returns (wrapped or not) when a part breaks a
// vendor limit other than bytes — Slack's 50 blocks — so Render tries fewer
// alerts in it.
var ErrTooLarge = errors.New("too large for the vendor")

// Build makes one vendor body from d, one part of a message. When cut > 0
// the part is a single alert too large for the vendor: Build shortens its
// main text by at least cut bytes.
type Build func(d *Data, cut int) ([]byte, error)

// Render turns m into the payloads that carry it: one body when the whole
// message fits in maxBytes (0: no limit), otherwise as few parts as fit,
// each with a consecutive run of alerts and numbered by the templates
// ("(1/3)"). A single alert too large alone is shortened (Build's cut).
// Payloads get contentType, a one-line summary, and the message's
// idempotency key, suffixed with the part when there are several.
func (s *Set) Render(m *notify.Message, maxBytes int, contentType string, build Build) ([]notify.Payload, error) {
	if len(m.Alerts) == 0 {
		return nil, errors.New("message has no alerts")
	}
	d := s.Data(m)
	n := len(d.Alerts)
	fits := func(body []byte, err error) (bool, error) {
		switch {
		case errors.Is(err, ErrTooLarge):
			return false, nil
		case err != nil:
			return false, err
		}
		return maxBytes <= 0 || len(body) <= maxBytes, nil
	}

	// The whole message in one body, when it fits.
	d.compact(n > CompactAbove)
	whole := d.part(0, n, 1, 1)
	body, err := build(whole, 0)
	if ok, err := fits(body, err); err != nil {
		return nil, err
	} else if ok {
		return []notify.Payload{payload(m, whole, body, contentType)}, nil
	}

	// Pack greedily, one line per alert. While packing, parts are numbered
	// "of n" — as wide as any final count — so renumbering only shrinks a
	// body. Each part starts from a guess (the whole body's bytes per
	// alert, then the previous part's size), gallops, then bisects.
	d.compact(true)
	guess := max(1, n/2)
	if maxBytes > 0 && len(body) > 0 {
		guess = max(1, min(n, n*maxBytes/len(body)))
	}
	var spans [][2]int
	for lo := 0; lo < n; {
		try := func(k int) (bool, error) {
			return fits(build(d.part(lo, lo+k, len(spans)+1, n), 0))
		}
		k, err := largestFit(min(guess, n-lo), n-lo, try)
		if err != nil {
			return nil, err
		}
		spans = append(spans, [2]int{lo, lo + k})
		lo += k
		guess = k
	}

	out := make([]notify.Payload, len(spans))
	for i, sp := range spans {
		p := d.part(sp[0], sp[1], i+1, len(spans))
		body, err := build(p, 0)
		ok, ferr := fits(body, err)
		if ferr != nil {
			return nil, fmt.Errorf("part %d/%d: %w", i+1, len(spans), ferr)
		}
		if !ok && sp[1]-sp[0] == 1 {
			body, err = s.shorten(p, maxBytes, build)
			if err != nil {
				return nil, fmt.Errorf("part %d/%d: alert %d: %w", i+1, len(spans), p.Alerts[0].ID, err)
			}
		} else if !ok {
			return nil, fmt.Errorf("part %d/%d: %d bytes is over the limit of %d", i+1, len(spans), len(body), maxBytes)
		}
		out[i] = payload(m, p, body, contentType)
	}
	return out, nil
}

// largestFit is the largest k in [1, most] for which try(k) holds, 1 when
// none does (a single alert is shortened later). It starts at guess,
// gallops up or down, then bisects, assuming fit shrinks as k grows.
func largestFit(guess, most int, try func(k int) (bool, error)) (int, error) {
	good, bad := 0, most+1 // try(good) holds (0: none known), try(bad) does not
	ok, err := try(guess)
	if err != nil {
		return 0, err
	}
	if ok {
		good = guess
		for step := 1; good < most; step *= 2 {
			k := min(good+step, most)
			if ok, err = try(k); err != nil {
				return 0, err
			}
			if !ok {
				bad = k
				break
			}
			good = k
		}
	} else {
		bad = guess
		for k := guess / 2; k >= 1; k /= 2 {
			if ok, err = try(k); err != nil {
				return 0, err
			}
			if ok {
				good = k
				break
			}
			bad = k
		}
		if good == 0 {
			return 1, nil
		}
	}
	for bad-good > 1 {
		mid := (good + bad) / 2
		ok, err := try(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			good = mid
		} else {
			bad = mid
		}
	}
	return good, nil
}

// shorten asks build to cut a single alert's text until its body fits.
func (s *Set) shorten(p *Data, maxBytes int, build Build) ([]byte, error) {
	cut := 0
	for range 4 {
		body, err := build(p, cut)
		if err != nil {
			return nil, err
		}
		if maxBytes <= 0 || len(body) <= maxBytes {
			return body, nil
		}
		cut += len(body) - maxBytes
	}
	return nil, fmt.Errorf("does not fit in %d bytes even when shortened", maxBytes)
}

func payload(m *notify.Message, d *Data, body []byte, contentType string) notify.Payload {
	return notify.Payload{
		Body: body, ContentType: contentType, Part: d.Part, Parts: d.Parts,
		Summary: Summary(d), IdempotencyKey: PartKey(m.IdempotencyKey, d.Part, d.Parts),
	}
}

// PartKey is a message's idempotency key for one of its parts: the key
// itself when there is one part, else suffixed with "-<part>".
func PartKey(key string, part, parts int) string {
	if parts <= 1 {
		return key
	}
	return key + "-" + strconv.Itoa(part)
}

// Summary is one English line about a part, for logs and the API:
// "firing: Card testing burst card_id=c-1 (+2 more) [1/3]".
func Summary(d *Data) string {
	var b strings.Builder
	b.WriteString(d.Status)
	b.WriteString(": ")
	if len(d.Alerts) > 0 {
		a := d.Alerts[0]
		b.WriteString(Truncate(80, a.Title))
		b.WriteString(" ")
		b.WriteString(Truncate(60, a.Entity.String()))
		if more := len(d.Alerts) - 1; more > 0 {
			fmt.Fprintf(&b, " (+%d more)", more)
		}
	}
	if d.Digest > 1 {
		fmt.Fprintf(&b, " digest of %d", d.Digest)
	}
	if d.Parts > 1 {
		fmt.Fprintf(&b, " [%d/%d]", d.Part, d.Parts)
	}
	return b.String()
}
