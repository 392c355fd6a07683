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

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// printTable prints the steps as a fixed-width table.
func printTable(w io.Writer, steps []step, color bool) {
	p := colors(color)
	header := []string{"#", "who", "tried", "layer", "code", "reason", ""}
	widths := []int{2, 10, 44, 10, 22, 60, 4}
	row := func(cells []string, pre, post string) {
		var b strings.Builder
		for i, c := range cells {
			c = truncate(c, widths[i])
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+1))
			}
		}
		fmt.Fprintln(w, pre+strings.TrimRight(b.String(), " ")+post)
	}
	row(header, p.bold, p.reset)
	for i, s := range steps {
		mark, pre := "ok", p.green
		if !s.Pass {
			mark, pre = "FAIL", p.red
		}
		row([]string{fmt.Sprint(i + 1), s.Who, s.Tried, s.Layer, s.Code, s.Reason, pre + mark + p.reset}, "", "")
	}
}
