package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Limits on a zip archive sent as an attachment. The archive's files
// together are also bounded by Limits.MaxFileBytes, uncompressed.
const (
	maxZipEntries = 50 // files in one archive (folders and macOS metadata not counted)
	// maxZipRatio bounds how much one file may expand (uncompressed size
	// over compressed size) once it is past minZipRatioBytes: forms
	// compress 2-10 times, zip bombs a thousand times.
	maxZipRatio      = 100
	minZipRatioBytes = 1 << 20
	maxZipNotes      = 10 // notes about the archive's files kept in one FileResult
)

// readZip reads the files in a zip archive (depth 1) as forms: each file is
// read as an attachment would be, and its forms' Source is the archive's
// name, a slash and the file's name. Archives inside it and encrypted files
// are not opened (encrypted ones set Protection to ProtectedZip); an
// archive that breaks a limit is not read further, and the note says so.
func readZip(ctx context.Context, source string, data []byte, lim Limits, now time.Time, pdfRead PDFReadFunc) FileResult {
	res := FileResult{Type: TypeZip}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		res.Note = "a zip archive that is damaged could not be opened"
		return res
	}
	var files []*zip.File
	for _, f := range zr.File {
		if f.Name == "[Content_Types].xml" || f.Name == "mimetype" {
			// An Office file (PowerPoint, Visio) or an OpenDocument file
			// other than text, not an archive a person made.
			res.Note = skipNote(TypeZip, "", len(data))
			return res
		}
		if !zipMetadata(f.Name) {
			files = append(files, f)
		}
	}
	if len(files) > maxZipEntries {
		res.Note = fmt.Sprintf("a zip archive of more than %d files was not opened", maxZipEntries)
		return res
	}
	var notes []string
	note := func(i int, s string) {
		if len(notes) < maxZipNotes {
			notes = append(notes, fmt.Sprintf("file %d in the zip archive: %s", i+1, s))
		}
	}
	encrypted, total := 0, int64(0)
files:
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			notes = append(notes, "reading the zip archive stopped: "+err.Error())
			break
		}
		switch {
		case f.Flags&0x1 != 0:
			encrypted++
			continue
		case isArchiveName(f.Name):
			note(i, "an archive inside the zip archive was not opened")
			continue
		case f.UncompressedSize64 > minZipRatioBytes && f.UncompressedSize64 > f.CompressedSize64*maxZipRatio:
			note(i, "a file that expands too much to be a form was not opened")
			continue
		case total+int64(min(f.UncompressedSize64, 1<<62)) > lim.MaxFileBytes:
			notes = append(notes, fmt.Sprintf("the zip archive's files are larger than %d bytes together: the rest were not read", lim.MaxFileBytes))
			break files
		}
		content, err := readZipFile(f, lim.MaxFileBytes-total)
		total += int64(len(content))
		if err != nil {
			note(i, "the file is damaged or uses a compression the service does not read, and was not opened")
			continue
		}
		name := path.Base(strings.ReplaceAll(f.Name, `\`, "/"))
		if t := Sniff(name, content); t == TypeZip {
			note(i, "an archive inside the zip archive was not opened")
			continue
		}
		fr := readAttachment(ctx, name, content, lim, now, pdfRead)
		res.Panicked = res.Panicked || fr.Panicked
		for j := range fr.Forms {
			fr.Forms[j].Source = source + "/" + name
		}
		res.Forms = append(res.Forms, fr.Forms...)
		if fr.Note != "" {
			note(i, fr.Note)
		}
	}
	if encrypted > 0 {
		// The message's notes say protected_zip once (Extractor.Email, File).
		res.Protection = ProtectedZip
		notes = append([]string{fmt.Sprintf("encrypted files in the zip archive were not opened (%d)", encrypted)}, notes...)
	}
	if len(res.Forms) == 0 && encrypted == 0 && len(notes) == 0 {
		notes = append(notes, "a zip archive with no form in it")
	}
	if len(res.Forms) > lim.MaxForms {
		res.Forms = res.Forms[:lim.MaxForms]
		notes = append(notes, fmt.Sprintf("only the first %d forms in the file were read", lim.MaxForms))
	}
	res.Note = strings.Join(notes, "; ")
	return res
}

// readZipFile reads one file of an archive, at most max bytes; archive/zip
// also fails a file that is longer than its declared size or whose checksum
// is wrong.
func readZipFile(f *zip.File, max int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > max {
		return b, fmt.Errorf("zip file larger than %d bytes", max)
	}
	return b, nil
}

// zipMetadata reports the entries of a zip archive that are not files a
// person put in it: folders and what macOS adds (__MACOSX/, ._name, .DS_Store).
func zipMetadata(name string) bool {
	base := path.Base(strings.ReplaceAll(name, `\`, "/"))
	return strings.HasSuffix(name, "/") || strings.HasPrefix(name, "__MACOSX/") ||
		strings.HasPrefix(base, "._") || base == ".DS_Store"
}

// isArchiveName reports a file named as an archive (a zip that Sniff would
// find is caught after reading; these are the other formats).
func isArchiveName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".zip", ".7z", ".rar", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".cab", ".zipx":
		return true
	}
	return false
}
