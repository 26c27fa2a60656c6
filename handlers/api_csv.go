package handlers

import (
	"encoding/csv"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// csvFlushRows is how many rows an export writes between flushes: the
// client sees the file grow, and what is buffered stays a few kilobytes
// however many rows there are.
const csvFlushRows = 100

// csvWriteWindow is how long the client may take to take each flushed
// batch. Every flush moves the connection's write deadline this far
// ahead, so a long export is not cut by the server's WriteTimeout while a
// stalled client still is.
const csvWriteWindow = 30 * time.Second

// csvStream writes a CSV file as the contract wants it: UTF-8 with a
// byte-order mark (Excel reads the file as UTF-8 only with one), RFC 4180
// quoting, CRLF line ends, a header row, and cells defused against formula
// injection (csvCell). Nothing is sent before the first row or the end,
// so a failure before then can still be answered with a clean 500.
type csvStream struct {
	c        *gin.Context
	filename string
	header   []string
	w        *csv.Writer
	rows     int
}

// newCSVStream prepares the file name-YYYY-MM-DD.csv (the date in UTC)
// with the given columns.
func newCSVStream(c *gin.Context, name string, now time.Time, header ...string) *csvStream {
	return &csvStream{c: c, filename: name + "-" + now.UTC().Format(time.DateOnly) + ".csv", header: header}
}

// begin sends the headers, the byte-order mark and the header row.
func (s *csvStream) begin() error {
	if s.w != nil {
		return nil
	}
	s.c.Header("Content-Type", "text/csv; charset=utf-8")
	s.c.Header("Content-Disposition", `attachment; filename="`+s.filename+`"`)
	s.c.Status(http.StatusOK)
	s.w = csv.NewWriter(s.c.Writer)
	s.w.UseCRLF = true
	if _, err := s.c.Writer.WriteString("\ufeff"); err != nil {
		return err
	}
	return s.w.Write(s.header)
}

// row writes one row, defusing every cell.
func (s *csvStream) row(cells ...string) error {
	if err := s.begin(); err != nil {
		return err
	}
	for i, v := range cells {
		cells[i] = csvCell(v)
	}
	if err := s.w.Write(cells); err != nil {
		return err
	}
	s.rows++
	if s.rows%csvFlushRows == 0 {
		return s.flush()
	}
	return nil
}

func (s *csvStream) flush() error {
	s.w.Flush()
	if err := s.w.Error(); err != nil {
		return err
	}
	rc := http.NewResponseController(s.c.Writer)
	_ = rc.SetWriteDeadline(time.Now().Add(csvWriteWindow)) // not every writer has deadlines; then the server's apply
	return rc.Flush()
}

// end finishes the file (a header row alone when there were no rows).
func (s *csvStream) end() error {
	if err := s.begin(); err != nil {
		return err
	}
	return s.flush()
}

// fail ends an export that went wrong. Before anything was sent, that is
// a plain 500. After, the status is gone, so the connection is closed
// without the end of the chunked body: the client sees a broken download
// instead of a file that looks complete and is not. (That needs
// HTTP/1.1, which Leadbox serves; behind an HTTP/2 proxy the proxy sees
// the cut.)
func (s *csvStream) fail(log *slog.Logger, err error) {
	if s.w == nil {
		apiInternal(s.c, log, err)
		return
	}
	ctx := s.c.Request.Context()
	if ctx.Err() == nil {
		log.ErrorContext(ctx, "export cut short", "err", err, "rows", s.rows,
			"request_id", requestID(s.c), "route", s.c.FullPath())
	}
	s.c.Abort()
	s.w.Flush()
	_ = http.NewResponseController(s.c.Writer).Flush()
	// gin refuses to hand over a connection once a body was written (it
	// guards websockets); net/http's own writer beneath it does not.
	var w http.ResponseWriter = s.c.Writer
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
		w = u.Unwrap()
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// csvCell defuses a cell that a spreadsheet would run as a formula: one
// beginning with =, +, -, @, a tab or a carriage return gets a leading '
// (OWASP's advice, and the contract's rule).
func csvCell(v string) string {
	if v != "" && strings.IndexByte("=+-@\t\r", v[0]) >= 0 {
		return "'" + v
	}
	return v
}
