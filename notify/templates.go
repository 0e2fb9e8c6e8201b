package notify

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/ncl-icb/optout-intake/vocab"
)

// Data is everything a template can show. It deliberately has no field for
// the NHS number, the date of birth, the address or the message text: a
// template that asks for one fails validation at start-up.
type Data struct {
	Ref       string   // the conversation's reference code, e.g. NCL-7K3Q-9XWD
	FirstName string   // the resident's first name from their form; "" when unknown
	Reasons   []string // rejected only: plain sentences chosen by staff, never quoting the form
	// Form names which form an outcome is about when the resident's email
	// carried several ("the form for Grace H. (form 2 of 3 in your email)");
	// "" when there was one. Never an NHS number or a date of birth.
	Form     string
	TeamName string // who signs the message, e.g. "NCL Care Record opt-out team"
	Mailbox  string // the mailbox's own address
	// FormURL is the web page of the opt-out form (OPTOUT_FORM_URL).
	FormURL string
	// EnquiryPhone is the number residents who cannot use email, or need
	// another format or language, can call (OPTOUT_ENQUIRY_PHONE); "" when
	// there is none, and templates then say what to do instead.
	EnquiryPhone string
	// Text is staff_reply only: a member of staff's own words, several
	// lines; control characters other than line breaks are removed and
	// its length capped (MaxTextRunes). It is personal data.
	Text string
}

// WhichForm is Data.Form for form pos (from 1) of the n forms one email
// carried, read or corrected as first and last name: "the form for Grace
// H. (form 2 of 3 in your email)", or just "form 2 of 3 in your email"
// when the form has no first name; "" when the email carried one form. It
// never uses the NHS number or the date of birth.
func WhichForm(first, last string, pos, n int) string {
	if n < 2 || pos < 1 || pos > n {
		return ""
	}
	where := fmt.Sprintf("form %d of %d in your email", pos, n)
	first = strings.TrimSpace(first)
	if first == "" {
		return where
	}
	name := first
	if l := []rune(strings.TrimSpace(last)); len(l) > 0 {
		name += " " + strings.ToUpper(string(l[0])) + "."
	}
	return "the form for " + name + " (" + where + ")"
}

// MaxTextRunes bounds Data.Text, the staff's words in a staff_reply.
const MaxTextRunes = 10_000

// Limits on what goes into a template, so a hostile form cannot fill a reply.
const (
	maxFirstNameRunes = 50
	maxFormRunes      = 100
	maxReasonRunes    = 300
	maxReasons        = 20
	maxTemplateBytes  = 64 << 10
)

//go:embed templates/*.txt
var embedded embed.FS

// Templates holds one parsed template per Kind. Build it with LoadTemplates;
// it is safe for concurrent use.
type Templates struct {
	byKind map[vocab.Kind]*template.Template
	source map[vocab.Kind]string // file the template came from, for error messages
}

// ErrUnknownKind is returned when a template is asked for a kind that does not exist.
var ErrUnknownKind = errors.New("unknown reply kind")

// LoadTemplates parses the embedded templates, replacing any that have a file
// of the same name (Kind + ".txt") in dir, and validates every one by
// rendering it with sample data. dir "" uses the embedded templates only.
// Any other *.txt file in dir is an error (probably a misspelt name).
//
// A template file starts with a "Subject: " line, then an empty line, then
// the body; both are text/template using the fields of Data. The subject
// and body must both show {{.Ref}}.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{byKind: map[vocab.Kind]*template.Template{}, source: map[vocab.Kind]string{}}
	for _, k := range vocab.Kinds() {
		name := string(k) + ".txt"
		b, err := embedded.ReadFile("templates/" + name)
		if err != nil {
			return nil, fmt.Errorf("read embedded template %s: %w", name, err)
		}
		t.source[k] = "embedded " + name
		if err := t.add(k, b); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		if err := t.override(dir); err != nil {
			return nil, err
		}
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Templates) override(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read template directory (OPTOUT_TEMPLATE_DIR): %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".txt") {
			continue
		}
		k := vocab.Kind(strings.TrimSuffix(name, ".txt"))
		if !k.Valid() {
			return fmt.Errorf("template directory has unknown template %s: name files after a kind (%s) with .txt", name, kindList())
		}
		path := filepath.Join(dir, name)
		b, err := readLimited(path)
		if err != nil {
			return err
		}
		t.source[k] = path
		if err := t.add(k, b); err != nil {
			return err
		}
	}
	return nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open template: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTemplateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read template %s: %w", path, err)
	}
	if len(b) > maxTemplateBytes {
		return nil, fmt.Errorf("template %s is over %d bytes: shorten it", path, maxTemplateBytes)
	}
	return b, nil
}

func kindList() string {
	var s []string
	for _, k := range vocab.Kinds() {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

// add parses one template file: "Subject: ..." line, empty line, body.
func (t *Templates) add(k vocab.Kind, b []byte) error {
	src := t.source[k]
	if !utf8.Valid(b) {
		return fmt.Errorf("template %s is not UTF-8 text: save it as UTF-8", src)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	first, rest, ok := strings.Cut(text, "\n")
	subject, hasSubject := strings.CutPrefix(first, "Subject:")
	if !hasSubject {
		return fmt.Errorf("template %s must start with a \"Subject: \" line", src)
	}
	if !ok || !strings.HasPrefix(rest, "\n") {
		return fmt.Errorf("template %s needs an empty line between the Subject line and the body", src)
	}
	body := strings.TrimPrefix(rest, "\n")
	// The subject and body are two named templates in one set.
	tmpl := template.New(string(k)).Option("missingkey=error")
	if _, err := tmpl.New("subject").Parse(strings.TrimSpace(subject)); err != nil {
		return fmt.Errorf("parse subject of template %s: %w", src, err)
	}
	if _, err := tmpl.New("body").Parse(body); err != nil {
		return fmt.Errorf("parse body of template %s: %w", src, err)
	}
	t.byKind[k] = tmpl
	return nil
}

// sampleData are the values Validate renders every template with: with
// and without a first name, reasons and a telephone number.
func sampleData() []Data {
	return []Data{
		{Ref: "NCL-TEST-0000", FirstName: "Sam", Form: "the form for Sam T. (form 2 of 3 in your email)", TeamName: "NCL Care Record opt-out team",
			Mailbox: "optout@example.nhs.net", Reasons: []string{"The form was not signed.", "The declaration box was not ticked."},
			FormURL: "https://forms.example.nhs.uk/opt-out", EnquiryPhone: "020 7946 0999",
			Text: "Thank you for your question.\n\nYes, you can opt out by post."},
		{Ref: "NCL-TEST-0001", FormURL: "https://forms.example.nhs.uk/opt-out"},
	}
}

// showsForm are the kinds that tell residents where the form is: they must
// show FormURL. showsPhone are the kinds that must show EnquiryPhone when
// it is set.
var (
	showsForm  = []vocab.Kind{vocab.KindInstructions, vocab.KindEnquiryInstructions}
	showsPhone = []vocab.Kind{vocab.KindInstructions, vocab.KindEnquiry, vocab.KindEnquiryInstructions, vocab.KindAfterCompletion}
)

// Validate renders every template with sample data and checks the result:
// it renders without error, the subject is one non-empty line, and both the
// subject and the body show the reference code.
func (t *Templates) Validate() error {
	var errs []error
	for _, k := range vocab.Kinds() {
		if t.byKind[k] == nil {
			errs = append(errs, fmt.Errorf("template %s.txt is missing", k))
			continue
		}
		for _, d := range sampleData() {
			subject, body, err := t.Render(k, d)
			if err != nil {
				errs = append(errs, err)
				break
			}
			if subject == "" {
				errs = append(errs, fmt.Errorf("template %s renders an empty subject: write a subject line", t.source[k]))
				break
			}
			if !strings.Contains(subject, d.Ref) || !strings.Contains(body, d.Ref) {
				errs = append(errs, fmt.Errorf("template %s must show the reference code ({{.Ref}}) in both the subject and the body", t.source[k]))
				break
			}
			if slices.Contains(showsForm, k) && !strings.Contains(body, d.FormURL) {
				errs = append(errs, fmt.Errorf("template %s must show where the form is ({{.FormURL}}, set by OPTOUT_FORM_URL)", t.source[k]))
				break
			}
			if slices.Contains(showsPhone, k) && d.EnquiryPhone != "" && !strings.Contains(body, d.EnquiryPhone) {
				errs = append(errs, fmt.Errorf("template %s must show the telephone number when OPTOUT_ENQUIRY_PHONE is set ({{if .EnquiryPhone}}...{{.EnquiryPhone}}...{{end}})", t.source[k]))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// Render renders the subject and body of kind k. The values in d are cleaned
// first (control characters removed, lengths capped), so a hostile form
// cannot inject lines or fill the message. The subject is one line, without
// the secure marker (Compose adds it).
func (t *Templates) Render(k vocab.Kind, d Data) (subject, body string, err error) {
	tmpl := t.byKind[k]
	if tmpl == nil {
		return "", "", fmt.Errorf("render %q: %w", k, ErrUnknownKind)
	}
	d = d.clean()
	var sb, bb strings.Builder
	if err := tmpl.ExecuteTemplate(&sb, "subject", d); err != nil {
		return "", "", fmt.Errorf("render subject of template %s: %w", t.source[k], err)
	}
	if err := tmpl.ExecuteTemplate(&bb, "body", d); err != nil {
		return "", "", fmt.Errorf("render body of template %s: %w", t.source[k], err)
	}
	return oneLine(sb.String()), bb.String(), nil
}

// clean returns a copy of d that is safe to put in a message.
func (d Data) clean() Data {
	c := Data{
		Ref:          oneLine(d.Ref),
		FirstName:    truncateRunes(oneLine(d.FirstName), maxFirstNameRunes),
		Form:         truncateRunes(oneLine(d.Form), maxFormRunes),
		TeamName:     oneLine(d.TeamName),
		Mailbox:      oneLine(d.Mailbox),
		FormURL:      oneLine(d.FormURL),
		EnquiryPhone: oneLine(d.EnquiryPhone),
		Text:         cleanText(d.Text),
	}
	for i, r := range d.Reasons {
		if i == maxReasons {
			break
		}
		if r = truncateRunes(oneLine(r), maxReasonRunes); r != "" {
			c.Reasons = append(c.Reasons, r)
		}
	}
	return c
}

// cleanText keeps the lines of s (normalised to \n, each cleaned by
// oneLine, so no control character or header-like break survives), keeps
// at most two empty lines in a row and caps it at MaxTextRunes.
func cleanText(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u2028", "\n", "\u2029", "\n").Replace(s)
	var out []string
	empty := 0
	for _, l := range strings.Split(s, "\n") {
		l = oneLine(l)
		if l == "" {
			if empty++; empty > 1 || len(out) == 0 {
				continue
			}
		} else {
			empty = 0
		}
		out = append(out, l)
	}
	return truncateRunes(strings.TrimSpace(strings.Join(out, "\n")), MaxTextRunes)
}

// oneLine replaces control characters and line breaks with spaces, collapses
// runs of spaces and trims the result.
func oneLine(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n]))
}
