package pdfworker

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ncl-icb/optout-intake/extract/form"
)

// The protocol between the pool (parent) and a worker (child), over the
// child's stdin and stdout. Every message is a frame: a 4-byte big-endian
// length, then that many bytes.
//
//	parent → child: hello (JSON)            child → parent: ready (JSON)
//	parent → child: request (JSON), data    child → parent: response (JSON)
//	... one request/response pair per file, strictly in turn ...
//
// The parent trusts nothing the child says: every frame is size-checked
// before it is read and a response that does not decode is a crash.

// protocolVersion changes when a frame's meaning changes; the parent refuses
// a child that answers the hello with another version (a stale binary).
const protocolVersion = 1

// Frame size limits.
const (
	maxHelloBytes   = 4 << 10   // hello and ready frames
	maxRequestBytes = 4 << 10   // a request header
	maxDataBytes    = 256 << 20 // one file; Limits.MaxBytes lowers it
	// MaxResponseBytes bounds one response: a form is well under 4 KB; a
	// file that makes a reader produce more is not a form anyone filled in.
	MaxResponseBytes = 1 << 20
)

// errFrameTooLarge is a frame whose length prefix exceeds the reader's limit.
var errFrameTooLarge = errors.New("frame larger than the protocol allows")

// hello is the parent's first frame: the limits the child sets on itself.
type hello struct {
	Version     int   `json:"v"`
	MemoryLimit int64 `json:"memory_limit"` // bytes
	CPUSeconds  int64 `json:"cpu_seconds"`  // RLIMIT_CPU over the child's life
}

// ready is the child's answer to hello.
type ready struct {
	Version int  `json:"v"`
	PID     int  `json:"pid"`
	ASLimit bool `json:"as_limit"` // RLIMIT_AS is set (not under the race detector)
}

// request is the header frame before a file's data frame.
type request struct {
	TimeoutMS  int64 `json:"timeout_ms"`
	MaxBytes   int64 `json:"max_bytes"`
	MaxObjects int   `json:"max_objects"`
	MaxPages   int   `json:"max_pages"`
}

// response is the child's answer to one request: forms, or the code and
// message of a *form.UnreadableError.
type response struct {
	Forms   []form.Form `json:"forms"`
	Code    string      `json:"code,omitempty"`
	Message string      `json:"message,omitempty"`
	// Retire says the child exits after this response (its CPU budget is
	// half spent, or a read overran and left a goroutine running).
	Retire bool `json:"retire,omitempty"`
}

// writeFrame writes one frame.
func writeFrame(w io.Writer, payload []byte) error {
	if uint64(len(payload)) > 1<<32-1 {
		return errFrameTooLarge
	}
	var head [4]byte
	binary.BigEndian.PutUint32(head[:], uint32(len(payload)))
	if _, err := w.Write(head[:]); err != nil {
		return fmt.Errorf("write frame length: %w", err)
	}
	if _, err := w.Write(payload); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// writeJSON writes v as one frame.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	return writeFrame(w, b)
}

// readFrame reads one frame of at most limit bytes. It returns io.EOF only
// when the stream ends cleanly before a frame starts.
func readFrame(r io.Reader, limit int64) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read frame length: %w", err)
	}
	n := int64(binary.BigEndian.Uint32(head[:]))
	if n > limit {
		return nil, fmt.Errorf("read frame of %d bytes (limit %d): %w", n, limit, errFrameTooLarge)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read frame: %w", err)
	}
	return b, nil
}

// readJSON reads one frame of at most limit bytes into v; unknown fields and
// trailing data are errors.
func readJSON(r io.Reader, limit int64, v any) error {
	b, err := readFrame(r, limit)
	if err != nil {
		return err
	}
	return decodeStrict(b, v)
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	if dec.More() {
		return errors.New("decode frame: data after the JSON value")
	}
	return nil
}

// readResponse reads and checks one response frame: the parent's only
// parser of what a child that has read a hostile file says.
func readResponse(r io.Reader) (response, error) {
	var resp response
	if err := readJSON(r, MaxResponseBytes, &resp); err != nil {
		return response{}, err
	}
	if resp.Code != "" {
		if !knownCodes[resp.Code] {
			return response{}, fmt.Errorf("decode response: unknown code of %d bytes", len(resp.Code))
		}
		if len(resp.Forms) > 0 {
			return response{}, errors.New("decode response: both forms and an error code")
		}
	}
	return resp, nil
}
