//go:build !linux

package runner

import (
	"errors"
	"fmt"
	"syscall"
)

var errUnsupported = fmt.Errorf("runner: needs Linux's /proc: %w", errors.ErrUnsupported)

// cpuMask is a set of CPUs; pinning needs Linux.
type cpuMask struct{}

func (*cpuMask) Set(int) {}

func procCPU(int) (float64, error)        { return 0, errUnsupported }
func procPeakRSS(int) (int64, error)      { return 0, errUnsupported }
func selfCPU() float64                    { return 0 }
func setAffinityMask(int, *cpuMask) error { return errUnsupported }
func currentMask() (cpuMask, error)       { return cpuMask{}, errUnsupported }
func raiseFDLimit() uint64                { return 0 }
func onlineCPUs() []int                   { return nil }
func uname() string                       { return "unknown" }

// FDLimit is the RLIMIT_NOFILE hard limit of this process (0 if unknown).
func FDLimit() uint64 { return 0 }

func sysProcAttr() *syscall.SysProcAttr { return nil }

func groupProcAttr() *syscall.SysProcAttr { return nil }
func procPPID(int) (int, error)           { return 0, errUnsupported }

// signal sends sig to p.
func (p *serverProc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }
