package nfc

import (
	"fmt"
	"testing"
)

func TestDiffStates(t *testing.T) {
	a := ReaderState{Name: "A"}
	aTag := ReaderState{Name: "A", Present: true, ATR: []byte{1}}
	aOther := ReaderState{Name: "A", Present: true, ATR: []byte{2}}
	b := ReaderState{Name: "B"}
	bTag := ReaderState{Name: "B", Present: true, ATR: []byte{3}}
	cases := []struct {
		name          string
		before, after []ReaderState
		want          string
	}{
		{"start: tags present are arrivals", nil, []ReaderState{aTag, b}, "[arrival A]"},
		{"nothing changed", []ReaderState{aTag, b}, []ReaderState{aTag, b}, "[]"},
		{"tag arrives", []ReaderState{a, b}, []ReaderState{a, bTag}, "[arrival B]"},
		{"tag leaves", []ReaderState{aTag}, []ReaderState{a}, "[removal A]"},
		{"tag swapped for another kind", []ReaderState{aTag}, []ReaderState{aOther}, "[removal A arrival A]"},
		{"reader plugged in", []ReaderState{a}, []ReaderState{a, bTag}, "[reader_added B arrival B]"},
		{"reader unplugged with its tag", []ReaderState{a, bTag}, []ReaderState{a}, "[removal B reader_removed B]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, e := range diffStates(c.before, c.after) {
				got = append(got, string(e.Kind)+" "+e.Reader)
			}
			if s := fmt.Sprint(got); s != c.want {
				t.Errorf("events %s, want %s", s, c.want)
			}
		})
	}
}
