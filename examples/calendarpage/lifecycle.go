package main

import (
	"fmt"
	"html"
	"slices"
	"strings"

	"github.com/relman-dev/relman"
)

// stageColors are the colours of the stages on the page, by stage; a
// stage of a custom lifecycle not listed here is grey.
var stageColors = map[relman.Stage]string{
	relman.StageProposed:   "#9e9e9e",
	relman.StageApproved:   "#7986cb",
	relman.StagePlanned:    "#42a5f5",
	relman.StageBuilding:   "#26a69a",
	relman.StageTesting:    "#ffb300",
	relman.StageVerified:   "#9ccc65",
	relman.StageAuthorized: "#43a047",
	relman.StageDeploying:  "#ab47bc",
	relman.StageOperating:  "#1e88e5",
	relman.StageClosed:     "#546e7a",
	relman.StageRejected:   "#8d6e63",
	relman.StageCancelled:  "#bdbdbd",
	relman.StageRolledBack: "#e53935",
}

func stageColor(st relman.Stage) string {
	if c, ok := stageColors[st]; ok {
		return c
	}
	return "#9e9e9e"
}

// lifecycleSVG draws the lifecycle: the stages of the main path (in
// display order, up to the first terminal stage) in a row, the other
// terminal stages below the stages they are reached from; forward events
// as arrows along the row, events going back as arcs above it, and
// events leaving the path as lines down to the lower row.
func lifecycleSVG(lc *relman.Lifecycle) string {
	const (
		boxW, boxH = 92, 30
		gapX       = 62
		top        = 70 // room for the arcs of backward events
		rowGap     = 90
	)
	stages := lc.Stages()
	pos := map[relman.Stage][2]int{} // centre x, y
	var main, side []relman.Stage
	for _, st := range stages {
		if len(main) > 0 && lc.Terminal(main[len(main)-1]) {
			side = append(side, st)
			continue
		}
		main = append(main, st)
	}
	for i, st := range main {
		pos[st] = [2]int{20 + i*(boxW+gapX) + boxW/2, top + boxH/2}
	}
	// Side stages sit under the mean of their sources, spread apart.
	events := lc.Events()
	used := map[int]bool{}
	for _, st := range side {
		sum, n := 0, 0
		for _, e := range events {
			if e.To != st {
				continue
			}
			for _, f := range e.From {
				if p, ok := pos[f]; ok {
					sum += p[0]
					n++
				}
			}
		}
		x := 20 + boxW/2
		if n > 0 {
			x = sum / n
		}
		slot := (x - 20) / (boxW + gapX)
		for used[slot] {
			slot++
		}
		used[slot] = true
		pos[st] = [2]int{20 + slot*(boxW+gapX) + boxW/2, top + boxH/2 + rowGap}
	}
	width := 40 + len(main)*(boxW+gapX)
	height := top + boxH + rowGap + 20

	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="lifecycle-diagram" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" style="max-width:100%%;height:auto" role="img" aria-label="release lifecycle">`, width, height, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>`)
	index := func(st relman.Stage) int { return slices.Index(main, st) }
	labelled := map[string]bool{}
	for _, e := range events {
		to, ok := pos[e.To]
		if !ok {
			continue
		}
		for _, f := range e.From {
			from, ok := pos[f]
			if !ok {
				continue
			}
			label := ""
			key := string(e.Name) + "→" + string(e.To)
			if !labelled[key] {
				label, labelled[key] = string(e.Name), true
			}
			fi, ti := index(f), index(e.To)
			switch {
			case ti >= 0 && fi >= 0 && ti == fi+1: // next on the row
				x1, x2 := from[0]+boxW/2, to[0]-boxW/2
				fmt.Fprintf(&b, `<line class="edge" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555" marker-end="url(#arrow)"/>`, x1, from[1], x2, to[1])
				fmt.Fprintf(&b, `<text class="event" x="%d" y="%d" text-anchor="middle" font-size="9" fill="#333">%s</text>`, (x1+x2)/2, from[1]-6, html.EscapeString(label))
			case ti >= 0 && fi >= 0: // back (or a jump) along the row: an arc above
				y := from[1] - boxH/2
				h := 18 + 8*abs(fi-ti)
				fmt.Fprintf(&b, `<path class="edge back" d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="#888" stroke-dasharray="4 3" marker-end="url(#arrow)"/>`,
					from[0], y, from[0], y-h, to[0], y-h, to[0]+6, y)
				if label != "" {
					fmt.Fprintf(&b, `<text class="event" x="%d" y="%d" text-anchor="middle" font-size="9" fill="#333">%s</text>`, (from[0]+to[0])/2, y-h*3/4, html.EscapeString(label))
				}
			default: // down to a side stage
				fmt.Fprintf(&b, `<line class="edge side" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#aaa" marker-end="url(#arrow)"/>`, from[0], from[1]+boxH/2, to[0], to[1]-boxH/2)
				if label != "" {
					fmt.Fprintf(&b, `<text class="event" x="%d" y="%d" text-anchor="middle" font-size="9" fill="#333">%s</text>`, to[0], to[1]-boxH/2-6, html.EscapeString(label))
				}
			}
		}
	}
	for _, st := range stages {
		p := pos[st]
		stroke := ""
		if lc.Terminal(st) {
			stroke = ` stroke="#222" stroke-width="2.5"`
		}
		fmt.Fprintf(&b, `<g class="stage" data-stage="%s"><rect x="%d" y="%d" width="%d" height="%d" rx="8" fill="%s"%s/><text x="%d" y="%d" text-anchor="middle" font-size="11" fill="#fff" font-weight="600">%s</text></g>`,
			html.EscapeString(string(st)), p[0]-boxW/2, p[1]-boxH/2, boxW, boxH, stageColor(st), stroke, p[0], p[1]+4, html.EscapeString(string(st)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
