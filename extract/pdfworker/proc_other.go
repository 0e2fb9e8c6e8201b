//go:build !linux

package pdfworker

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// errUnsupported: the limits and process-group kill need Linux.
var errUnsupported = errors.New("pdf workers need Linux (process groups, RLIMIT_AS, RLIMIT_CPU); use pdfform.Read in-process on this system")

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process) {
	if p != nil {
		p.Kill()
	}
}

func setLimits(hello) (bool, error) { return false, errUnsupported }

func cpuUsed() time.Duration { return 0 }

func privateStdout() (*os.File, error) { return nil, errUnsupported }
