package docform

import "strings"

// maxPlainRunes bounds the text DOCXText and ODTText return.
const maxPlainRunes = 200_000

// DOCXText returns the text of a Word .docx file as staff read it beside
// the fields: one line per paragraph, table cells joined by " | ". It uses
// the same limits as ReadDOCX and never runs anything in the file. Errors
// are *form.UnreadableError.
func DOCXText(data []byte) (string, error) {
	blocks, err := readDOCXBlocks(data)
	if err != nil {
		return "", err
	}
	return blocksText(blocks), nil
}

// ODTText is DOCXText for an OpenDocument text (zipped .odt or flat .fodt).
func ODTText(data []byte) (string, error) {
	blocks, err := readODTBlocks(data)
	if err != nil {
		return "", err
	}
	return blocksText(blocks), nil
}

func blocksText(blocks []block) string {
	var b strings.Builder
	n := 0
	for _, bl := range blocks {
		line := bl.text
		if bl.rows != nil {
			rows := make([]string, 0, len(bl.rows))
			for _, r := range bl.rows {
				rows = append(rows, strings.Join(r, " | "))
			}
			line = strings.Join(rows, "\n")
		}
		n += len([]rune(line)) + 1
		if n > maxPlainRunes {
			b.WriteString("[… the rest of the text is not shown]\n")
			break
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
