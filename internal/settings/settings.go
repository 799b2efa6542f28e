// Package settings turns a config struct (servers.Config, loadgen.Config)
// into the three forms a user writes it in: scenario YAML, command-line flags
// and the JSON the runner hands a server. The struct is the only table: each
// field's json tag names it everywhere (the YAML key "max_msg", the flag
// --max-msg, the JSON key "max_msg"), its help tag is its flag's help, and a
// `unit:"bytes"` tag makes an int a size that accepts 16KiB or 1MiB. Fields
// of struct type (protocol.Work) nest: YAML work: {cpu: 1ms}, flag --work-cpu.
//
// Durations are Go strings ("300ms") in YAML and flags and nanoseconds in
// JSON (encoding/json's own form, as results.json records them).
package settings

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Field is one setting of a config struct.
type Field struct {
	// Key is the json tag's name, dotted under a nested struct ("work.cpu"):
	// the YAML and JSON key.
	Key string
	// Flag is the command-line flag's name: Key with '.' and '_' as '-'.
	Flag string
	// Help is the help tag.
	Help string
	// Size marks an int counting bytes (tag unit:"bytes").
	Size bool
	// Index is the field's index path from the top struct, for
	// reflect.Value.FieldByIndex.
	Index []int
}

// Fields lists the settings of the struct type t in declaration order,
// nested structs' leaves in place of the struct; fields tagged json:"-" and
// unexported fields are not settings.
func Fields(t reflect.Type) []Field {
	var out []Field
	walk(t, "", nil, &out)
	return out
}

func walk(t reflect.Type, prefix string, index []int, out *[]Field) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, ok := key(f)
		if !ok {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		if isGroup(f.Type) {
			walk(f.Type, prefix+name+".", idx, out)
			continue
		}
		path := prefix + name
		*out = append(*out, Field{
			Key:   path,
			Flag:  strings.NewReplacer(".", "-", "_", "-").Replace(path),
			Help:  f.Tag.Get("help"),
			Size:  f.Tag.Get("unit") == "bytes",
			Index: idx,
		})
	}
}

// isGroup reports whether t is a struct of settings rather than one value.
func isGroup(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != durationType && !reflect.PointerTo(t).Implements(textUnmarshaler)
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// key is the field's name in YAML and JSON, if it is a setting.
func key(f reflect.StructField) (string, bool) {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if !f.IsExported() || name == "-" {
		return "", false
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, true
}

// set parses s into v, which is of a setting's type: a duration, a size (if
// size), a TextUnmarshaler or a string, bool, integer or float.
func set(v reflect.Value, size bool, s string) error {
	if v.Type() == durationType {
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(strings.TrimSpace(s)))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("bad boolean %q: want true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		if size {
			n, err := ParseSize(s)
			if err != nil {
				return err
			}
			v.SetInt(int64(n))
			return nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("bad integer %q", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("bad number %q", s)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("settings: no parser for %s", v.Type())
	}
	return nil
}

// format is v as set accepts it back.
func format(v reflect.Value) string {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		if err != nil {
			return fmt.Sprint(v.Interface())
		}
		return string(b)
	}
	return fmt.Sprint(v.Interface())
}

// ParseDuration parses a Go duration ("300ms", "1.5s", "2m"); a bare
// number is refused because its unit would be a guess, and so is a negative
// duration.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want a number with a unit, e.g. 300ms, 1.5s or 2m", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	return d, nil
}

// sizeUnits are the units ParseSize accepts; K, M and G are binary, like
// KiB, MiB and GiB.
var sizeUnits = []struct {
	suffix string
	mult   int
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
	{"B", 1},
}

// MaxSize bounds a size (1 TiB).
const MaxSize = 1 << 40

// ParseSize parses a byte count: a non-negative integer with an optional
// unit B, KB, MB, GB (powers of 1000), KiB, MiB, GiB or K, M, G (powers of
// 1024), e.g. 16384, 16KiB, 1MiB, 4MB, 512B, 1G.
func ParseSize(s string) (int, error) {
	str, mult := strings.TrimSpace(s), 1
	for _, u := range sizeUnits {
		if strings.HasSuffix(str, u.suffix) {
			str, mult = strings.TrimSpace(strings.TrimSuffix(str, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(str)
	if err != nil || n < 0 || n > MaxSize/mult {
		return 0, fmt.Errorf("bad size %q: want bytes, e.g. 16384, 16KiB or 1MiB", s)
	}
	return n * mult, nil
}
