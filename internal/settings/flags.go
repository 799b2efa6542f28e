package settings

import (
	"encoding"
	"flag"
	"reflect"
	"strconv"
	"strings"
)

// BindFlags defines a flag on fs for every setting of the struct cfg points
// to (see Fields): --max-msg sets cfg.MaxMsg, --work-cpu cfg.Work.CPU. Each
// flag's default is the field's value when BindFlags is called, so fill cfg
// with its defaults first. A number whose default is not 0 says in its help
// that 0 means the default (every Config fills in its zero values), unless
// the help already says what 0 means.
func BindFlags(fs *flag.FlagSet, cfg any) {
	v := reflect.ValueOf(cfg).Elem()
	for _, f := range Fields(v.Type()) {
		fv := v.FieldByIndex(f.Index)
		help := f.Help
		if isNumber(fv) && !fv.IsZero() && !strings.Contains(help, "0 =") {
			help += " (0 means the default)"
		}
		fs.Var(&value{v: fv, size: f.Size}, f.Flag, help)
	}
}

func isNumber(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// formatSize is a byte count in the largest binary unit that divides it
// (256MiB, 16KiB, 1000), as ParseSize reads it back.
func formatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// value is one setting as a flag.Value.
type value struct {
	v    reflect.Value
	size bool
}

func (f *value) String() string {
	if f == nil || !f.v.IsValid() {
		return "" // flag's zero-value probe
	}
	if _, named := f.v.Interface().(encoding.TextMarshaler); !named && f.v.IsZero() {
		return "" // as the flag package's own numbers: no "(default 0)"
	}
	if f.size {
		return formatSize(f.v.Int())
	}
	return format(f.v)
}

func (f *value) Set(s string) error { return set(f.v, f.size, s) }

// IsBoolFlag lets a bool setting be given as --churn, without a value.
func (f *value) IsBoolFlag() bool { return f.v.Kind() == reflect.Bool }
