package handlers_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
)

// newBenchServer is the real router over a real SQLite file, as in
// production: the defaults of every setting (synchronous=FULL, duplicate
// detection on) except the rate limit, since every post comes from one
// address. The request log is formatted as in production but thrown away.
func newBenchServer(b *testing.B) http.Handler {
	b.Helper()
	return newTestServer(b, withRateLimit(0), withLog(slog.New(slog.NewJSONHandler(io.Discard, nil)))).handler
}

// leadBody is the JSON of the n-th benchmark lead: a new address each time,
// the marketing box ticked on every other one (which queues a confirmation
// email besides the one to sales), like bench/post.lua.
func leadBody(buf []byte, n int64) []byte {
	buf = append(buf[:0], `{"name":"Bench Lead","email":"lead-`...)
	buf = strconv.AppendInt(buf, n, 10)
	buf = append(buf, `@example.com","message":"Please call me about a quote.","marketing_consent":`...)
	buf = strconv.AppendBool(buf, n%2 == 0)
	return append(buf, '}')
}

// postLead sends one JSON lead through h and reports a failure unless it
// was accepted; it uses b.Error, not b.Fatal, to be safe in RunParallel.
func postLead(b *testing.B, h http.Handler, body []byte) bool {
	req := httptest.NewRequest(http.MethodPost, "/contact", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Errorf("POST /contact: got %d %s, want 201", rec.Code, rec.Body)
		return false
	}
	return true
}

// BenchmarkSubmitJSON measures one accepted JSON submission at a time, from
// the router to the committed lead, consent event and outbox rows. Each
// iteration pays a full fsync.
func BenchmarkSubmitJSON(b *testing.B) {
	h := newBenchServer(b)
	var buf []byte
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		n++
		buf = leadBody(buf, n)
		if !postLead(b, h, buf) {
			return
		}
	}
}

// BenchmarkSubmitJSONParallel is BenchmarkSubmitJSON with 16 submissions
// per CPU in flight at once (32 on two cores, like bench/run's wrk -c32),
// where batching commits pays off.
func BenchmarkSubmitJSONParallel(b *testing.B) {
	h := newBenchServer(b)
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			buf = leadBody(buf, seq.Add(1))
			if !postLead(b, h, buf) {
				return
			}
		}
	})
}

// BenchmarkSubmitJSONReplayParallel is BenchmarkSubmitJSONParallel with
// every post the same submission (the box ticked): a bot replaying one
// address, answered as the first one's duplicate after the first.
func BenchmarkSubmitJSONReplayParallel(b *testing.B) {
	h := newBenchServer(b)
	body := leadBody(nil, 2)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !postLead(b, h, body) {
				return
			}
		}
	})
}
