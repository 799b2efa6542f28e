package settings

import (
	"encoding"
	"flag"
	"reflect"
)

// BindFlags defines a flag on fs for every setting of the struct cfg points
// to (see Fields): --max-msg sets cfg.MaxMsg, --work-cpu cfg.Work.CPU. Each
// flag's default is the field's value when BindFlags is called, so fill cfg
// with its defaults first.
func BindFlags(fs *flag.FlagSet, cfg any) {
	v := reflect.ValueOf(cfg).Elem()
	for _, f := range Fields(v.Type()) {
		fs.Var(&value{v: v.FieldByIndex(f.Index), size: f.Size}, f.Flag, f.Help)
	}
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
	return format(f.v)
}

func (f *value) Set(s string) error { return set(f.v, f.size, s) }

// IsBoolFlag lets a bool setting be given as --churn, without a value.
func (f *value) IsBoolFlag() bool { return f.v.Kind() == reflect.Bool }
