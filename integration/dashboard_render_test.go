package integration

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
)

// The picture's look: Grafana's dark theme, roughly.
const (
	panelW, panelH = 460, 270
	plotLeft       = 56
	plotRight      = 12
	plotTop        = 34
	plotBottom     = 26
	legendRowH     = 15
	legendRows     = 3
)

var palette = []string{"#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#fade2a", "#c4162a", "#37872d"}

// renderDashboard is an HTML page plotting each panel of d over the scrapes: inline SVG and CSS
// only, so that it renders with nothing fetched.
func renderDashboard(d dashboard, scrapes []scrapeAt, subtitle string) (string, error) {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>` + html.EscapeString(d.Title) + `</title><style>
body{margin:0;background:#111217;color:#ccccdc;font:13px/1.3 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
header{padding:14px 20px 4px}h1{font-size:20px;margin:0;color:#fff;font-weight:500}
header p{margin:4px 0 0;color:#8e8e9a;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(3,` + fmt.Sprint(panelW) + `px);gap:10px;padding:10px 20px 20px}
.panel{background:#181b1f;border:1px solid #2c3235;border-radius:3px}
svg text{fill:#8e8e9a;font-size:10px}svg .title{fill:#ccccdc;font-size:13px;font-weight:500}
</style></head><body><header><h1>` + html.EscapeString(d.Title) + `</h1><p>` + html.EscapeString(subtitle) + `</p></header><div class="grid">`)
	for _, p := range d.Panels {
		var lines []plotLine
		for _, tg := range p.Targets {
			q, err := parseQuery(tg.Expr, tg.LegendFormat)
			if err != nil {
				return "", fmt.Errorf("panel %q: %s: %w", p.Title, tg.Expr, err)
			}
			lines = append(lines, q.eval(scrapes)...)
		}
		b.WriteString(`<div class="panel">`)
		b.WriteString(renderPanel(p.Title, p.FieldCfg.Defaults.Unit, lines, scrapes[len(scrapes)-1].at.Sub(scrapes[0].at).Seconds()))
		b.WriteString(`</div>`)
	}
	b.WriteString(`</div></body></html>`)
	return b.String(), nil
}

// renderPanel is one panel's SVG: title, axes with three grid lines, the lines and a legend.
func renderPanel(title, unit string, lines []plotLine, span float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d">`, panelW, panelH)
	fmt.Fprintf(&b, `<text class="title" x="10" y="20">%s</text>`, html.EscapeString(title))
	plotH := panelH - plotTop - plotBottom - legendRows*legendRowH
	plotW := panelW - plotLeft - plotRight
	top := 0.0
	for _, l := range lines {
		for _, p := range l.points {
			top = math.Max(top, p.y)
		}
	}
	top = niceCeil(top)
	if span <= 0 {
		span = 1
	}
	sx := func(x float64) float64 { return plotLeft + x/span*float64(plotW) }
	sy := func(y float64) float64 { return plotTop + float64(plotH) - y/top*float64(plotH) }
	for i := 0; i <= 3; i++ {
		v := top * float64(i) / 3
		y := sy(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#2c3235"/>`, plotLeft, panelW-plotRight, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, plotLeft-4, y+3, html.EscapeString(formatValue(v, unit)))
	}
	for i := 0; i <= 4; i++ {
		x := span * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.0fs</text>`, sx(x), plotTop+plotH+14, x)
	}
	if len(lines) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">No data</text>`, panelW/2, plotTop+plotH/2)
	}
	// The lines that moved come first, the largest first, so that the legend names them; the
	// ones that stayed at 0 are drawn (along the axis) and counted.
	sort.SliceStable(lines, func(i, j int) bool { return peak(lines[i]) > peak(lines[j]) })
	zeros := 0
	for i, l := range lines {
		color := palette[i%len(palette)]
		var pts []string
		for _, p := range l.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(p.x), sy(p.y)))
		}
		if len(pts) == 1 {
			fmt.Fprintf(&b, `<circle cx="%s" r="2" fill="%s"/>`, strings.Replace(pts[0], ",", `" cy="`, 1), color)
		} else {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, color, strings.Join(pts, " "))
		}
		if peak(l) == 0 && i > 0 {
			zeros++
			continue
		}
		// The legend: two entries a row, legendRows rows.
		if i < 2*legendRows {
			lx := 10 + (i%2)*(panelW/2)
			ly := panelH - legendRows*legendRowH + (i/2)*legendRowH + 2
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="3" fill="%s"/>`, lx, ly, color)
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, lx+14, ly+4, html.EscapeString(truncate(l.legend, 34)))
		} else {
			zeros++ // not named: counted with the rest
		}
	}
	if zeros > 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">+%d more</text>`, panelW-8, plotTop-6, zeros)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for nothing, so an idle panel has
// an axis).
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p*1.0000001 {
			return m * p
		}
	}
	return 10 * p
}

// formatValue writes v in the panel's unit.
func formatValue(v float64, unit string) string {
	switch unit {
	case "reqps":
		return fmt.Sprintf("%.3g/s", v)
	case "s":
		if v < 1 {
			return fmt.Sprintf("%.3g ms", v*1000)
		}
		return fmt.Sprintf("%.3g s", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// peak is the largest value of l.
func peak(l plotLine) float64 {
	m := 0.0
	for _, p := range l.points {
		m = math.Max(m, p.y)
	}
	return m
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
