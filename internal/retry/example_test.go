package retry_test

import (
	"fmt"
	"time"

	"github.com/ncl-icb/optout-intake/internal/retry"
)

func ExamplePolicy_Delay() {
	// Jitter 0 gives the shortest wait: half the capped exponential.
	p := retry.Policy{Base: 30 * time.Second, Max: time.Hour, Jitter: func() float64 { return 0 }}
	for attempt := 1; attempt <= 9; attempt += 2 {
		fmt.Println(attempt, p.Delay(attempt))
	}
	// Output:
	// 1 15s
	// 3 1m0s
	// 5 4m0s
	// 7 16m0s
	// 9 30m0s
}
