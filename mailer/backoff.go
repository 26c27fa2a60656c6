package mailer

import "time"

// backoff returns how long to wait before the next try after `attempts`
// failed tries (0 for the first failure): "full jitter", a uniformly random
// delay in [0, min(maxDelay, base·2^attempts)). The randomness spreads the
// retries of a backed-up queue out instead of hitting a recovering SMTP
// server all at once (AWS Architecture Blog, "Exponential Backoff And
// Jitter"). randN returns a uniform number in [0, n).
func backoff(attempts int, base, maxDelay time.Duration, randN func(n int64) int64) time.Duration {
	if base <= 0 || maxDelay <= 0 {
		return 0
	}
	ceiling := maxDelay
	// base·2^attempts, settling on maxDelay before the shift could overflow.
	if attempts >= 0 && attempts < 63 && base <= maxDelay>>attempts {
		ceiling = base << attempts
	}
	return time.Duration(randN(int64(ceiling)))
}
