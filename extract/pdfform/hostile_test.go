package pdfform

import (
	"bytes"
	"compress/zlib"
	"context"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var mutations = flag.Int("mutations", 2000, "mutated PDFs TestMutatedCorpus reads")

func TestGuard(t *testing.T) {
	good := textPDF(show(50, 700, "First name: Ann"))
	replace := func(old, new string) []byte {
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	tests := []struct {
		name string
		data []byte
		code string // "" when the guard lets it through
	}{
		{"good", good, ""},
		{"junk before the header", append([]byte("garbage\n"), good...), ""},
		{"no header", good[9:], CodeNotPDF},
		{"trailer size beyond the file", replace("/Size 7", "/Size 1099511627776"), CodeDamaged},
		{"size overflowing int64", replace("/Size 7", "/Size 99999999999999999999999"), CodeDamaged},
		{"negative size", replace("/Size 7", "/Size -5"), CodeDamaged},
		{"xref subsection too long", replace("xref\n0 7", "xref\n0 900000000"), CodeDamaged},
		{"xref subsection far away", replace("xref\n0 7", "xref\n4000000000 7"), CodeDamaged},
		{"object stream count", replace("/Type /Font", "/Type /ObjStm /N 4611686018427387904"), CodeDamaged},
		{"xref stream width", replace("/Type /Font", "/W [1 2147483647 1]"), CodeDamaged},
		{"xref stream index", replace("/Type /Font", "/Index [0 5 100 1000000000000]"), CodeDamaged},
		{"predictor columns", replace("/Type /Font", "/DecodeParms << /Predictor 12 /Columns 9999999999 >>"), CodeDamaged},
		{"page count", replace("/Count 1", "/Count 88888888888"), CodeDamaged},
	}
	for _, tt := range tests {
		_, err := guard(tt.data, DefaultLimits())
		got := ""
		if ge, ok := err.(*guardError); ok {
			got = ge.code
		} else if err != nil {
			got = err.Error()
		}
		if got != tt.code {
			t.Errorf("guard(%s) = %v, want code %q", tt.name, err, tt.code)
		}
	}
}

// deflate compresses b.
func deflate(b []byte) string {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.String()
}

func TestHostileContent(t *testing.T) {
	// Each file below once hung, exhausted or crashed a PDF reader; each
	// must end as forms or an error, quickly.
	bomb := deflate(bytes.Repeat([]byte("1 "), 20<<20)) // 40 MB of operands from 40 KB
	tests := []struct {
		name string
		data []byte
	}{
		{"inflation bomb content", buildPDF(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
			"xstream:/Filter /FlateDecode:"+bomb)},
		{"cmap with a billion entries", buildPDF(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
			"stream:"+show(50, 700, "First name: Ann"),
			"<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /ToUnicode 6 0 R >>",
			"stream:1 begincodespacerange <0000> <FFFF> endcodespacerange 1000000000 beginbfchar <0001> <0041> endbfchar")},
		{"deeply nested arrays", textPDF("[" + strings.Repeat("[", 100000) + "] Tj")},
		{"deeply nested dictionaries in the catalog", buildPDF(
			"<< /Type /Catalog /Pages 2 0 R /X "+strings.Repeat("<< /A ", 5000)+" >> >>",
			"<< /Type /Pages /Kids [] /Count 0 >>")},
		{"xobject drawing itself", buildPDF(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /XObject << /X 5 0 R >> >> >>",
			"stream:/X Do",
			"xstream:/Subtype /Form /BBox [0 0 100 100] /Resources << /XObject << /X 5 0 R /Y 5 0 R >> >>:/X Do /Y Do /X Do")},
		{"parent loop on resources", buildPDF(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 3 0 R >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
			"stream:"+show(50, 700, "First name: Ann"))},
		{"field tree loop", acroPDF("5 0 R", "<< /T (a) /Kids [5 0 R 5 0 R] >>")},
		{"bad filter", textPDF("")[:0]},
		{"operators without operands", textPDF("Tj TJ Td Tm cm Tf ' \" Do q Q Q Q BT ET")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			forms, err := Read(ctx, tt.data, DefaultLimits())
			if forms == nil && err == nil {
				t.Fatalf("Read = nil, nil")
			}
			if code(err) == CodeTimeout {
				t.Fatalf("Read timed out after %v", time.Since(start))
			}
		})
	}
}

// corpusSeeds are the real PDFs the mutated corpus starts from.
func corpusSeeds(t testing.TB) [][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("..", "..", "fixtures", "forms", "*.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	var seeds [][]byte
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) < 100<<10 { // the logo and scan files add time, not shapes
			seeds = append(seeds, data)
		}
	}
	seeds = append(seeds,
		textPDF(show(50, 700, "First name: Ann")+"BT /F2 10 Tf 60 600 Td (4) Tj ET\n"+show(72, 600, "I have read the leaflet")),
		acroPDF("5 0 R 6 0 R", "<< /FT /Tx /T (First name) /V (Ann) >>", "<< /FT /Btn /T (Declaration) /V /Yes >>"))
	if len(seeds) < 3 {
		t.Fatalf("only %d seed PDFs: are fixtures/forms present?", len(seeds))
	}
	return seeds
}

// mutate returns a deterministic variant of one seed: bits flipped, bytes
// overwritten with PDF syntax, truncated, or two files spliced.
func mutate(r *rand.Rand, seeds [][]byte) []byte {
	src := seeds[r.IntN(len(seeds))]
	b := append([]byte(nil), src...)
	tokens := []string{"0", "999999999", "-1", "R", "obj", "endobj", "<<", ">>", "[", "]", "(", ")", "/Kids", "/Parent", "/Length 99999999", "stream", "endstream", "/Filter /FlateDecode", "xref", "trailer", "%%EOF"}
	switch r.IntN(5) {
	case 0: // flip bits
		for n := 1 + r.IntN(8); n > 0; n-- {
			i := r.IntN(len(b))
			b[i] ^= 1 << r.IntN(8)
		}
	case 1: // truncate
		b = b[:r.IntN(len(b))]
	case 2: // overwrite with syntax
		for n := 1 + r.IntN(4); n > 0; n-- {
			tok := tokens[r.IntN(len(tokens))]
			i := r.IntN(len(b))
			copy(b[i:], tok)
		}
	case 3: // splice two files
		other := seeds[r.IntN(len(seeds))]
		i, j := r.IntN(len(b)), r.IntN(len(other))
		b = append(b[:i:i], other[j:]...)
	case 4: // change a number
		for n := 1 + r.IntN(4); n > 0; n-- {
			i := r.IntN(len(b))
			if b[i] >= '0' && b[i] <= '9' {
				b[i] = byte('0' + r.IntN(10))
			}
		}
	}
	return b
}

func TestMutatedCorpus(t *testing.T) {
	seeds := corpusSeeds(t)
	r := rand.New(rand.NewPCG(2026, 5))
	files := make([][]byte, *mutations)
	for i := range files {
		files[i] = mutate(r, seeds)
	}
	before := Panics()
	type outcome struct {
		code string
		d    time.Duration
	}
	results := make([]outcome, len(files))
	var wg sync.WaitGroup
	const workers = 2
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(files); i += workers {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				start := time.Now()
				forms, err := Read(ctx, files[i], DefaultLimits())
				results[i].d = time.Since(start)
				cancel()
				switch {
				case err == nil && len(forms) > 0:
					results[i].code = "forms"
				case err != nil:
					results[i].code = code(err)
				default:
					results[i].code = "nothing"
				}
			}
		}()
	}
	wg.Wait()
	var worst time.Duration
	outcomes := map[string]int{}
	for i, o := range results {
		worst = max(worst, o.d)
		outcomes[o.code]++
		if o.code == "nothing" || strings.HasPrefix(o.code, "other") {
			t.Errorf("mutation %d: Read gave %s, want forms or an UnreadableError", i, o.code)
		}
	}
	if outcomes[CodeTimeout] > len(files)/100 {
		t.Errorf("%d of %d mutated files timed out", outcomes[CodeTimeout], len(files))
	}
	t.Logf("%d mutated PDFs: outcomes %v; panics recovered %d; worst time %v", len(files), outcomes, Panics()-before, worst)
}
