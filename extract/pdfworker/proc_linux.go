package pdfworker

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"
)

// sysProcAttr puts a child in its own process group (so a kill reaches
// anything it started, and a Ctrl-C on the daemon's terminal does not reach
// it) and kills it if the daemon dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup sends SIGKILL to p's process group.
func killGroup(p *os.Process) {
	if p == nil || p.Pid <= 0 {
		return
	}
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil {
		p.Kill() // the group is gone or was never made: kill the process itself
	}
}

// setLimits sets h's limits on this process: the Go memory limit, RLIMIT_AS
// (start-up size plus 1.5 times the memory limit; not under the race
// detector), a heap watchdog, RLIMIT_CPU, and a lower scheduling priority. It reports
// whether RLIMIT_AS was set.
func setLimits(h hello) (bool, error) {
	// Lower priority first: a runaway child should lose the CPU to the daemon.
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, 0, 10) // best effort: not every container allows it
	if h.CPUSeconds > 0 {
		cpu := uint64(h.CPUSeconds)
		if err := syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: cpu, Max: cpu}); err != nil {
			return false, fmt.Errorf("set RLIMIT_CPU to %d s: %w", cpu, err)
		}
	}
	if h.MemoryLimit <= 0 {
		return false, nil
	}
	debug.SetMemoryLimit(h.MemoryLimit)
	go watchHeap(uint64(h.MemoryLimit))
	if raceEnabled {
		return false, nil
	}
	vm, err := vmSize()
	if err != nil {
		return false, err
	}
	as := vm + uint64(h.MemoryLimit) + uint64(h.MemoryLimit)/2
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: as, Max: as}); err != nil {
		return false, fmt.Errorf("set RLIMIT_AS to %d bytes: %w", as, err)
	}
	return true, nil
}

// vmSize is this process's virtual memory size, from /proc/self/status.
func vmSize() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read process size: %w", err)
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmSize:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, errors.New("read process size: no VmSize in /proc/self/status")
}

// cpuUsed is the CPU time this process has used.
func cpuUsed() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// privateStdout returns a new file for the process's stdout and points file
// descriptor 1 at /dev/null: the PDF library prints to stdout.
func privateStdout() (*os.File, error) {
	fd, err := syscall.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("copy stdout: %w", err)
	}
	syscall.CloseOnExec(fd)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer null.Close()
	if err := syscall.Dup3(int(null.Fd()), 1, 0); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("point stdout at %s: %w", os.DevNull, err)
	}
	return os.NewFile(uintptr(fd), "pdf-worker-protocol"), nil
}
