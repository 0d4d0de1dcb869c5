package integration

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Grafana dashboard (grafana/gatehouse.json) as far as the tests read it.
type dashboard struct {
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Type  string `json:"type"`
			Name  string `json:"name"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashPanel `json:"panels"`
}

type dashPanel struct {
	Title      string        `json:"title"`
	Type       string        `json:"type"`
	Datasource dashSource    `json:"datasource"`
	Targets    []dashTarget  `json:"targets"`
	FieldCfg   dashFieldConf `json:"fieldConfig"`
}

type dashSource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashTarget struct {
	Expr         string     `json:"expr"`
	LegendFormat string     `json:"legendFormat"`
	Datasource   dashSource `json:"datasource"`
}

type dashFieldConf struct {
	Defaults struct {
		Unit string `json:"unit"`
	} `json:"defaults"`
}

// loadDashboard reads and parses grafana/gatehouse.json.
func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "grafana", "gatehouse.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("grafana/gatehouse.json does not parse: %v", err)
	}
	return d
}

// The query forms the dashboard is written in, so that the picture test can evaluate them on
// scraped samples: a rate summed by labels (with optional equality matchers), a histogram
// quantile of such a rate, and a gauge summed by labels.
var (
	rateForm     = regexp.MustCompile(`^sum by \(([a-z_, ]+)\) \(rate\(([a-z_]+)(\{[^}]*\})?\[\$__rate_interval\]\)\)$`)
	quantileForm = regexp.MustCompile(`^histogram_quantile\(([0-9.]+), sum by \(le(?:, ([a-z_, ]+))?\) \(rate\(([a-z_]+)_bucket\[\$__rate_interval\]\)\)\)$`)
	gaugeForm    = regexp.MustCompile(`^sum by \(([a-z_, ]+)\) \(([a-z_]+)\)$`)
	matcherForm  = regexp.MustCompile(`([a-z_]+)="([^"]*)"`)
)

// dashQuery is a parsed dashboard expression.
type dashQuery struct {
	kind     string // "rate", "quantile" or "gauge"
	metric   string // the family name (a histogram's, without _bucket)
	by       []string
	match    map[string]string
	quantile float64
	legend   string
}

// parseQuery parses expr in one of the forms above.
func parseQuery(expr, legend string) (dashQuery, error) {
	split := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, ",") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	q := dashQuery{legend: legend, match: map[string]string{}}
	if m := rateForm.FindStringSubmatch(expr); m != nil {
		q.kind, q.by, q.metric = "rate", split(m[1]), m[2]
		for _, mm := range matcherForm.FindAllStringSubmatch(m[3], -1) {
			q.match[mm[1]] = mm[2]
		}
		return q, nil
	}
	if m := quantileForm.FindStringSubmatch(expr); m != nil {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil || v <= 0 || v >= 1 {
			return q, fmt.Errorf("quantile %q is not between 0 and 1", m[1])
		}
		q.kind, q.quantile, q.by, q.metric = "quantile", v, split(m[2]), m[3]
		return q, nil
	}
	if m := gaugeForm.FindStringSubmatch(expr); m != nil {
		q.kind, q.by, q.metric = "gauge", split(m[1]), m[2]
		return q, nil
	}
	return q, fmt.Errorf("not one of the forms the picture test evaluates (sum by (...) (rate(m[$__rate_interval])), " +
		"histogram_quantile(q, sum by (le, ...) (rate(m_bucket[$__rate_interval]))), sum by (...) (m))")
}

// scrapeAt is one scrape: its samples and when it was taken.
type scrapeAt struct {
	at      time.Time
	samples map[string]float64
}

// sample is one parsed series of a scrape.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseSeries splits `name{a="b",c="d"}` into its name and labels.
func parseSeries(s string) (string, map[string]string) {
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return s, map[string]string{}
	}
	name, rest := s[:i], strings.TrimSuffix(s[i+1:], "}")
	labels := map[string]string{}
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 || eq+1 >= len(rest) || rest[eq+1] != '"' {
			break
		}
		key := rest[:eq]
		var val strings.Builder
		j := eq + 2
		for ; j < len(rest) && rest[j] != '"'; j++ {
			if rest[j] == '\\' && j+1 < len(rest) {
				j++
			}
			val.WriteByte(rest[j])
		}
		labels[key] = val.String()
		rest = strings.TrimPrefix(rest[min(j+1, len(rest)):], ",")
	}
	return name, labels
}

// samplesOf is the series of scrape s named name whose labels match.
func samplesOf(s scrapeAt, name string, match map[string]string) []sample {
	var out []sample
	for key, v := range s.samples {
		n, labels := parseSeries(key)
		if n != name {
			continue
		}
		ok := true
		for k, want := range match {
			if labels[k] != want {
				ok = false
			}
		}
		if ok {
			out = append(out, sample{name: n, labels: labels, value: v})
		}
	}
	return out
}

// sampleKey is the identity of a series without its value, for matching across scrapes.
func sampleKey(s sample) string {
	keys := make([]string, 0, len(s.labels))
	for k, v := range s.labels {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// groupOf is the values of the by labels of s, joined.
func groupOf(s sample, by []string) string {
	vals := make([]string, len(by))
	for i, l := range by {
		vals[i] = s.labels[l]
	}
	return strings.Join(vals, "\x00")
}

// legendOf fills the {{label}} of format with a group's values.
func legendOf(format string, by []string, group string) string {
	vals := strings.Split(group, "\x00")
	out := format
	for i, l := range by {
		if i < len(vals) {
			out = strings.ReplaceAll(out, "{{"+l+"}}", vals[i])
		}
	}
	return strings.TrimSpace(out)
}

// plotPoint is a value at seconds since the first scrape.
type plotPoint struct{ x, y float64 }

// plotLine is one legend entry of a panel.
type plotLine struct {
	legend string
	points []plotPoint
}

// eval computes q over the scrapes, as Prometheus would with each interval between two scrapes
// as the rate's window: one line per group of the by labels.
func (q dashQuery) eval(scrapes []scrapeAt) []plotLine {
	lines := map[string][]plotPoint{}
	x := func(i int) float64 { return scrapes[i].at.Sub(scrapes[0].at).Seconds() }
	// deltas is each series' increase from scrape i-1 to i (a reset counts from 0).
	deltas := func(i int, name string, match map[string]string) []sample {
		prev := map[string]float64{}
		for _, s := range samplesOf(scrapes[i-1], name, match) {
			prev[sampleKey(s)] = s.value
		}
		var out []sample
		for _, s := range samplesOf(scrapes[i], name, match) {
			p, ok := prev[sampleKey(s)]
			if !ok {
				continue // a series new in this scrape has no rate yet
			}
			d := s.value - p
			if d < 0 {
				d = s.value
			}
			s.value = d
			out = append(out, s)
		}
		return out
	}
	switch q.kind {
	case "gauge":
		for i := range scrapes {
			sums := map[string]float64{}
			for _, s := range samplesOf(scrapes[i], q.metric, q.match) {
				sums[groupOf(s, q.by)] += s.value
			}
			for g, v := range sums {
				lines[g] = append(lines[g], plotPoint{x(i), v})
			}
		}
	case "rate":
		for i := 1; i < len(scrapes); i++ {
			dt := scrapes[i].at.Sub(scrapes[i-1].at).Seconds()
			sums := map[string]float64{}
			for _, s := range deltas(i, q.metric, q.match) {
				sums[groupOf(s, q.by)] += s.value / dt
			}
			for g, v := range sums {
				lines[g] = append(lines[g], plotPoint{x(i), v})
			}
		}
	case "quantile":
		for i := 1; i < len(scrapes); i++ {
			buckets := map[string]map[float64]float64{} // group -> le -> increase
			for _, s := range deltas(i, q.metric+"_bucket", q.match) {
				le, err := strconv.ParseFloat(s.labels["le"], 64)
				if err != nil {
					continue
				}
				g := groupOf(s, q.by)
				if buckets[g] == nil {
					buckets[g] = map[float64]float64{}
				}
				buckets[g][le] += s.value
			}
			for g, b := range buckets {
				if v, ok := histogramQuantile(q.quantile, b); ok {
					lines[g] = append(lines[g], plotPoint{x(i), v})
				}
			}
		}
	}
	var out []plotLine
	for g, pts := range lines {
		out = append(out, plotLine{legend: legendOf(q.legend, q.by, g), points: pts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].legend < out[j].legend })
	return out
}

// histogramQuantile is Prometheus's histogram_quantile on cumulative bucket counts by upper
// bound: linear interpolation within the bucket the rank falls in; false without observations.
func histogramQuantile(q float64, buckets map[float64]float64) (float64, bool) {
	les := make([]float64, 0, len(buckets))
	for le := range buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	if len(les) < 2 || !math.IsInf(les[len(les)-1], 1) {
		return 0, false
	}
	total := buckets[les[len(les)-1]]
	if total <= 0 {
		return 0, false
	}
	rank := q * total
	lower, prevCount := 0.0, 0.0
	for i, le := range les {
		count := buckets[le]
		if count >= rank {
			if math.IsInf(le, 1) {
				return les[i-1], true
			}
			if count == prevCount {
				return le, true
			}
			return lower + (le-lower)*(rank-prevCount)/(count-prevCount), true
		}
		lower, prevCount = le, count
	}
	return les[len(les)-2], true
}
