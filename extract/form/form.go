// Package form is the opt-out form's data model, shared by every reader and
// by the store: the fields printed on the leaflet's form, the labels residents
// and their software use for them, and the rules that decide whether a form
// can be accepted (Check). It owns no I/O.
package form

// Format names how a form was read. The values are part of the JSON contract.
type Format string

// The formats a form can be read from.
const (
	FormatPDFFields Format = "pdf-fields" // a fillable PDF's AcroForm fields
	FormatPDFText   Format = "pdf-text"   // a printed or flattened PDF's text layer
	FormatDOCX      Format = "docx"       // a Word document
	FormatODT       Format = "odt"        // an OpenDocument text (.odt, .fodt)
	FormatJSON      Format = "json"       // a JSON object or array of objects
	FormatCSV       Format = "csv"        // a CSV file, one form per data row
	FormatText      Format = "text"       // "Label: value" lines in a file or the email body
)

// Formats returns every format, in a fixed order (the metric label set
// derives from it).
func Formats() []Format {
	return []Format{FormatPDFFields, FormatPDFText, FormatDOCX, FormatJSON, FormatCSV, FormatText, FormatODT}
}

// formatTexts are the formats in the words the triage page prints.
var formatTexts = map[Format]string{
	FormatPDFFields: "PDF form with fillable fields",
	FormatPDFText:   "Printed or scanned PDF (text read from the page)",
	FormatDOCX:      "Word document",
	FormatODT:       "OpenDocument text",
	FormatJSON:      "JSON file",
	FormatCSV:       "Spreadsheet (CSV)",
	FormatText:      "Typed into the email or a text file",
}

// Text returns the format in staff's words; "" is "Keyed in by staff"
// and an unknown code is returned as it is.
func (f Format) Text() string {
	if f == "" {
		return "Keyed in by staff"
	}
	if t, ok := formatTexts[f]; ok {
		return t
	}
	return string(f)
}

// Authority values for someone completing the form on another person's behalf.
const (
	AuthorityNone        = ""
	AuthorityGuardian    = "guardian_under_16" // parent or legal guardian of a child under 16
	AuthorityLPAOrDeputy = "lpa_or_deputy"     // lasting power of attorney or Court of Protection deputy
)

// Fields are the values of one opt-out form, named as on the leaflet's form.
// The JSON names are part of the `optoutd extract --json` contract.
//
// DateOfBirth is YYYY-MM-DD when it could be parsed, otherwise the raw text.
// NHSNumber is 10 digits when it has 10 digits, otherwise the raw text.
// Postcode is normalised (upper case, one space) when it has a postcode's shape.
type Fields struct {
	Gender        string `json:"gender"`
	FirstName     string `json:"first_name"`
	LastName      string `json:"last_name"`
	DateOfBirth   string `json:"date_of_birth"`
	NHSNumber     string `json:"nhs_number"`
	GPPractice    string `json:"gp_practice"`
	Email         string `json:"email"`
	PostalAddress string `json:"postal_address"`
	Postcode      string `json:"postcode"`
	OnBehalf      bool   `json:"on_behalf"`
	Relationship  string `json:"relationship"`
	Authority     string `json:"authority"`
	Declaration   bool   `json:"declaration"`
	FullName      string `json:"full_name"`
	Signature     string `json:"signature"`
}

// Severity says whether a problem stops a form being accepted.
type Severity string

// The severities of a problem.
const (
	SeverityError   Severity = "error"   // the form cannot be accepted until it is fixed
	SeverityWarning Severity = "warning" // staff may want to look, but the form can be accepted
)

// Problem is one thing wrong with a form. Field is a Fields JSON name, or ""
// for the form as a whole. Message is a sentence for staff and never quotes
// the resident's values.
type Problem struct {
	Field    string   `json:"field"`
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Message  string   `json:"message"`
}

// Form is one form read from a message or file: where it came from, what it
// says and what is wrong with it.
type Form struct {
	Source   string    `json:"source"` // attachment file name, or "body"
	Format   Format    `json:"format"`
	Fields   Fields    `json:"fields"`
	Valid    bool      `json:"valid"` // no problem is an error
	Problems []Problem `json:"problems"`
}

// UnreadableError says a file could not be read as a form at all (a scanned
// PDF, an encrypted PDF that cannot be opened, a file that is not what it
// claims). Code is a short stable code such as "pdf_scanned"; Message is a
// sentence for staff that never quotes the file's content.
type UnreadableError struct {
	Code    string
	Message string
}

func (e *UnreadableError) Error() string { return e.Code + ": " + e.Message }
