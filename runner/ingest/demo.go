package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/vigil-risk/vigil/runner/record"
)

// Demo generates a live stream of synthetic payments, logins and withdrawals
// in which a share of records carries a known fraud pattern, so that a new
// user sees decisions and alerts within seconds of `make run`.
type Demo struct {
	Rate       float64 // records per second; 0 = as fast as the handler takes them
	FraudRate  float64 // share of records with an injected pattern
	Seed       int64
	Count      int // stop after this many records; 0 = until the context ends
	Normalizer NormalizerFunc
	Now        func() time.Time // event time of each record; time.Now when nil
}

func (d *Demo) Name() string { return "demo" }

func (d *Demo) Run(ctx context.Context, h Handler) error {
	if err := d.Normalizer.check(d.Name()); err != nil {
		return err
	}
	gen := NewGenerator(d.Seed, d.FraudRate)
	now := d.Now
	if now == nil {
		now = time.Now
	}
	var tick <-chan time.Time
	if every := d.interval(); every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for i := 0; d.Count == 0 || i < d.Count; i++ {
		if i > 0 && tick != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick:
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		raw := gen.Next(now())
		// The normaliser is asked per record: the demo follows a policy
		// reload that changes the schema at once.
		rec, errs := d.Normalizer().Normalize(raw)
		pos := record.Position{Source: d.Name(), Index: i}
		if len(errs) > 0 {
			// Only a generator out of step with the schema gets here.
			text, _ := json.Marshal(raw)
			if err := h.DeadLetter(ctx, &record.DeadLetter{Position: pos, Errors: errs, Raw: string(text)}); err != nil {
				return err
			}
		} else if err := h.Record(ctx, rec, pos); err != nil {
			return err
		}
	}
	return nil
}

// interval is the time between two records, 0 when they are not paced (a
// rate of 0, or too high for a ticker).
func (d *Demo) interval() time.Duration {
	if !(d.Rate > 0) || math.IsInf(d.Rate, 1) {
		return 0
	}
	ns := float64(time.Second) / d.Rate
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// Generator makes demo records. The same seed gives the same sequence.
type Generator struct {
	rng       *rand.Rand
	fraudRate float64
	n         int
}

func NewGenerator(seed int64, fraudRate float64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed)), fraudRate: fraudRate}
}

var (
	demoCurrencies = []string{"EUR", "EUR", "EUR", "USD", "GBP", "CHF"}
	demoCountries  = []string{"DE", "FR", "NL", "ES", "IT", "GB", "US", "CH"}
	demoMCCs       = []string{"5411", "5812", "5999", "5732", "4121", "5311", "5541"}
	demoDomains    = []string{"example.com", "mail.example.org", "post.example.net"}
)

// Next returns one raw record (as it would arrive over the wire) at time t.
func (g *Generator) Next(t time.Time) map[string]any {
	rec, _ := g.NextLabelled(t)
	return rec
}

// NextLabelled is Next that also names the fraud pattern injected into the
// record ("" for a clean one): the ground truth of a demo stream.
func (g *Generator) NextLabelled(t time.Time) (rec map[string]any, pattern string) {
	g.n++
	r := g.rng
	cust := r.IntN(400)
	country := demoCountries[cust%len(demoCountries)]
	rec = map[string]any{
		"id":          fmt.Sprintf("demo-%08d", g.n),
		"ts":          t.UTC().Format(time.RFC3339Nano),
		"customer_id": fmt.Sprintf("cust-%04d", cust),
		"account_id":  fmt.Sprintf("acct-%04d", cust),
		"device_id":   fmt.Sprintf("dev-%04d", cust),
		"ip":          fmt.Sprintf("10.%d.%d.%d", cust%200, r.IntN(250), 1+r.IntN(250)),
		"ip_country":  country,
		"email":       fmt.Sprintf("customer%04d@%s", cust, demoDomains[cust%len(demoDomains)]),
	}
	switch k := r.IntN(10); {
	case k < 7:
		rec["type"] = "payment"
		rec["card_id"] = fmt.Sprintf("card-%04d", cust)
		rec["card_country"] = country
		rec["merchant_country"] = country
		rec["amount"] = float64(500+r.IntN(15000)) / 100
		rec["currency"] = demoCurrencies[cust%len(demoCurrencies)]
		rec["mcc"] = demoMCCs[r.IntN(len(demoMCCs))]
		rec["channel"] = []string{"ecom", "pos", "app"}[r.IntN(3)]
		rec["account_created_at"] = t.AddDate(0, 0, -(60 + cust)).UTC().Format(time.RFC3339)
	case k < 9:
		rec["type"] = "login"
		rec["success"] = true
		rec["failed_attempts"] = float64(r.IntN(2))
		rec["billing_country"] = country
	default:
		rec["type"] = "withdrawal"
		rec["amount"] = float64(2000+r.IntN(30000)) / 100
		rec["currency"] = demoCurrencies[cust%len(demoCurrencies)]
		rec["destination_account"] = fmt.Sprintf("DE89%018d", cust)
		rec["new_destination"] = false
	}
	if r.Float64() < g.fraudRate {
		pattern = g.inject(rec, t)
	}
	return rec, pattern
}

// Fields that belong to one record type only; a pattern that changes the
// type drops those of the others.
var (
	paymentFields    = []string{"card_id", "card_country", "merchant_country", "mcc", "channel", "account_created_at"}
	loginFields      = []string{"success", "failed_attempts", "billing_country"}
	withdrawalFields = []string{"destination_account", "new_destination"}
	moneyFields      = []string{"amount", "currency"}
)

func deleteAll(rec map[string]any, lists ...[]string) {
	for _, keys := range lists {
		for _, k := range keys {
			delete(rec, k)
		}
	}
}

// inject turns a record into one of the fraud patterns the starter pack
// catches and returns the pattern's name. A few fixed fraudsters repeat, so
// alerts also show deduplication.
func (g *Generator) inject(rec map[string]any, t time.Time) string {
	r := g.rng
	fraudster := fmt.Sprintf("cust-9%03d", r.IntN(5))
	rec["customer_id"], rec["account_id"] = fraudster, "acct-"+fraudster[5:]
	payment := func() {
		deleteAll(rec, loginFields, withdrawalFields)
		rec["type"] = "payment"
		rec["card_id"] = "card-" + fraudster[5:]
		rec["card_country"] = "DE"
		rec["merchant_country"] = "DE"
		rec["ip_country"] = "DE"
		rec["currency"] = "EUR"
		rec["mcc"] = "5999"
		rec["channel"] = "ecom"
		rec["amount"] = float64(2000+r.IntN(8000)) / 100
		rec["account_created_at"] = t.AddDate(-1, 0, 0).UTC().Format(time.RFC3339)
	}
	withdrawal := func(amount float64, destination string, isNew bool) {
		deleteAll(rec, paymentFields, loginFields)
		rec["type"] = "withdrawal"
		rec["amount"] = amount
		rec["currency"] = "EUR"
		rec["destination_account"] = destination
		rec["new_destination"] = isNew
	}
	switch r.IntN(10) {
	case 0:
		payment()
		rec["card_id"] = "ctok_7Hq2Lm9Xb4" // on the blocked-card list
		return "stolen_card"
	case 1: // card-not-present payment from another country than the card's
		payment()
		rec["ip_country"] = "BR"
		return "foreign_ip"
	case 2: // gambling merchant, sizeable amount
		payment()
		rec["mcc"] = "7995"
		rec["amount"] = float64(80000+r.IntN(40000)) / 100
		return "gambling"
	case 3: // brand-new account spending big
		payment()
		rec["account_created_at"] = t.Add(-36 * time.Hour).UTC().Format(time.RFC3339)
		rec["amount"] = float64(150000+r.IntN(100000)) / 100
		return "new_account"
	case 4:
		payment()
		rec["amount"] = float64(700000+r.IntN(300000)) / 100
		return "large_payment"
	case 5: // throwaway e-mail address
		payment()
		rec["email"] = fraudster + "@mailinator.com"
		return "disposable_email"
	case 6: // traffic from a sanctioned country
		payment()
		rec["ip_country"] = "IR"
		return "sanctioned_country"
	case 7:
		deleteAll(rec, paymentFields, withdrawalFields, moneyFields)
		rec["type"] = "login"
		rec["success"] = false
		rec["failed_attempts"] = float64(12 + r.IntN(20))
		rec["ip"] = fmt.Sprintf("203.0.113.%d", 1+r.IntN(250)) // a blocked range
		return "credential_stuffing"
	case 8: // cash-out to a new destination
		withdrawal(float64(400000+r.IntN(200000))/100, fmt.Sprintf("LT12%016d", r.IntN(1e9)), true)
		return "cash_out"
	default: // a withdrawal within 10% below the EUR 10,000 reporting threshold (a shadow rule)
		withdrawal(float64(900000+r.IntN(99000))/100, fmt.Sprintf("DE89%018d", r.IntN(400)), false)
		return "structuring"
	}
}
