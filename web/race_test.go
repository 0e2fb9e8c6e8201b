//go:build race

package web_test

// raceEnabled: this test binary runs under the race detector, which
// multiplies memory use; memory limits are measured on a plain build.
const raceEnabled = true
