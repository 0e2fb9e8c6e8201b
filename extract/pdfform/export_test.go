package pdfform

// Panics returns how many panics inside the PDF libraries Read has
// recovered since the process started; export it as a counter metric.
func Panics() int64 { return panics.Load() }
