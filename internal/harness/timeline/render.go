package timeline

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"time"
)

// Layout, in pixels.
const (
	leftMargin  = 120
	rightMargin = 20
	axisHeight  = 24
	faultHeight = 28
	rowHeight   = 18
	rowGap      = 3
	laneGap     = 14
	maxWidth    = 120000 // the SVG's width for long runs (at 2px/s at least, so runs over 16h are wider)
)

// pxPerSecond scales the axis: about 24px per second, fewer for long runs.
func pxPerSecond(end time.Duration) float64 {
	s := math.Max(end.Seconds(), 1)
	return math.Min(24, math.Max(2, (maxWidth-leftMargin-rightMargin)/s))
}

// WriteHTML writes p as one HTML page.
func (p *Page) WriteHTML(out io.Writer) error {
	w := bufio.NewWriter(out)
	scale := pxPerSecond(p.End)
	x := func(d time.Duration) float64 { return leftMargin + d.Seconds()*scale }
	width := x(p.End) + rightMargin
	height := float64(axisHeight + faultHeight + laneGap)
	for _, l := range p.Lanes {
		height += float64(len(l.Rows)*(rowHeight+rowGap)) + laneGap
	}
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n<style>%s</style></head><body>\n",
		esc(p.Title), style)
	fmt.Fprintf(w, "<h1>%s</h1>\n<p>%s</p>\n%s\n", esc(p.Title), esc(p.About), legend)
	fmt.Fprintf(w, "<div class=\"scroll\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">\n", width, height)

	// The axis, with a tick every step.
	step := tickStep(p.End, scale)
	fmt.Fprintf(w, "<g class=\"axis\">")
	for t := time.Duration(0); t <= p.End; t += step {
		fmt.Fprintf(w, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\"/><text x=\"%.1f\" y=\"14\">%s</text>",
			x(t), axisHeight-6, x(t), height, x(t)+2, fmtAxis(t))
	}
	fmt.Fprintf(w, "</g>\n")

	// The faults: a lane of their own and a band across every lane.
	y := float64(axisHeight)
	fmt.Fprintf(w, "<g class=\"faults\"><text class=\"name\" x=\"4\" y=\"%.0f\">faults</text>", y+18)
	for _, f := range p.Faults {
		x0, x1 := x(f.From), math.Max(x(f.To), x(f.From)+2)
		title := fmt.Sprintf("%s\n%s", f.Title, between(f.From, f.To))
		fmt.Fprintf(w, "<g class=\"fault k-%s\"><title>%s</title><rect class=\"band\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\"/>"+
			"<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%d\"/><text x=\"%.1f\" y=\"%.0f\">%s</text></g>",
			cssName(f.Kind), esc(title), x0, y, x1-x0, height-y, x0, y+4, x1-x0, faultHeight-10, x0+1, y+faultHeight-8, esc(f.Label))
	}
	fmt.Fprintf(w, "</g>\n")
	y += faultHeight + laneGap

	for _, l := range p.Lanes {
		fmt.Fprintf(w, "<g class=\"lane\" data-lane=\"%s\"><text class=\"name\" x=\"4\" y=\"%.0f\">%s</text>", esc(l.Name), y+13, esc(l.Name))
		for _, r := range l.Rows {
			fmt.Fprintf(w, "<g class=\"row\" data-row=\"%s\"><text class=\"row-name\" x=\"%d\" y=\"%.0f\">%s</text>", esc(r.Name), leftMargin-6, y+13, esc(r.Name))
			fmt.Fprintf(w, "<line class=\"base\" x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", leftMargin, y+rowHeight/2, width-rightMargin, y+rowHeight/2)
			spans := append([]Span(nil), r.Spans...)
			sort.SliceStable(spans, func(i, j int) bool { return order[spans[i].Class] < order[spans[j].Class] })
			for _, s := range spans {
				x0, x1 := x(s.From), math.Max(x(s.To), x(s.From)+1)
				fill := ""
				if s.Class == Term {
					fill = fmt.Sprintf(" style=\"fill:%s\"", tokenColour(s.Token))
				}
				title := fmt.Sprintf("%s\n%s", s.Title, between(s.From, s.To))
				fmt.Fprintf(w, "<rect class=\"%s\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%d\"%s><title>%s</title></rect>",
					s.Class, x0, y, x1-x0, rowHeight, fill, esc(title))
				if s.Label != "" && x1-x0 > float64(7*len(s.Label)) {
					fmt.Fprintf(w, "<text class=\"label\" x=\"%.1f\" y=\"%.0f\">%s</text>", x0+3, y+13, esc(s.Label))
				}
			}
			for _, m := range r.Marks {
				fmt.Fprintf(w, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"><title>%s\nat %s</title></line>",
					m.Class, x(m.At), y+rowHeight-5, x(m.At), y+rowHeight, esc(m.Title), fmtExact(m.At))
			}
			fmt.Fprintf(w, "</g>")
			y += rowHeight + rowGap
		}
		fmt.Fprintf(w, "</g>\n")
		y += laneGap
	}
	fmt.Fprintf(w, "</svg></div>\n</body></html>\n")
	return w.Flush()
}

// order draws the windows first, the terms over them, the pauses on top.
var order = map[string]int{LockDelay: 0, Deadline: 1, Term: 2, Paused: 3}

// tokenColour gives each token its own hue, neighbours far apart.
func tokenColour(token uint64) string {
	return fmt.Sprintf("hsl(%d, 65%%, 55%%)", (token*137)%360)
}

// tickStep is the axis's step: the smallest of 1s, 5s, 10s, 30s, 1m, 5m,
// 10m with ticks at least 60px apart.
func tickStep(end time.Duration, scale float64) time.Duration {
	for _, s := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 5 * time.Minute, 10 * time.Minute} {
		if s.Seconds()*scale >= 60 {
			return s
		}
	}
	return 30 * time.Minute
}

func fmtAxis(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.0fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// fmtExact is an offset with millisecond precision, as the hover text
// gives it: "12.345s".
func fmtExact(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func between(from, to time.Duration) string {
	return fmt.Sprintf("from %s to %s (%s)", fmtExact(from), fmtExact(to), (to - from).Round(time.Millisecond))
}

func esc(s string) string { return html.EscapeString(s) }

// cssName keeps letters, digits and dashes.
func cssName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

const style = `body{font:13px system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 4px}
.scroll{overflow-x:auto;border:1px solid #ddd}
svg text{font:11px system-ui,sans-serif}
.axis line{stroke:#eee}.axis text{fill:#888}
.name{font-weight:bold}.row-name{text-anchor:end;fill:#666}
.base{stroke:#ccc}
.term{stroke:#333;stroke-width:.5}
.paused{fill:#555;opacity:.55}
.lockdelay{fill:#f4c542;opacity:.5}
.deadline{fill:none;stroke:#d33;stroke-width:1.5;stroke-dasharray:3 2}
.label{fill:#fff;pointer-events:none}
.accepted{stroke:#1a7f37;stroke-width:1}
.rejected{stroke:#d1242f;stroke-width:2}
.fault rect{fill:#8250df;opacity:.85}.fault rect.band{opacity:.07}
.fault text{fill:#fff;font-size:10px;pointer-events:none}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:22px;height:10px;margin-right:4px;vertical-align:middle}`

const legend = `<p class="legend"><span><i style="background:hsl(40,65%,55%)"></i>term or hold (one colour per fencing token)</span>` +
	`<span><i style="background:#555;opacity:.55"></i>process stopped or dead</span>` +
	`<span><i style="background:#f4c542;opacity:.5"></i>lock-delay (nobody can take the key)</span>` +
	`<span><i style="border:1.5px dashed #d33;height:8px"></i>term still running after its key was lost (its demote deadline ends it)</span>` +
	`<span><i style="background:#8250df"></i>fault (injected to healed)</span>` +
	`<span><i style="border-left:2px solid #1a7f37"></i>fenced write accepted</span>` +
	`<span><i style="border-left:2px solid #d1242f"></i>fenced write rejected</span>` +
	` Hover over anything for its exact times (seconds from the start of the run).</p>`
