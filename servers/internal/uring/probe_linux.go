package uring

import (
	"fmt"
	"strings"
	"unsafe"
)

// Probe is the set of opcodes the running kernel supports
// (IORING_REGISTER_PROBE, Linux 5.6).
type Probe struct {
	last Op
	ops  [probeOpsLen]bool
}

// Probe asks the kernel which opcodes it supports.
func (r *Ring) Probe() (*Probe, error) {
	p := new(probe)
	if err := r.register(registerProbe, unsafe.Pointer(p), probeOpsLen); err != nil {
		return nil, fmt.Errorf("uring: register probe: %w", err)
	}
	pr := &Probe{last: Op(p.lastOp)}
	for _, o := range p.ops[:p.opsLen] {
		if o.flags&probeOpSupported != 0 {
			pr.ops[o.op] = true
		}
	}
	return pr, nil
}

// Supports reports whether the kernel knows op.
func (p *Probe) Supports(op Op) bool { return p.ops[op] }

// Last is the highest opcode the kernel knows.
func (p *Probe) Last() Op { return p.last }

// String lists the supported opcodes this package names, and the highest
// opcode number, e.g. "nop,accept,...,send_zc (last 57)".
func (p *Probe) String() string {
	var names []string
	for op := range p.ops {
		if n, ok := opNames[Op(op)]; ok && p.ops[op] {
			names = append(names, n)
		}
	}
	return fmt.Sprintf("%s (last %d)", strings.Join(names, ","), p.last)
}

// String names an opcode.
func (o Op) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return fmt.Sprintf("op%d", uint8(o))
}

// String lists the feature flags by name, e.g. "single_mmap,nodrop,...";
// bits newer than the header this package follows appear as bitN.
func (f Features) String() string { return flagNames(uint32(f), featNames) }

// String lists the setup flags by name.
func (f SetupFlags) String() string { return flagNames(uint32(f), setupNames) }

func flagNames(v uint32, names []string) string {
	var out []string
	for bit := range 32 {
		if v&(1<<bit) == 0 {
			continue
		}
		if bit < len(names) && names[bit] != "" {
			out = append(out, names[bit])
		} else {
			out = append(out, fmt.Sprintf("bit%d", bit))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}
