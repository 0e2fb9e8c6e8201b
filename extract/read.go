package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/ncl-icb/optout-intake/extract/docform"
	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

// The codes of the problems this package adds to a form it could not read
// (the PDF reader's own codes, such as pdf_scanned, are in pdfform).
const (
	CodeNoForm     = "no_form"         // a form file (Word, JSON, CSV) with none of the form's fields
	CodeUnreadable = "file_unreadable" // a reader failed without saying why
	CodeTimeout    = "read_timeout"    // reading took longer than Limits.FileTimeout
	CodePanic      = "read_crashed"    // a reader crashed on the file (a recovered panic)
	CodeTooLarge   = "file_too_large"  // larger than Limits.MaxFileBytes
	// CodeOtherFormat is a document or spreadsheet in a format the readers
	// do not know (OpenDocument spreadsheets .ods, Excel .xlsx, RTF): a
	// resident's form all the same, so staff key it in.
	CodeOtherFormat = "doc_unsupported_format"
)

var problemMessages = map[string]string{
	CodeNoForm:     "The file has none of the opt-out form's fields; open it by hand to see what the resident sent.",
	CodeUnreadable: "The file could not be read as a form; open it by hand and key the form in.",
	CodeTimeout:    "The file took too long to read and was given up; open it by hand and key the form in.",
	CodePanic:      "The file made the form reader fail; open it by hand and key the form in.",
	CodeTooLarge:   "The file is larger than the service reads automatically; open it by hand and key the form in.",
	CodeOtherFormat: "The form is in a document format the service does not read automatically (OpenDocument, RTF or Excel); " +
		"open it by hand (LibreOffice opens all of them) and key the form in, or ask the resident for a PDF or Word file.",
}

// FileResult is what reading one file as forms gave.
type FileResult struct {
	Type FileType // what the content is, whatever its name says
	// Forms are the checked forms, in file order. A file that claims to be
	// a form (a PDF, a Word, JSON or CSV file, or one named so) but cannot
	// be read gives one form whose Problems say why, with Valid false.
	Forms []form.Form
	// Unreadable is true when the file claims to be a form but none could
	// be read from it (Forms then holds the one form with the problem).
	Unreadable bool
	// Note says why the file was not read as a form ("" when it was). It
	// never quotes the file's name or content.
	Note     string
	Panicked bool // a reader panicked on the file; the panic was recovered
	// Protection is the code of the protection that kept the file's
	// content from being read (ProtectedZip for a zip archive with
	// encrypted files), "" when none.
	Protection string
}

// reader reads forms from one file.
type reader func(ctx context.Context, data []byte) ([]form.Form, error)

// readAttachment reads one file as opt-out forms: it sniffs the content to
// pick a reader (the name only breaks ties and marks a file that claims to
// be a form), runs it under lim.FileTimeout with panics recovered, and
// checks each form with form.Finish on the day now. name is the file name
// as sent, used as each form's Source ("" gives "attachment"). PDFs are
// read with pdfRead (nil: pdfform.Read).
func readAttachment(ctx context.Context, name string, data []byte, lim Limits, now time.Time, pdfRead PDFReadFunc) FileResult {
	if pdfRead == nil {
		pdfRead = pdfform.Read
	}
	lim = lim.withDefaults()
	t := Sniff(name, data)
	res := FileResult{Type: t}
	source := name
	if source == "" {
		source = "attachment"
	}
	ext := strings.ToLower(path.Ext(name))
	if int64(len(data)) > lim.MaxFileBytes {
		res.Forms = []form.Form{unreadableForm(source, formatOf(t, ext), CodeTooLarge, problemMessages[CodeTooLarge])}
		res.Unreadable = true
		return res
	}
	var rd reader
	var format form.Format
	claims := true
	switch {
	case t == TypePDF || ext == ".pdf" && !isSkipped(t):
		rd = func(ctx context.Context, b []byte) ([]form.Form, error) { return pdfRead(ctx, b, lim.PDF) }
		format = form.FormatPDFText
	case t == TypeDOCX || ext == ".docx" && !isSkipped(t):
		rd = noCtx(docform.ReadDOCX)
		format = form.FormatDOCX
	case t == TypeOLE:
		switch ext {
		case ".xls", ".msg", ".ppt", ".pps":
			res.Note = "an Office 97-2003 file that is not a Word document was not read"
			return res
		}
		// An old .doc, or a password-protected .docx (also a compound
		// file): the Word reader says which.
		rd = noCtx(docform.ReadDOCX)
		format = form.FormatDOCX
	case t == TypeODT:
		rd = noCtx(docform.ReadODT)
		format = form.FormatODT
	case t == TypeZip:
		return readZip(ctx, source, data, lim, now, pdfRead)
	case t == TypeOffice:
		res.Forms = []form.Form{unreadableForm(source, formatOf(t, ext), CodeOtherFormat, problemMessages[CodeOtherFormat])}
		res.Unreadable = true
		return res
	case t == TypeJSON:
		rd = noCtx(docform.ReadJSON)
		format = form.FormatJSON
	case t == TypeCSV:
		rd = noCtx(docform.ReadCSV)
		format = form.FormatCSV
	case t == TypeText:
		rd = func(_ context.Context, b []byte) ([]form.Form, error) { return docform.ReadText(decodeText(b)) }
		format = form.FormatText
		claims = ext == ".txt"
	default:
		res.Note = skipNote(t, name, len(data))
		return res
	}

	forms, err, panicked := guarded(ctx, lim.FileTimeout, data, rd)
	res.Panicked = panicked
	if len(forms) > lim.MaxForms {
		forms = forms[:lim.MaxForms]
		res.Note = fmt.Sprintf("only the first %d forms in the file were read", lim.MaxForms)
	}
	for i := range forms {
		f := &forms[i]
		f.Source = source
		if f.Format == "" {
			f.Format = format
		}
		form.Finish(f, now)
	}
	if err == nil {
		if len(forms) == 0 && claims {
			err = docform.ErrNoForm
		} else {
			res.Forms = forms
			return res
		}
	}
	if errors.Is(err, docform.ErrNoForm) && !claims {
		res.Note = "a text file with no form in it"
		return res
	}
	p := problemFor(err)
	if len(forms) > 0 {
		// A lenient reader gave what it could read and the reason it stopped.
		forms[0].Problems = append(forms[0].Problems, p)
		forms[0].Valid = false
		res.Forms = forms
		return res
	}
	fm := unreadableForm(source, format, p.Code, p.Message)
	res.Forms = []form.Form{fm}
	res.Unreadable = true
	return res
}

// isSkipped reports content that is certainly not a form whatever its name.
func isSkipped(t FileType) bool {
	return t == TypeCalendar || t == TypeVCard || t == TypeEmail
}

func noCtx(f func([]byte) ([]form.Form, error)) reader {
	return func(_ context.Context, b []byte) ([]form.Form, error) { return f(b) }
}

// errTimeout and errPanic stand for a reader stopped by this package.
var (
	errTimeout = errors.New("reading the file took too long")
	errPanic   = errors.New("the reader crashed")
)

// guarded runs rd on data in its own goroutine, under a deadline of timeout
// and with panics recovered. A reader that never returns keeps its goroutine
// (Go cannot stop it); the caller gets errTimeout at the deadline.
func guarded(ctx context.Context, timeout time.Duration, data []byte, rd reader) (forms []form.Form, err error, panicked bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		forms    []form.Form
		err      error
		panicked bool
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if v := recover(); v != nil {
				r = result{err: errPanic, panicked: true}
			}
			done <- r
		}()
		r.forms, r.err = rd(ctx, data)
	}()
	select {
	case r := <-done:
		return r.forms, r.err, r.panicked
	case <-ctx.Done():
		return nil, errTimeout, false
	}
}

// problemFor turns a reader's error into the problem staff see.
func problemFor(err error) form.Problem {
	p := form.Problem{Severity: form.SeverityError}
	var ue *form.UnreadableError
	switch {
	case errors.As(err, &ue):
		p.Code, p.Message = ue.Code, ue.Message
	case errors.Is(err, errTimeout):
		p.Code = CodeTimeout
	case errors.Is(err, errPanic):
		p.Code = CodePanic
	case errors.Is(err, docform.ErrNoForm):
		p.Code = CodeNoForm
	default:
		p.Code = CodeUnreadable
	}
	if p.Code == "" {
		p.Code = CodeUnreadable
	}
	if p.Message == "" {
		p.Message = problemMessages[p.Code]
		if p.Message == "" {
			p.Message = problemMessages[CodeUnreadable]
		}
	}
	return p
}

// unreadableForm is the form standing for a file that claims to be a form
// but could not be read: no fields, one error.
func unreadableForm(source string, format form.Format, code, msg string) form.Form {
	return form.Form{
		Source:   source,
		Format:   format,
		Valid:    false,
		Problems: []form.Problem{{Field: "", Severity: form.SeverityError, Code: code, Message: msg}},
	}
}

// formatOf guesses the contract format of a file from its type and extension.
func formatOf(t FileType, ext string) form.Format {
	switch {
	case t == TypePDF || ext == ".pdf":
		return form.FormatPDFText
	case t == TypeDOCX || t == TypeOLE || ext == ".docx" || ext == ".doc":
		return form.FormatDOCX
	case t == TypeODT || ext == ".odt" || ext == ".fodt":
		return form.FormatODT
	case t == TypeJSON || ext == ".json":
		return form.FormatJSON
	case t == TypeCSV || ext == ".csv" || ext == ".xlsx" || ext == ".ods":
		return form.FormatCSV
	case t == TypeOffice:
		return form.FormatDOCX
	}
	return form.FormatText
}

// skipNote says why a file that is not a form was left out.
func skipNote(t FileType, name string, size int) string {
	switch t {
	case TypeImage:
		if layoutImage(name, size) {
			return "an image from an email signature or layout was skipped"
		}
		return "an image or photo was not read: if it is a photo of the form, key it in by hand"
	case TypeCalendar:
		return "a calendar invitation was skipped"
	case TypeVCard:
		return "a contact card was skipped"
	case TypeHTML:
		return "an HTML file was not read as a form"
	case TypeEmail:
		return "an email attached as a file was not read: open it by hand"
	case TypeZip:
		return "a zip archive or an Office file that is not a Word document was not read"
	}
	return "a file of a type that cannot hold the form was skipped"
}

// decodeText turns a text file into a string: UTF-8 (a BOM dropped), or
// Windows-1252 (a superset of ISO-8859-1's printable characters) when the
// bytes are not valid UTF-8.
func decodeText(b []byte) string {
	b = bytes.TrimPrefix(b, utf8BOM)
	if utf8.Valid(b) {
		return string(b)
	}
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(s)
}
