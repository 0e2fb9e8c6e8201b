package pdfworker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

// watchdogMessage is what a child prints to stderr when its heap watchdog
// ends it; the parent recognises it.
const watchdogMessage = "pdf worker: live heap over the memory limit, exiting"

// Main is the body of the hidden `optoutd pdf-worker` command, the child
// side of a Pool. It moves the process's stdout (file descriptor 1) to
// /dev/null, so nothing a library prints can corrupt the protocol or reach
// a log, speaks the protocol on a private copy of it and stdin, sets the
// limits the parent asks for, and reads each file with read (nil means
// pdfform.Read). It returns when the parent closes stdin; it ends the
// process when ctx is done.
func Main(ctx context.Context, read ReadFunc) error {
	if read == nil {
		read = pdfform.Read
	}
	out, err := privateStdout()
	if err != nil {
		return fmt.Errorf("pdf worker: %w", err)
	}
	defer out.Close()
	stop := context.AfterFunc(ctx, func() { os.Exit(1) })
	defer stop()
	return serve(ctx, os.Stdin, out, read, setLimits)
}

// serve runs the worker loop on in and out: hello, then one response per
// request until in ends. apply sets the hello's limits on this process.
func serve(ctx context.Context, in io.Reader, out io.Writer, read ReadFunc, apply func(hello) (bool, error)) error {
	in = bufio.NewReaderSize(in, 64<<10)
	var h hello
	if err := readJSON(in, maxHelloBytes, &h); err != nil {
		return fmt.Errorf("read hello from the parent: %w", err)
	}
	if h.Version != protocolVersion {
		return fmt.Errorf("read hello: protocol version %d, want %d: the parent and this binary differ", h.Version, protocolVersion)
	}
	asLimit, err := apply(h)
	if err != nil {
		return fmt.Errorf("set worker limits: %w", err)
	}
	if err := writeJSON(out, ready{Version: protocolVersion, PID: os.Getpid(), ASLimit: asLimit}); err != nil {
		return fmt.Errorf("answer hello: %w", err)
	}
	for {
		var req request
		if err := readJSON(in, maxRequestBytes, &req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the parent is done with us
			}
			return fmt.Errorf("read request: %w", err)
		}
		limit := int64(maxDataBytes)
		if req.MaxBytes > 0 && req.MaxBytes < limit {
			limit = req.MaxBytes
		}
		data, err := readFrame(in, limit)
		if err != nil {
			return fmt.Errorf("read file: %w", err)
		}
		lim := pdfform.Limits{MaxBytes: req.MaxBytes, MaxObjects: req.MaxObjects, MaxPages: req.MaxPages}
		resp := readOne(ctx, data, lim, time.Duration(req.TimeoutMS)*time.Millisecond, read)
		if h.CPUSeconds > 0 && cpuUsed() > time.Duration(h.CPUSeconds)*time.Second/2 {
			resp.Retire = true
		}
		if err := writeResponse(out, resp); err != nil {
			return fmt.Errorf("answer request: %w", err)
		}
		if resp.Retire {
			return nil
		}
		if len(data) > 8<<20 {
			data = nil
			debug.FreeOSMemory() // do not sit on a big file's heap while idle
		}
	}
}

// readOne reads one file under timeout, with panics recovered. A read that
// overruns leaves its goroutine running, so the response retires the child.
func readOne(ctx context.Context, data []byte, lim pdfform.Limits, timeout time.Duration, read ReadFunc) response {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan response, 1)
	go func() {
		resp := response{Code: pdfform.CodeDamaged, Message: msgCrashed}
		defer func() {
			recover() // a crash is the default response above
			done <- resp
		}()
		forms, err := read(ctx, data, lim)
		resp = toResponse(forms, err)
	}()
	select {
	case r := <-done:
		if r.Code == pdfform.CodeTimeout {
			r.Retire = true // pdfform.Read left its goroutine running
		}
		return r
	case <-ctx.Done():
		return response{Code: pdfform.CodeTimeout, Message: msgTimeout, Retire: true}
	}
}

// toResponse turns a reader's answer into a response.
func toResponse(forms []form.Form, err error) response {
	if err == nil {
		if forms == nil {
			forms = []form.Form{}
		}
		return response{Forms: forms}
	}
	var ue *form.UnreadableError
	if errors.As(err, &ue) && knownCodes[ue.Code] {
		return response{Code: ue.Code, Message: ue.Message}
	}
	return response{Code: pdfform.CodeDamaged, Message: msgCrashed}
}

// writeResponse writes resp, or a damaged answer if it would not fit the
// parent's limit.
func writeResponse(out io.Writer, resp response) error {
	b, err := json.Marshal(resp)
	if err != nil || len(b) > MaxResponseBytes {
		b, err = json.Marshal(response{Code: pdfform.CodeDamaged, Message: msgCrashed, Retire: resp.Retire})
		if err != nil {
			return err
		}
	}
	return writeFrame(out, b)
}

// watchHeap ends the process when its live heap passes limit: the Go
// memory limit is soft, and RLIMIT_AS is not set under the race detector.
func watchHeap(limit uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for {
		time.Sleep(20 * time.Millisecond)
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > limit {
			fmt.Fprintln(os.Stderr, watchdogMessage)
			os.Exit(3)
		}
	}
}
