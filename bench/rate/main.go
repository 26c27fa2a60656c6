// Command rate posts leads to /contact at a fixed rate, open-loop: request
// i is due at start + i/rate whether or not earlier ones have been
// answered, which wrk (closed-loop: a new request only when one returns)
// cannot do. A server that slows down therefore meets a queue, as it
// would under a real campaign, and the latency recorded is from when each
// request was due, not from when a free connection sent it, so a stall is
// counted in full (no coordinated omission).
//
// Every request posts a JSON lead with a never-used address, the
// marketing box ticked on every other one, as bench/post.lua does.
//
// Usage:
//
//	go run ./bench/rate -url http://127.0.0.1:8080/contact -rate 1000 -d 60s
//
// It prints one line on stdout:
//
//	RESULT due=N sent=N ok=N non2xx=N errors=N late=N rate=R p50_us=N p90_us=N p99_us=N max_us=N
//
// where late counts requests not even started within a second of being
// due (every connection was busy) and rate is the 2xx answers per second
// of the run. It stops by itself after -d plus at most -timeout.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rate:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", "", "the /contact URL to post to")
	rate := flag.Int("rate", 1000, "requests per second")
	dur := flag.Duration("d", 10*time.Second, "how long to send")
	conns := flag.Int("c", 256, "most requests in flight at once (connections)")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request timeout")
	tag := flag.String("tag", "", "run tag in the addresses (default: random)")
	flag.Parse()
	if *url == "" || *rate <= 0 || *dur <= 0 || *conns <= 0 {
		flag.Usage()
		return fmt.Errorf("-url, and positive -rate, -d and -c, are required")
	}
	if *tag == "" {
		*tag = fmt.Sprintf("rate%08x", rand.Uint32())
	}

	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			MaxIdleConns:        *conns,
			MaxIdleConnsPerHost: *conns,
			MaxConnsPerHost:     *conns,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	total := int(int64(*rate) * int64(*dur) / int64(time.Second))
	// The queue holds every request of the run: the schedule never waits
	// for the senders, which is what makes the load open-loop.
	due := make(chan job, total)
	var r results
	r.lat = make([][]time.Duration, *conns)

	var wg sync.WaitGroup
	for w := range *conns {
		wg.Go(func() {
			for j := range due {
				r.lat[w] = append(r.lat[w], r.post(client, *url, *tag, j))
			}
		})
	}

	start := time.Now()
	interval := time.Second / time.Duration(*rate)
	// Dispatch in 1 ms ticks rather than one timer per request: at
	// thousands a second, per-request timers cost more than they measure.
	tick := time.NewTicker(time.Millisecond)
	sent := 0
	for sent < total {
		now := <-tick.C
		for sent < total {
			at := start.Add(time.Duration(sent) * interval)
			if at.After(now) {
				break
			}
			due <- job{n: sent + 1, at: at}
			sent++
		}
	}
	tick.Stop()
	close(due)
	wg.Wait()
	elapsed := time.Since(start)

	var all []time.Duration
	for _, l := range r.lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) int64 {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()
	}
	fmt.Printf("RESULT due=%d sent=%d ok=%d non2xx=%d errors=%d late=%d rate=%.0f p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
		total, len(all), r.ok.Load(), r.non2xx.Load(), r.errs.Load(), r.late.Load(),
		float64(r.ok.Load())/elapsed.Seconds(), pct(0.50), pct(0.90), pct(0.99), pct(1))
	return nil
}

// job is one request and when it was due.
type job struct {
	n  int
	at time.Time
}

// results are the counts of a run; lat has one slice per sender, so
// recording a latency takes no lock.
type results struct {
	ok, non2xx, errs, late atomic.Int64
	lat                    [][]time.Duration
}

// post sends job j and returns its latency from when it was due.
func (r *results) post(client *http.Client, url, tag string, j job) time.Duration {
	if time.Since(j.at) > time.Second {
		r.late.Add(1)
	}
	body := fmt.Appendf(nil,
		`{"name":"Bench Lead %d","email":"lead-%s-%d@example.com","message":"Please call me about a quote for %d units.","marketing_consent":%t}`,
		j.n, tag, j.n, j.n, j.n%2 == 0)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		r.errs.Add(1)
		return time.Since(j.at)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		r.errs.Add(1)
		return time.Since(j.at)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		r.ok.Add(1)
	} else {
		r.non2xx.Add(1)
	}
	return time.Since(j.at)
}
