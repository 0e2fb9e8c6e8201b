package pdfworker

import (
	"context"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncl-icb/optout-intake/extract/pdfform"
)

var mutations = flag.Int("mutations", 300, "mutated PDFs TestMutatedCorpus reads through the pool")

// mutate returns a deterministic variant of one seed: bits flipped,
// truncated, PDF syntax written over it, or two files spliced.
func mutate(r *rand.Rand, seeds [][]byte) []byte {
	src := seeds[r.IntN(len(seeds))]
	b := append([]byte(nil), src...)
	tokens := []string{"0", "999999999", "-1", "R", "obj", "endobj", "<<", ">>", "[", "]", "/Kids", "/Parent",
		"/Length 99999999", "stream", "endstream", "/Filter /FlateDecode", "xref", "trailer", "%%EOF"}
	switch r.IntN(4) {
	case 0:
		for n := 1 + r.IntN(8); n > 0; n-- {
			b[r.IntN(len(b))] ^= 1 << r.IntN(8)
		}
	case 1:
		b = b[:r.IntN(len(b))]
	case 2:
		for n := 1 + r.IntN(4); n > 0; n-- {
			copy(b[r.IntN(len(b)):], tokens[r.IntN(len(tokens))])
		}
	case 3:
		other := seeds[r.IntN(len(seeds))]
		i, j := r.IntN(len(b)), r.IntN(len(other))
		b = append(b[:i:i], other[j:]...)
	}
	return b
}

// TestMutatedCorpus: a few hundred bit-flipped, truncated and spliced
// fixtures through a 2-child pool: every file ends as forms or an
// UnreadableError, and the pool still reads a good file afterwards.
func TestMutatedCorpus(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("..", "..", "fixtures", "forms", "*.pdf"))
	if err != nil || len(names) < 3 {
		t.Fatalf("fixtures/forms/*.pdf: %d files, %v", len(names), err)
	}
	var seeds [][]byte
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	r := rand.New(rand.NewPCG(2026, 7))
	files := make([][]byte, *mutations)
	for i := range files {
		files[i] = mutate(r, seeds)
	}
	p := testPool(t, "worker", Config{Workers: 2, Timeout: 5 * time.Second})
	outcomes := make([]string, len(files))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(files); i += 4 {
				forms, err := p.Read(context.Background(), files[i], pdfform.DefaultLimits())
				switch {
				case err != nil:
					outcomes[i] = codeOf(err)
				case len(forms) > 0:
					outcomes[i] = "forms"
				default:
					outcomes[i] = "nothing"
				}
			}
		}()
	}
	wg.Wait()
	count := map[string]int{}
	for i, o := range outcomes {
		count[o]++
		if o == "nothing" || strings.HasPrefix(o, "other") {
			t.Errorf("mutation %d: Read gave %s, want forms or an UnreadableError", i, o)
		}
	}
	if count[pdfform.CodeTimeout] > len(files)/100 {
		t.Errorf("%d of %d mutated files timed out", count[pdfform.CodeTimeout], len(files))
	}
	forms, err := p.Read(context.Background(), fixture(t, "fillable-filled.pdf"), pdfform.DefaultLimits())
	if err != nil || len(forms) != 1 {
		t.Errorf("Read(good) after the corpus = %v, %v", forms, err)
	}
	t.Logf("%d mutated PDFs: outcomes %v; pool %+v", len(files), count, p.Stats())
}
