package demo

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// step is one line of the story: who tried what, which layer answered.
type step struct {
	Who    string
	Tried  string
	Layer  string // "ok" when it went through
	Code   string
	Reason string
	Pass   bool // it behaved as the kit promises
}

type palette struct{ green, red, dim, bold, reset string }

func colors(on bool) palette {
	if !on {
		return palette{}
	}
	return palette{green: "\x1b[32m", red: "\x1b[31m", dim: "\x1b[2m", bold: "\x1b[1m", reset: "\x1b[0m"}
}

// The layout fits an 80-column terminal: the step's number and who acted,
// then what they tried, wrapped; under it the layer and code, whole, and
// the reason, wrapped. Nothing is cut.
const (
	width      = 80
	numWidth   = 3  // "14 "
	whoWidth   = 11 // "scheduler  "
	markWidth  = 5  // " FAIL"
	indent     = numWidth + whoWidth
	triedWidth = width - indent - markWidth
	textWidth  = width - indent
)

// printTable prints the steps, each as a block of lines no wider than 80
// columns.
func printTable(w io.Writer, steps []step, color bool) {
	p := colors(color)
	pad := strings.Repeat(" ", indent)
	fmt.Fprintf(w, "%s%-*s%-*s%s%s\n", p.bold, numWidth, "#", whoWidth, "who", "tried → the layer that answered, its code and reason", p.reset)
	for i, s := range steps {
		mark, markColor := "ok", p.green
		if !s.Pass {
			mark, markColor = "FAIL", p.red
		}
		tried := wrap(s.Tried, triedWidth)
		for j, line := range tried {
			prefix := pad
			if j == 0 {
				prefix = fmt.Sprintf("%-*d%-*s", numWidth, i+1, whoWidth, fitWho(s.Who))
			}
			if j == 0 {
				fmt.Fprintf(w, "%s%-*s%s%*s%s\n", prefix, triedWidth, line, markColor, markWidth, mark, p.reset)
			} else {
				fmt.Fprintf(w, "%s%s\n", prefix, line)
			}
		}
		answer := s.Layer
		if s.Code != "" {
			answer += " · " + s.Code
		}
		for _, line := range wrap("→ "+answer, textWidth) {
			fmt.Fprintf(w, "%s%s%s%s\n", pad, p.bold, line, p.reset)
		}
		if s.Reason != "" {
			for _, line := range wrap(s.Reason, textWidth-2) {
				fmt.Fprintf(w, "%s  %s%s%s\n", pad, p.dim, line, p.reset)
			}
		}
	}
}

// fitWho keeps the who column one word wide; the cast's names fit.
func fitWho(who string) string {
	if utf8.RuneCountInString(who) < whoWidth {
		return who
	}
	return string([]rune(who)[:whoWidth-1])
}

// wrap breaks s into lines of at most n runes at spaces, and breaks a
// word longer than a line (an id, a path) where it must.
func wrap(s string, n int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		for utf8.RuneCountInString(word) > n {
			if line != "" {
				lines = append(lines, line)
				line = ""
			}
			r := []rune(word)
			lines = append(lines, string(r[:n]))
			word = string(r[n:])
		}
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= n:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" || len(lines) == 0 {
		lines = append(lines, line)
	}
	return lines
}
