package runner

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's utime and stime:
// fixed at 100 by the Linux ABI on every architecture Go supports.
const clockTicks = 100

// cpuMask is a set of CPUs.
type cpuMask = unix.CPUSet

// procCPU is a process's utime+stime in seconds, all its threads included.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("runner: server cpu: %w", err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a
// /proc/PID/stat line. The command name (field 2) is in parentheses and
// may hold spaces and parentheses, so fields are counted after the last ')'.
func parseStatCPU(s string) (float64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("runner: malformed /proc stat line %q", s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("runner: short /proc stat line %q", s)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("runner: malformed utime/stime in /proc stat line %q", s)
	}
	return float64(utime+stime) / clockTicks, nil
}

// procPeakRSS is a process's peak resident set size (VmHWM) in bytes.
func procPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("runner: server rss: %w", err)
	}
	return parseVmHWM(b)
}

func parseVmHWM(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != "VmHWM" {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("runner: no VmHWM line in /proc status")
}

// selfCPU is this process's user+system CPU time in seconds.
func selfCPU() float64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return tv(ru.Utime) + tv(ru.Stime)
}

func tv(t unix.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// setAffinityMask pins every thread of process pid to set. A thread created
// while the threads are listed may have copied its parent's old mask, so
// the listing repeats until a pass finds no thread it has not pinned.
func setAffinityMask(pid int, set *cpuMask) error {
	done := map[int]bool{}
	for pass := 0; pass < 100; pass++ {
		tids, err := threads(pid)
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			fresh++
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("runner: pin thread %d of process %d: %w", tid, pid, err)
			}
			done[tid] = true
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("runner: pin process %d: its threads keep multiplying", pid)
}

// threads lists the thread ids of process pid.
func threads(pid int) ([]int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, fmt.Errorf("runner: list threads: %w", err)
	}
	var tids []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// currentMask is the CPU mask of the calling thread.
func currentMask() (cpuMask, error) {
	var set cpuMask
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return set, fmt.Errorf("runner: cpu affinity: %w", err)
	}
	return set, nil
}

// raiseFDLimit raises RLIMIT_NOFILE's soft limit to its hard limit, so that
// the servers this process starts inherit it, and returns the hard limit.
func raiseFDLimit() uint64 {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	}
	return rl.Max
}

// FDLimit is the RLIMIT_NOFILE hard limit of this process (0 if unknown).
func FDLimit() uint64 {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return rl.Max
}

// sysProcAttr makes a server die with the runner (best effort: the signal
// is tied to the thread that forked it).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// onlineCPUs lists the CPUs the kernel has online (nil if unknown).
func onlineCPUs() []int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil
	}
	cpus, err := ParseCPUList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	return cpus
}

func uname() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	s := func(b []byte) string { return string(bytes.TrimRight(b, "\x00")) }
	return strings.Join([]string{s(u.Sysname[:]), s(u.Release[:]), s(u.Version[:]), s(u.Machine[:])}, " ")
}

// groupProcAttr is sysProcAttr in a process group of its own, which the
// runner signals as a whole (an external server's command and its children).
func groupProcAttr() *syscall.SysProcAttr {
	a := sysProcAttr()
	a.Setpgid = true
	return a
}

// signal sends sig to p's process group when p leads one, else to p.
func (p *serverProc) signal(sig syscall.Signal) {
	if p.group {
		_ = syscall.Kill(-p.pid(), sig)
		return
	}
	_ = p.cmd.Process.Signal(sig)
}

// procPPID is the parent pid of process pid (field 4 of /proc/PID/stat).
func procPPID(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("runner: malformed /proc stat line %q", s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("runner: short /proc stat line %q", s)
	}
	return strconv.Atoi(f[1])
}
