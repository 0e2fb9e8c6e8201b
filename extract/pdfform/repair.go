package pdfform

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// errPassword says pdfcpu could not open an encrypted file with the empty
// user password: the resident set a password to open it.
var errPassword = errors.New("pdf needs a user password")

// rewrite asks pdfcpu to read data (rebuilding a broken xref table, and
// decrypting with the empty user password when encrypted) and write it out
// again in a form ledongthuc/pdf can read. pdfcpu runs with its own
// resource limits; its panics are recovered by the caller.
func rewrite(data []byte, encrypted bool, lim Limits) (out []byte, err error) {
	conf := pdfcpuConfig(lim)
	if encrypted {
		conf.Cmd = model.DECRYPT
	} else {
		conf.Cmd = model.VALIDATE
	}
	ctx, err := api.ReadContext(bytes.NewReader(data), conf)
	if err != nil {
		if encrypted && isPasswordError(err) {
			return nil, errPassword
		}
		return nil, fmt.Errorf("repair pdf: %w", err)
	}
	if encrypted {
		ctx.EncKey = nil
		ctx.Encrypt = nil
		ctx.E = nil
	}
	var buf bytes.Buffer
	if err := api.WriteContext(ctx, &buf); err != nil {
		return nil, fmt.Errorf("rewrite pdf: %w", err)
	}
	if lim.MaxBytes > 0 && int64(buf.Len()) > 2*lim.MaxBytes {
		return nil, &guardError{CodeTooLarge, "repaired file larger than the limit"}
	}
	return buf.Bytes(), nil
}

// isPasswordError reports whether pdfcpu failed for want of a password.
func isPasswordError(err error) bool {
	s := err.Error()
	return bytes.Contains([]byte(s), []byte("password")) || bytes.Contains([]byte(s), []byte("Password"))
}

// pdfcpuConfig is pdfcpu's default configuration built here rather than by
// model.NewDefaultConfiguration, which creates a configuration directory in
// the user's home on first use; limits are tightened to ours.
func pdfcpuConfig(lim Limits) *model.Configuration {
	limits := model.DefaultResourceLimits()
	limits.MaxStreamBytes = maxStreamBytes * 4
	limits.MaxDecodeBytes = maxStreamBytes * 4
	limits.MaxImageBytes = maxStreamBytes * 4
	if lim.MaxObjects > 0 {
		limits.MaxObjectCount = lim.MaxObjects
		limits.MaxObjectStreamCount = lim.MaxObjects
		limits.MaxXRefEntries = lim.MaxObjects
	}
	limits.MaxRecursionDepth = 64
	return &model.Configuration{
		CreationDate:              time.Now().Format("2006-01-02 15:04"),
		Version:                   model.VersionStr,
		Reader15:                  true,
		ValidationMode:            model.ValidationRelaxed,
		UnsupportedResourcePolicy: model.UnsupportedResourceSkip,
		Eol:                       "\n",
		WriteObjectStream:         false,
		WriteXRefStream:           false,
		EncryptUsingAES:           true,
		EncryptKeyLength:          256,
		Permissions:               model.PermissionsPrint,
		TimestampFormat:           "2006-01-02 15:04",
		DateFormat:                "2006-01-02",
		Offline:                   true,
		Timeout:                   5,
		Limits:                    limits,
	}
}
