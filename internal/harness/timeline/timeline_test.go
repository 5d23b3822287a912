package timeline

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// samplePage has three lanes, each with one term of its own token (the
// tokens' colours are far apart), a fault, windows and writes.
func samplePage() *Page {
	s := time.Second
	p := &Page{Title: "test run", About: "three candidates", End: 12 * s,
		Faults: []Fault{{From: 4 * s, To: 5 * s, Kind: "kill-leader", Label: "1", Title: "fault 1: kill-leader on cand-1"}}}
	for i, tok := range []uint64{1, 2, 3} {
		from := time.Duration(i*4) * s
		p.Lanes = append(p.Lanes, Lane{Name: fmt.Sprintf("cand-%d", i+1), Rows: []Row{
			{Name: "leader", Spans: []Span{{From: from, To: from + 3*s, Class: Term, Token: tok, Label: fmt.Sprint("token ", tok), Title: "term"}},
				Marks: []Mark{{At: from + s, Class: Accepted, Title: "write"}, {At: from + 2*s, Class: Rejected, Title: "write"}}},
			{Name: "mutex", Spans: []Span{{From: from + 3*s, To: from + 4*s, Class: LockDelay, Title: "lock-delay"},
				{From: from + 3*s, To: from + 3500*time.Millisecond, Class: Deadline, Title: "deadline"}}},
		}})
	}
	return p
}

func TestPageIsSelfContainedAndWellFormed(t *testing.T) {
	var b bytes.Buffer
	if err := samplePage().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "<link", "src=", "url(", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("page has %q: not self-contained", bad)
		}
	}
	i, j := strings.Index(page, "<svg"), strings.Index(page, "</svg>")
	if i < 0 || j < i {
		t.Fatal("no inline svg")
	}
	dec := xml.NewDecoder(strings.NewReader(page[i : j+len("</svg>")]))
	lanes := 0
	titles := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("svg is not well-formed XML: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Local == "class" && a.Value == "lane" {
					lanes++
				}
			}
			if se.Name.Local == "title" {
				titles++
			}
		}
	}
	if lanes != 3 {
		t.Errorf("%d lanes, want 3", lanes)
	}
	// 3 terms, 6 windows, 6 writes, 1 fault.
	if titles != 16 {
		t.Errorf("%d hover titles, want 16", titles)
	}
	if !strings.Contains(page, "from 4.000s to 7.000s (3s)") || !strings.Contains(page, "at 5.000s") {
		t.Error("hover text lacks the exact times")
	}
}

// chromium finds a Chromium binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestRendersInChromium loads the page in headless Chromium, takes a
// screenshot, and finds each lane's term in it by its token's colour: the
// three terms must be drawn, one lane under the other, at the times their
// spans give.
func TestRendersInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("SKIP: Chromium is not installed (Debian: apt-get install chromium); the timeline page is not rendered")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "timeline.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := samplePage().WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=900,500", "--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	img := readPNG(t, shot)
	type box struct{ x0, y0, x1, y1 int }
	var boxes []box
	for tok := uint64(1); tok <= 3; tok++ {
		want := hslToRGB(float64((tok*137)%360), .65, .55)
		b := box{math.MaxInt, math.MaxInt, -1, -1}
		n := 0
		bounds := img.Bounds()
		for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
			for x := bounds.Min.X; x < bounds.Max.X; x++ {
				if near(img.At(x, y), want) {
					n++
					b.x0, b.y0, b.x1, b.y1 = min(b.x0, x), min(b.y0, y), max(b.x1, x), max(b.y1, y)
				}
			}
		}
		if n < 100 {
			t.Fatalf("token %d's term (colour %v) is not in the screenshot (%d pixels)", tok, want, n)
		}
		t.Logf("token %d: %d pixels in x %d-%d, y %d-%d", tok, n, b.x0, b.x1, b.y0, b.y1)
		boxes = append(boxes, b)
	}
	for i := 1; i < len(boxes); i++ {
		prev, cur := boxes[i-1], boxes[i]
		if cur.y0 <= prev.y1 {
			t.Errorf("lane %d's term is not below lane %d's", i+1, i)
		}
		// Each term starts 4s after the previous one: 96px at 24px/s.
		if d := cur.x0 - prev.x0; d < 90 || d > 102 {
			t.Errorf("lane %d's term starts %dpx after lane %d's, want 96", i+1, d, i)
		}
		// And lasts 3s: 72px.
		if w := cur.x1 - cur.x0; w < 66 || w > 76 {
			t.Errorf("lane %d's term is %dpx wide, want 72", i+1, w)
		}
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func near(c color.Color, want [3]uint8) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, w uint8) int { return int(a>>8) - int(w) }
	abs := func(x int) int { return max(x, -x) }
	return abs(d(r, want[0])) <= 4 && abs(d(g, want[1])) <= 4 && abs(d(b, want[2])) <= 4
}

func hslToRGB(h, s, l float64) [3]uint8 {
	c := (1 - math.Abs(2*l-1)) * s
	hp := h / 60
	x := c * (1 - math.Abs(math.Mod(hp, 2)-1))
	var r, g, b float64
	switch {
	case hp < 1:
		r, g = c, x
	case hp < 2:
		r, g = x, c
	case hp < 3:
		g, b = c, x
	case hp < 4:
		g, b = x, c
	case hp < 5:
		r, b = x, c
	default:
		r, b = c, x
	}
	m := l - c/2
	to := func(v float64) uint8 { return uint8(math.Round((v + m) * 255)) }
	return [3]uint8{to(r), to(g), to(b)}
}
