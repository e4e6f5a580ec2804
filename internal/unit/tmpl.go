package unit

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// A small template engine for the unit and plist templates: the subset of
// text/template they use, with the same syntax and meaning:
//
//	{{.Field}} {{.}}                       a value (string, int, bool)
//	{{if .F}} {{if not .F}} {{else}} {{end}} truth: non-zero, non-empty
//	{{range .F}} ... {{end}}               over a slice; {{.}} is the element
//	{{/* comment */}}                      nothing
//	{{- and -}}                            trim the white space beside them
//
// It exists because linking text/template costs every program built on
// sole: text/template calls reflect.Value.MethodByName, which makes the
// linker keep every exported method of every type in the binary, about
// 3 MB here, paid in start-up time and resident memory by `sole run` and by
// every service on each start. Field access through reflect does not.

type node struct {
	kind  nodeKind
	text  string // nodeText: the text; else the field path ("" for ".")
	not   bool   // nodeIf: {{if not .F}}
	body  []node // nodeIf, nodeRange
	elseB []node // nodeIf
}

type nodeKind int

const (
	nodeText nodeKind = iota
	nodeValue
	nodeIf
	nodeRange
)

// parseTemplate parses src. Errors name the offending action.
func parseTemplate(src string) ([]node, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	nodes, rest, end, err := parseList(toks)
	if err != nil {
		return nil, err
	}
	if end != "" || len(rest) != 0 {
		return nil, fmt.Errorf("template: unexpected {{%s}}", end)
	}
	return nodes, nil
}

type token struct {
	action bool
	text   string
}

// lex splits src into text and actions, applying the trim markers.
func lex(src string) ([]token, error) {
	var toks []token
	for len(src) > 0 {
		i := strings.Index(src, "{{")
		if i < 0 {
			toks = append(toks, token{text: src})
			break
		}
		text := src[:i]
		src = src[i+2:]
		if strings.HasPrefix(src, "- ") || strings.HasPrefix(src, "-\n") || strings.HasPrefix(src, "-\t") {
			text = strings.TrimRight(text, " \t\r\n")
			src = src[1:]
		}
		j := strings.Index(src, "}}")
		if j < 0 {
			return nil, errors.New("template: unclosed action")
		}
		action := src[:j]
		src = src[j+2:]
		if strings.HasSuffix(action, " -") || strings.HasSuffix(action, "\n-") || strings.HasSuffix(action, "\t-") {
			action = action[:len(action)-1]
			src = strings.TrimLeft(src, " \t\r\n")
		}
		if text != "" {
			toks = append(toks, token{text: text})
		}
		action = strings.TrimSpace(action)
		if strings.HasPrefix(action, "/*") {
			if !strings.HasSuffix(action, "*/") {
				return nil, errors.New("template: unclosed comment")
			}
			continue
		}
		toks = append(toks, token{action: true, text: action})
	}
	return toks, nil
}

// parseList parses nodes up to an {{else}} or {{end}}, which it returns.
func parseList(toks []token) (nodes []node, rest []token, end string, err error) {
	for len(toks) > 0 {
		t := toks[0]
		toks = toks[1:]
		if !t.action {
			nodes = append(nodes, node{kind: nodeText, text: t.text})
			continue
		}
		fields := strings.Fields(t.text)
		switch {
		case t.text == "else" || t.text == "end":
			return nodes, toks, t.text, nil
		case len(fields) == 1 && isField(fields[0]):
			nodes = append(nodes, node{kind: nodeValue, text: fields[0][1:]})
		case len(fields) >= 2 && (fields[0] == "if" || fields[0] == "range"):
			n := node{kind: nodeIf}
			arg := fields[1:]
			if fields[0] == "range" {
				n.kind = nodeRange
			} else if len(arg) == 2 && arg[0] == "not" {
				n.not, arg = true, arg[1:]
			}
			if len(arg) != 1 || !isField(arg[0]) {
				return nil, nil, "", fmt.Errorf("template: cannot parse {{%s}}", t.text)
			}
			n.text = arg[0][1:]
			var end string
			n.body, toks, end, err = parseList(toks)
			if err != nil {
				return nil, nil, "", err
			}
			if end == "else" && n.kind == nodeIf {
				n.elseB, toks, end, err = parseList(toks)
				if err != nil {
					return nil, nil, "", err
				}
			}
			if end != "end" {
				return nil, nil, "", fmt.Errorf("template: {{%s}} without {{end}}", t.text)
			}
			nodes = append(nodes, n)
		default:
			return nil, nil, "", fmt.Errorf("template: cannot parse {{%s}}", t.text)
		}
	}
	return nodes, nil, "", nil
}

// isField reports whether s is "." or ".Name".
func isField(s string) bool {
	if s == "." {
		return true
	}
	if len(s) < 2 || s[0] != '.' {
		return false
	}
	for _, r := range s[1:] {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// execute renders nodes with data (a struct, or an element of a range)
// into b.
func execute(b *strings.Builder, nodes []node, data reflect.Value) error {
	for _, n := range nodes {
		if n.kind == nodeText {
			b.WriteString(n.text)
			continue
		}
		v, err := field(data, n.text)
		if err != nil {
			return err
		}
		switch n.kind {
		case nodeValue:
			if err := writeValue(b, v, n.text); err != nil {
				return err
			}
		case nodeIf:
			body := n.elseB
			if truth(v) != n.not {
				body = n.body
			}
			if err := execute(b, body, data); err != nil {
				return err
			}
		case nodeRange:
			if v.Kind() != reflect.Slice {
				return fmt.Errorf("template: range over %s, a %s", n.text, v.Kind())
			}
			for i := 0; i < v.Len(); i++ {
				if err := execute(b, n.body, v.Index(i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func field(data reflect.Value, name string) (reflect.Value, error) {
	if name == "" {
		return data, nil
	}
	if data.Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("template: .%s of a %s", name, data.Kind())
	}
	v := data.FieldByName(name)
	if !v.IsValid() {
		return reflect.Value{}, fmt.Errorf("template: no field %s", name)
	}
	return v, nil
}

func writeValue(b *strings.Builder, v reflect.Value, name string) error {
	switch v.Kind() {
	case reflect.String:
		b.WriteString(v.String())
	case reflect.Int, reflect.Int64, reflect.Int32:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	default:
		return fmt.Errorf("template: cannot print .%s, a %s", name, v.Kind())
	}
	return nil
}

func truth(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Bool:
		return v.Bool()
	case reflect.String, reflect.Slice:
		return v.Len() > 0
	case reflect.Int, reflect.Int64, reflect.Int32:
		return v.Int() != 0
	}
	return !v.IsZero()
}
