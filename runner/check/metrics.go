package check

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// AveragePrecision is the area under the precision-recall curve computed
// as scikit-learn's average_precision_score does: Σ (R_n − R_{n−1}) · P_n over
// the distinct score thresholds, from the highest down. Records with equal
// scores enter together. It is undefined (ok false) without positives.
func AveragePrecision(scores []float64, labels []bool) (float64, bool) {
	n := len(scores)
	idx := make([]int, n)
	positives := 0
	for i := range idx {
		idx[i] = i
		if labels[i] {
			positives++
		}
	}
	if positives == 0 {
		return 0, false
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	var ap, prevRecall float64
	tp, seen := 0, 0
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			if labels[idx[j]] {
				tp++
			}
			seen++
			j++
		}
		recall := float64(tp) / float64(positives)
		precision := float64(tp) / float64(seen)
		ap += (recall - prevRecall) * precision
		prevRecall = recall
		i = j
	}
	return ap, true
}

// Scored is one record's score for a ranking metric: who it is about, when,
// and whether it was fraud.
type Scored struct {
	Entity string
	Day    time.Time // the UTC day of the record
	Score  float64
	Fraud  bool
}

// CardPrecisionAtK is the Fraud Detection Handbook's card precision@k: day
// by day, every card (entity) gets the highest score of its records that day
// and counts as fraudulent if any of them was; the k highest cards are
// "investigated" and the day's precision is the share of frauds among them,
// out of k. As in the handbook, a card found compromised (a fraud among the
// top k) is left out of the following days. The result is the mean over days.
func CardPrecisionAtK(recs []Scored, k int) (float64, int) {
	type card struct {
		score float64
		fraud bool
	}
	days := map[time.Time]map[string]*card{}
	for _, r := range recs {
		day := days[r.Day]
		if day == nil {
			day = map[string]*card{}
			days[r.Day] = day
		}
		c := day[r.Entity]
		if c == nil {
			day[r.Entity] = &card{score: r.Score, fraud: r.Fraud}
			continue
		}
		c.score = max(c.score, r.Score)
		c.fraud = c.fraud || r.Fraud
	}
	if len(days) == 0 || k <= 0 {
		return 0, 0
	}
	order := make([]time.Time, 0, len(days))
	for d := range days {
		order = append(order, d)
	}
	slices.SortFunc(order, func(a, b time.Time) int { return a.Compare(b) })
	detected := map[string]bool{}
	var sum float64
	for _, d := range order {
		type ranked struct {
			entity string
			card
		}
		cards := make([]ranked, 0, len(days[d]))
		for e, c := range days[d] {
			if !detected[e] {
				cards = append(cards, ranked{e, *c})
			}
		}
		// highest score first; the entity name breaks ties so the result is deterministic
		slices.SortFunc(cards, func(a, b ranked) int {
			switch {
			case a.score > b.score:
				return -1
			case a.score < b.score:
				return 1
			}
			return strings.Compare(a.entity, b.entity)
		})
		frauds := 0
		for _, c := range cards[:min(k, len(cards))] {
			if c.fraud {
				frauds++
				detected[c.entity] = true
			}
		}
		sum += float64(frauds) / float64(k)
	}
	return sum / float64(len(days)), len(days)
}

// ROCAUC is the area under the ROC curve: the probability that a random
// fraud scores above a random legitimate record, ties counting half (the
// Mann–Whitney statistic, as scikit-learn's roc_auc_score). Undefined (ok
// false) unless both classes occur.
func ROCAUC(scores []float64, labels []bool) (float64, bool) {
	n := len(scores)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var pos, neg int
	var rankSum float64 // of the positives, with average ranks for ties
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1 … j
		for _, k := range idx[i:j] {
			if labels[k] {
				pos++
				rankSum += avg
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return 0, false
	}
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg)), true
}
