//go:build !race

package pdfworker

// raceEnabled is false: children set RLIMIT_AS.
const raceEnabled = false
