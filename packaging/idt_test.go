package packaging

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseIDT(t *testing.T) {
	good := map[string]struct {
		in   string
		want *idtTable
	}{
		"rows": {
			"A\tB\r\ns72\tI2\r\nT\tA\r\nx\t1\r\ny\t\r\n",
			&idtTable{Name: "T", Columns: []string{"A", "B"}, Types: []string{"s72", "I2"}, Keys: []string{"A"}, Rows: [][]string{{"x", "1"}, {"y", ""}}},
		},
		"no rows": {"A\r\ns72\r\nT\tA\r\n", &idtTable{Name: "T", Columns: []string{"A"}, Types: []string{"s72"}, Keys: []string{"A"}}},
		"codepage": {
			"A\r\nl0\r\n1252\tT\tA\r\nh\xc3\xa9\r\n",
			&idtTable{Name: "T", Codepage: 1252, Columns: []string{"A"}, Types: []string{"l0"}, Keys: []string{"A"}, Rows: [][]string{{"hé"}}},
		},
		"line breaks in values": {
			"A\r\ns0\r\nT\tA\r\na\x11\x19b\x19c\x11d\r\n",
			&idtTable{Name: "T", Columns: []string{"A"}, Types: []string{"s0"}, Keys: []string{"A"}, Rows: [][]string{{"a\r\nb\nc\rd"}}},
		},
		"force codepage": {"\r\n\r\n1252\t_ForceCodepage\r\n\x00", &idtTable{Name: "_ForceCodepage", Codepage: 1252}},
		"LF only":        {"A\ns72\nT\tA\nx\n", &idtTable{Name: "T", Columns: []string{"A"}, Types: []string{"s72"}, Keys: []string{"A"}, Rows: [][]string{{"x"}}}},
	}
	for name, tt := range good {
		t.Run(name, func(t *testing.T) {
			got, err := parseIDT([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	bad := map[string]string{
		"empty":            "",
		"two lines":        "A\r\ns72\r\n",
		"no final newline": "A\r\ns72\r\nT\tA",
		"type count":       "A\tB\r\ns72\r\nT\tA\r\n",
		"bad type":         "A\r\nx72\r\nT\tA\r\n",
		"int width":        "A\r\ni3\r\nT\tA\r\n",
		"short row":        "A\tB\r\ns72\ts72\r\nT\tA\r\nx\r\n",
		"long row":         "A\r\ns72\r\nT\tA\r\nx\ty\r\n",
		"bad int":          "A\r\ni2\r\nT\tA\r\nx\r\n",
		"int range":        "A\r\ni2\r\nT\tA\r\n40000\r\n",
		"unknown key":      "A\r\ns72\r\nT\tB\r\n",
		"no key":           "A\r\ns72\r\nT\r\n",
		"bad table name":   "A\r\ns72\r\n1T\tA\tB\r\n",
		"duplicate column": "A\tA\r\ns72\ts72\r\nT\tA\r\n",
		"lone CR":          "A\r\ns72\r\nT\tA\r\nx\ry\r\n",
		"not UTF-8":        "A\r\ns72\r\nT\tA\r\n\xff\r\n",
		"bad codepage":     "\r\n\r\nx\t_ForceCodepage\r\n",
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if tb, err := parseIDT([]byte(in)); err == nil {
				t.Fatalf("parsed: %+v", tb)
			} else if !strings.HasPrefix(err.Error(), "idt: ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q", err)
			}
		})
	}
}

// FuzzParseIDT: parseIDT never panics, and what it parses it writes back
// (format) to text it parses to the same table.
func FuzzParseIDT(f *testing.F) {
	f.Add([]byte("ServiceControl\tName\tEvent\tArguments\tWait\tComponent_\r\ns72\tl255\ti2\tL255\tI2\ts72\r\nServiceControl\tServiceControl\r\nServiceControl\tmyd\t163\t\t1\tProgramComponent\r\n"))
	f.Add([]byte("\r\n\r\n0\t_ForceCodepage\r\n\x00"))
	f.Add([]byte("A\r\nl0\r\n1252\tT\tA\r\na\x11\x19b\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := parseIDT(data)
		if err != nil {
			if tb != nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q with a table", err)
			}
			return
		}
		again, err := parseIDT(tb.format())
		if err != nil {
			t.Fatalf("parse(format(%+v)): %v\n%q", tb, err, tb.format())
		}
		if !reflect.DeepEqual(again, tb) {
			t.Fatalf("round trip:\n%+v\n%+v", tb, again)
		}
	})
}
