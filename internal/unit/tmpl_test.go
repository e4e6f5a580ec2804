package unit

import (
	"reflect"
	"strings"
	"testing"
	"text/template"
)

type tmplData struct {
	Name  string
	N     int
	On    bool
	List  []string
	Pairs []launchdEnv
}

// TestTemplateEngine checks the small engine against text/template, whose
// syntax and meaning it copies, on every construct the templates use.
func TestTemplateEngine(t *testing.T) {
	data := tmplData{Name: "myd", N: 7, On: true, List: []string{"a", "b"}, Pairs: []launchdEnv{{"K", "V"}, {"X", "Y"}}}
	empty := tmplData{}
	tests := map[string]string{
		"value":         "name={{.Name}} n={{.N}} on={{.On}}\n",
		"if":            "{{if .On}}yes{{end}}|{{if .Name}}named{{end}}|{{if .N}}n{{end}}",
		"if not":        "{{if not .On}}off{{else}}on{{end}}",
		"else":          "{{if .List}}list{{else}}none{{end}}",
		"range":         "{{range .List}}[{{.}}]{{end}}",
		"range structs": "{{range .Pairs}}{{.Key}}={{.Value}};{{end}}",
		"trim":          "a  \n{{- .Name -}}\n  b\n{{- if .On}}\nc{{- end}}\n",
		"comment":       "{{- /* a comment\n over lines */ -}}\nx",
		"nested":        "{{range .Pairs}}{{if .Key}}<{{.Key}}>{{end}}{{end}}",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			want := template.Must(template.New("").Option("missingkey=error").Parse(src))
			nodes, err := parseTemplate(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []tmplData{data, empty} {
				var w strings.Builder
				if err := want.Execute(&w, d); err != nil {
					t.Fatal(err)
				}
				var got strings.Builder
				if err := execute(&got, nodes, reflect.ValueOf(d)); err != nil {
					t.Fatal(err)
				}
				if got.String() != w.String() {
					t.Fatalf("got %q, text/template says %q", got.String(), w.String())
				}
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := map[string]struct{ src, want string }{
		"unclosed action":  {"{{.Name", "unclosed action"},
		"unclosed comment": {"{{/* x }}", "unclosed comment"},
		"no end":           {"{{if .On}}x", "without {{end}}"},
		"stray end":        {"x{{end}}", "unexpected {{end}}"},
		"function":         {"{{printf .Name}}", "cannot parse"},
		"bad field":        {"{{.Na-me}}", "cannot parse"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parseTemplate(tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseTemplate(%q) = %v, want an error containing %q", tt.src, err, tt.want)
			}
		})
	}
	nodes, _ := parseTemplate("{{.Missing}}")
	var b strings.Builder
	if err := execute(&b, nodes, reflect.ValueOf(tmplData{})); err == nil || !strings.Contains(err.Error(), "no field Missing") {
		t.Fatalf("missing field: %v", err)
	}
}
