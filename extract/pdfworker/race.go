//go:build race

package pdfworker

// raceEnabled: the race detector's runtime maps its shadow memory on demand,
// so a child under RLIMIT_AS dies on its first allocations; it runs with the
// heap watchdog alone.
const raceEnabled = true
