package convert

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dop251/goja"
)

// Transformation is a converter document of seed 3.2.3: by template
// (Template and the optional Functions) or by function (Code).
type Transformation struct {
	// ID names the transformation; other services reference it.
	ID string `json:"_id"`
	// Template is the JSON template of the result.
	Template any `json:"template,omitempty"`
	// Functions are JavaScript functions by name, called from the
	// template as "=> name(args)".
	Functions map[string]string `json:"functions,omitempty"`
	// Code is a JavaScript function of the source document returning the
	// result.
	Code string `json:"code,omitempty"`
}

// FromDocument reads a transformation from a stored document.
func FromDocument(doc map[string]any) (*Transformation, error) {
	t := &Transformation{}
	t.ID, _ = doc["_id"].(string)
	if v, ok := doc["template"]; ok {
		t.Template = v
	}
	if v, ok := doc["functions"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w %q: functions must be an object of name: source, not %T", ErrInvalid, t.ID, v)
		}
		t.Functions = make(map[string]string, len(m))
		for k, src := range m {
			s, ok := src.(string)
			if !ok {
				return nil, fmt.Errorf("%w %q: functions.%s must be a string of JavaScript, not %T", ErrInvalid, t.ID, k, src)
			}
			t.Functions[k] = s
		}
	}
	if v, ok := doc["code"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%w %q: code must be a string of JavaScript, not %T", ErrInvalid, t.ID, v)
		}
		t.Code = s
	}
	return t, nil
}

// Converter is a compiled transformation; it is safe for concurrent use.
type Converter struct {
	id    string
	lim   Limits
	code  *goja.Program
	tmpl  tnode
	funcs map[string]*goja.Program
}

// Compile checks and compiles t. Problems are ErrInvalid naming the field.
func Compile(t *Transformation, lim Limits) (*Converter, error) {
	lim.Defaults()
	c := &Converter{id: t.ID, lim: lim}
	hasTmpl, hasCode := t.Template != nil, strings.TrimSpace(t.Code) != ""
	switch {
	case hasTmpl && hasCode:
		return nil, fmt.Errorf("%w %q: template and code are exclusive", ErrInvalid, t.ID)
	case !hasTmpl && !hasCode:
		return nil, fmt.Errorf("%w %q: has neither template nor code", ErrInvalid, t.ID)
	case hasCode:
		if len(t.Functions) > 0 {
			return nil, fmt.Errorf("%w %q: functions are used by templates only; code is given", ErrInvalid, t.ID)
		}
		p, err := compileFunction("code", t.Code)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrInvalid, t.ID, err)
		}
		c.code = p
		return c, nil
	}
	c.funcs = make(map[string]*goja.Program, len(t.Functions))
	for name, src := range t.Functions {
		if !isIdent(name) {
			return nil, fmt.Errorf("%w %q: functions.%s: the name is not an identifier", ErrInvalid, t.ID, name)
		}
		p, err := compileFunction("functions."+name, src)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrInvalid, t.ID, err)
		}
		c.funcs[name] = p
	}
	n, err := compileTemplate("template", t.Template, c.funcs)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalid, t.ID, err)
	}
	c.tmpl = n
	return c, nil
}

// compileFunction compiles a function expression ("(d) => {…}",
// "function (d) {…}") in strict mode.
func compileFunction(field, src string) (*goja.Program, error) {
	p, err := goja.Compile(field, "'use strict';\n("+src+"\n)", true)
	if err != nil {
		return nil, fmt.Errorf("%s does not compile: %v", field, err)
	}
	return p, nil
}

// ID is the transformation's _id.
func (c *Converter) ID() string { return c.id }

// Apply transforms src (a document) and returns the result.
func (c *Converter) Apply(src map[string]any) (any, error) {
	if c.code != nil {
		return c.applyCode(src)
	}
	a := &applier{c: c, src: src}
	defer a.end()
	v, ok, err := c.tmpl.eval(a)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("converter %q: the result is not JSON data: %w", c.id, err)
	}
	if len(b) > c.lim.MaxOutputBytes {
		return nil, fmt.Errorf("%w: converter %q: result of %d bytes as JSON (limit %d)", ErrTooLarge, c.id, len(b), c.lim.MaxOutputBytes)
	}
	return v, nil
}

func (c *Converter) applyCode(src map[string]any) (any, error) {
	k := newCall(&c.lim)
	defer k.end()
	fn, err := k.function("code", c.code)
	if err != nil {
		return nil, err
	}
	in, err := k.toJS(src)
	if err != nil {
		return nil, fmt.Errorf("converter %q: %w", c.id, err)
	}
	out, err := k.run("code", fn, in)
	if err != nil {
		return nil, fmt.Errorf("converter %q: %w", c.id, err)
	}
	return out, nil
}

// function runs a compiled function expression and returns the function.
func (k *call) function(what string, p *goja.Program) (goja.Callable, error) {
	v, err := k.vm.RunProgram(p)
	if err != nil {
		return nil, k.scriptError(what, err)
	}
	fn, ok := goja.AssertFunction(v)
	if !ok {
		return nil, fmt.Errorf("%w: %s is %s, not a function", ErrScript, what, v.String())
	}
	return fn, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}
