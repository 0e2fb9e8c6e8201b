package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/docform"
	"github.com/ncl-icb/optout-intake/store"
)

// Originals on screen (issue 9 item 3): images and PDFs are shown inline
// on the item page, text-like forms (text, CSV, JSON, Word, OpenDocument)
// as text read on the server; nothing is saved to the staff machine unless
// they choose "Download", which is audited apart from a view.

// Kinds of original, as the item page shows them.
const (
	originalImage = "image" // JPEG, PNG, GIF, WebP: an <img> with zoom and rotate
	originalHEIC  = "heic"  // HEIC/HEIF: browsers cannot show it; download
	originalPDF   = "pdf"   // drawn with pdf.js, a link without JavaScript
	originalText  = "text"  // text read on the server, shown in <pre>
	originalOther = "other" // download only
)

// maxTextOriginal bounds an attachment read on the server to show as text.
const maxTextOriginal = 2 << 20

// maxShownText bounds the text shown from one attachment.
const maxShownText = 100_000

// scripts are the files under static/ served with long cache from
// s.jsPrefix (the page's own script and the vendored pdf.js).
var scripts = []string{"original.js", "pdfjs/pdf.min.mjs", "pdfjs/pdf.worker.min.mjs"}

// loadScripts reads the scripts from the binary and names their folder by
// their content, so they can be cached for a year.
func (s *server) loadScripts() error {
	s.js = map[string][]byte{}
	h := sha256.New()
	for _, n := range scripts {
		b, err := assets.ReadFile("static/" + n)
		if err != nil {
			return fmt.Errorf("web: read script %s: %w", n, err)
		}
		s.js[n] = b
		h.Write(b)
	}
	s.jsPrefix = "/static/js-" + hex.EncodeToString(h.Sum(nil)[:6]) + "/"
	return nil
}

func (s *server) script(w http.ResponseWriter, r *http.Request) {
	b, ok := s.js[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(b) //nolint:errcheck // the client went away
}

// scriptCSP is the page policy of a page that runs our own script (the
// item page): scripts, the pdf.js worker and the fetch of the PDF from our
// own origin only; no inline script, no eval.
func scriptCSP(pageCSP string) string {
	return pageCSP + "; script-src 'self'; worker-src 'self'; connect-src 'self'"
}

// imageType is the media type of an image browsers show, from its first
// bytes (never from what the sender declared); "" for anything else.
func imageType(data []byte) string {
	switch t := http.DetectContentType(data); t {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return t
	}
	return ""
}

// declaredKind guesses how to show an attachment from its declared type and
// name, before reading it.
func declaredKind(ctype, name string) string {
	ctype = strings.ToLower(ctype)
	ext := strings.ToLower(path.Ext(name))
	switch {
	case isPDFType(ctype, name):
		return originalPDF
	case ctype == "image/heic" || ctype == "image/heif" || ext == ".heic" || ext == ".heif":
		return originalHEIC
	case ctype == "image/jpeg" || ctype == "image/png" || ctype == "image/gif" || ctype == "image/webp",
		ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".gif" || ext == ".webp":
		return originalImage
	}
	return ""
}

// originalOf fills in how one attachment is shown. Text-like files are read
// (the read is audited as a view) and their text kept for the page.
func (s *server) originalOf(ctx context.Context, sess *store.Session, v *attachmentView) {
	if v.Kind = declaredKind(v.ContentType, v.Name); v.Kind != "" {
		return
	}
	v.Kind = originalOther
	if v.Size > maxTextOriginal {
		return
	}
	a, err := s.d.Store.AttachmentByID(ctx, v.ID, store.Actor(sess.Staff.ID))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("web: read attachment", slog.Int64("attachment", v.ID), slog.String("error", err.Error()))
		}
		return
	}
	var text string
	switch extract.Sniff(a.Name, a.Data) {
	case extract.TypeText, extract.TypeCSV, extract.TypeJSON:
		if !utf8.Valid(a.Data) {
			return
		}
		text = string(a.Data)
	case extract.TypeDOCX:
		if text, err = docform.DOCXText(a.Data); err != nil {
			return
		}
	case extract.TypeODT:
		if text, err = docform.ODTText(a.Data); err != nil {
			return
		}
	case extract.TypePDF:
		v.Kind = originalPDF
		return
	case extract.TypeImage:
		if imageType(a.Data) != "" {
			v.Kind = originalImage
		}
		return
	default:
		return
	}
	if len(text) > maxShownText {
		text = strings.ToValidUTF8(text[:maxShownText], "") + "\n[… the rest of the text is not shown]"
	}
	v.Kind, v.Text = originalText, text
}

// attachment shows a kept attachment inline when the item page renders it
// itself (a JPEG, PNG, GIF or WebP image, or a PDF, told from its bytes);
// anything else is a download. Never sniffed, never HTML or SVG, under a
// sandboxing policy.
func (s *server) attachment(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	s.serveAttachment(w, r, sess, false)
}

// downloadAttachment is the explicit "Download" action: always saved as a
// file, audited as attachment.download.
func (s *server) downloadAttachment(w http.ResponseWriter, r *http.Request, sess *store.Session) {
	s.serveAttachment(w, r, sess, true)
}

func (s *server) serveAttachment(w http.ResponseWriter, r *http.Request, sess *store.Session, download bool) {
	id, ok := itemID(r)
	if !ok {
		s.fail(w, r, sess, http.StatusNotFound, "There is no such attachment.")
		return
	}
	read := s.d.Store.AttachmentByID
	if download {
		read = s.d.Store.AttachmentDownload
	}
	a, err := read(r.Context(), id, store.Actor(sess.Staff.ID))
	if err != nil {
		s.storeFail(w, r, sess, err)
		return
	}
	name := safeFileName(a.Name)
	h := w.Header()
	inline := ""
	if !download {
		if t := imageType(a.Data); t != "" {
			inline = t
		} else if isPDFType(a.ContentType, a.Name) && bytes.HasPrefix(a.Data, []byte("%PDF-")) {
			inline = "application/pdf"
		}
	}
	switch {
	case inline == "application/pdf":
		h.Set("Content-Type", inline)
		h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
		// Chromium's own PDF viewer (the link shown without JavaScript)
		// does not run in a sandboxed document.
		h.Set("Content-Security-Policy", "default-src 'none'; object-src 'self'; frame-ancestors 'none'")
	case inline != "":
		h.Set("Content-Type", inline)
		h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
		h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; frame-ancestors 'none'; sandbox")
	default:
		if !download {
			// Not something we show: the same file as the Download action,
			// recorded as such.
			if err := s.d.Store.WriteAudit(r.Context(), store.AuditEntry{Actor: store.Actor(sess.Staff.ID), Action: "attachment.download",
				ObjectType: "attachment", ObjectID: id}); err != nil {
				s.storeFail(w, r, sess, err)
				return
			}
		}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
	}
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.Itoa(len(a.Data)))
	w.Write(a.Data) //nolint:errcheck // the client went away
}

// sizeText says a file's size as staff read it.
func sizeText(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%d KB", (n+512)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}
