package extract

import (
	"bytes"
	"testing"
)

func TestLikelyPhoto(t *testing.T) {
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{0x55}, 200<<10)...)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 40<<10)...)
	heic := append([]byte("\x00\x00\x00\x18ftypheic"), bytes.Repeat([]byte{2}, 40<<10)...)
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"IMG_2041.JPG", jpeg, true},
		{"photo.heic", heic, true},
		{"scan.png", png, true},
		{"form.pdf", jpeg, true}, // content wins over the name
		{"", jpeg, true},
		{"image001.png", png, false},       // Outlook signature
		{"Outlook-abc123.png", png, false}, // Apple Mail layout
		{"logo.jpg", jpeg, false},
		{"tiny.jpg", jpeg[:8<<10], false}, // an icon, not a photo
		{"form.pdf", []byte("%PDF-1.7\n" + string(bytes.Repeat([]byte("x"), 40<<10))), false},
		{"notes.txt", bytes.Repeat([]byte("text "), 10<<10), false},
	}
	for _, tt := range tests {
		if got := LikelyPhoto(tt.name, tt.data); got != tt.want {
			t.Errorf("LikelyPhoto(%q, %d bytes) = %v, want %v", tt.name, len(tt.data), got, tt.want)
		}
	}
}
