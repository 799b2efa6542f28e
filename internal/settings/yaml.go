package settings

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DecodeYAML sets the settings of the struct cfg points to from the YAML
// mapping n, leaving the fields n does not name as they are: decoding a
// scenario's section over a copy of the suite's defaults merges the two.
// Keys are the json tags' names; a nested struct is a nested mapping.
//
// Decoding is strict. Every problem (an unknown key, a value of the wrong
// type, a bad duration or size) is reported, as a *yaml.TypeError whose
// entries read "line N: ...", the form yaml.Decoder reports in. section
// names n in those messages ("server"); owned maps the keys a file may not
// set to the reason, given as the error.
func DecodeYAML(n *yaml.Node, cfg any, section string, owned map[string]string) error {
	var errs []string
	decodeMap(n, reflect.ValueOf(cfg).Elem(), section, owned, &errs)
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

func decodeMap(n *yaml.Node, v reflect.Value, section string, owned map[string]string, errs *[]string) {
	bad := func(n *yaml.Node, format string, a ...any) {
		*errs = append(*errs, fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, a...)))
	}
	if n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null") {
		return // absent or empty: nothing to set
	}
	if n.Kind != yaml.MappingNode {
		bad(n, "%s: want a mapping of settings (%s)", section, strings.Join(known(v.Type(), owned), ", "))
		return
	}
	fields := map[string]reflect.StructField{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if name, ok := key(f); ok {
			fields[name] = f
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name := k.Value
		if why, ok := owned[name]; ok {
			bad(k, "%s.%s cannot be set in a scenario: %s", section, name, why)
			continue
		}
		f, ok := fields[name]
		if !ok {
			bad(k, "unknown key %q in %s (known keys: %s)", name, section, strings.Join(known(v.Type(), owned), ", "))
			continue
		}
		if seen[name] {
			bad(k, "%s.%s is set twice", section, name)
			continue
		}
		seen[name] = true
		fv := v.FieldByIndex(f.Index)
		if isGroup(f.Type) {
			decodeMap(val, fv, section+"."+name, nil, errs)
			continue
		}
		if err := decodeValue(val, fv, name, f.Tag.Get("unit") == "bytes"); err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) { // "line N: cannot unmarshal ..."
				for _, e := range te.Errors {
					line, msg, ok := strings.Cut(e, ": ")
					if !ok {
						line, msg = fmt.Sprintf("line %d", val.Line), e
					}
					*errs = append(*errs, fmt.Sprintf("%s: %s.%s: %s", line, section, name, msg))
				}
				continue
			}
			bad(val, "%s.%s: %v", section, name, err)
		}
	}
}

// decodeValue sets the setting v, called name, from the scalar n.
func decodeValue(n *yaml.Node, v reflect.Value, name string, size bool) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a single value, not a %s", kindName(n.Kind))
	}
	if _, text := v.Addr().Interface().(encoding.TextUnmarshaler); text {
		if err := set(v, size, n.Value); err != nil {
			return fmt.Errorf("bad %s %q: %w", name, n.Value, err)
		}
		return nil
	}
	if v.Type() == durationType || size {
		return set(v, size, n.Value)
	}
	// yaml truncates a float into an integer field (conns: 1.5 is 1).
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.ShortTag() == "!!float" {
			return fmt.Errorf("%s is not a whole number", n.Value)
		}
	}
	// Numbers, strings and booleans: yaml's own resolution and messages
	// ("cannot unmarshal !!str `many` into int").
	return n.Decode(v.Addr().Interface())
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "YAML node"
	}
}

// known lists the keys of the struct type t that a file may set.
func known(t reflect.Type, owned map[string]string) []string {
	var names []string
	for i := range t.NumField() {
		name, ok := key(t.Field(i))
		if _, isOwned := owned[name]; ok && !isOwned {
			names = append(names, name)
		}
	}
	return names
}
