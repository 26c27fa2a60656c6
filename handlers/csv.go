package handlers

import (
	"bufio"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadbox/leadbox/models"
)

// csvFile streams one CSV download as the contract fixes its bytes: UTF-8
// with a byte-order mark (so Excel reads it as UTF-8), a header row, RFC
// 4180 quoting, CRLF line ends, and a leading ' on every cell that a
// spreadsheet would take for a formula. Cells are written as they are
// otherwise: a line break inside a message stays the bytes it was
// (encoding/csv would turn "\n" into "\r\n" and drop a lone "\r").
//
// Rows go out as they are written, through a small buffer, so memory does
// not grow with the number of rows; each batch moves the connection's
// write deadline on, so a long export is not cut by the server's
// WriteTimeout while rows still flow.
type csvFile struct {
	w    *bufio.Writer
	rc   *http.ResponseController
	rows int
}

// csvBatch is how many rows go out between flushes and deadline moves.
const csvBatch = 500

// csvRowTime is how long a batch of rows may take to write.
const csvRowTime = 30 * time.Second

// streamCSV answers 200 with a download named prefix-YYYY-MM-DD.csv (the
// date of now in UTC, as every time in the exports is): the byte-order
// mark, the header row, then each row that each hands to row.
//
// It returns an error only while nothing has reached the client yet, so
// that the caller can still answer with an error page. A failure after
// that is logged and cuts the connection: the client then sees a broken
// download, never a short file that looks whole.
func streamCSV(c *gin.Context, log *slog.Logger, prefix string, now time.Time, header []string, each func(row func([]string) error) error) error {
	h := c.Writer.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+prefix+"-"+now.UTC().Format(time.DateOnly)+`.csv"`)
	c.Status(http.StatusOK)
	f := &csvFile{w: bufio.NewWriterSize(c.Writer, 32<<10), rc: http.NewResponseController(c.Writer)}
	_ = f.rc.SetWriteDeadline(time.Now().Add(csvRowTime)) // a writer without deadlines (a test's) does without
	f.w.WriteString("\uFEFF")
	err := f.Row(header)
	if err == nil {
		err = each(f.Row)
	}
	if err == nil {
		err = f.w.Flush()
	}
	if err == nil {
		return nil
	}
	if !c.Writer.Written() {
		h.Del("Content-Disposition")
		return err
	}
	log.ErrorContext(c.Request.Context(), "CSV download cut short", "err", err, "request_id", requestID(c), "route", c.FullPath())
	// gin refuses to hand over a connection once a body was written (it
	// guards websockets), so f.rc cannot hijack it; net/http's own writer
	// beneath gin's can.
	var w http.ResponseWriter = c.Writer
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
		w = u.Unwrap()
	}
	if conn, _, herr := http.NewResponseController(w).Hijack(); herr == nil {
		_ = conn.Close()
	}
	c.Abort()
	return nil
}

// Row writes one row.
func (f *csvFile) Row(cells []string) error {
	for i, cell := range cells {
		if i > 0 {
			f.w.WriteByte(',')
		}
		writeCSVCell(f.w, cell)
	}
	if _, err := f.w.WriteString("\r\n"); err != nil {
		return err
	}
	f.rows++
	if f.rows%csvBatch == 0 {
		if err := f.w.Flush(); err != nil {
			return err
		}
		_ = f.rc.SetWriteDeadline(time.Now().Add(csvRowTime))
	}
	return nil
}

// writeCSVCell writes one cell: a leading ' when it begins like a formula
// (=, +, -, @, a tab or a carriage return: OWASP's list), then quoted,
// with its quotes doubled, when it holds a comma, a quote or a line
// break (RFC 4180 §2).
func writeCSVCell(w *bufio.Writer, cell string) {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		cell = "'" + cell
	}
	if !strings.ContainsAny(cell, ",\"\r\n") {
		w.WriteString(cell)
		return
	}
	w.WriteByte('"')
	w.WriteString(strings.ReplaceAll(cell, `"`, `""`))
	w.WriteByte('"')
}

// csvTime is a time in a CSV cell: RFC 3339 in UTC, "" when unset.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// leadsCSVHeader is the header row of leads.csv.
func leadsCSVHeader() []string {
	return []string{"id", "created_at", "form", "name", "email", "phone", "company",
		"message", "page_url", "status", "marketing_state", "marketing_since"}
}

// leadsCSVRow is one lead as a row of leads.csv.
func leadsCSVRow(it models.LeadItem) []string {
	return []string{it.PublicID, csvTime(it.CreatedAt), leadFormKey(it.Lead), it.Name, it.Email, it.Phone, it.Company,
		it.Message, it.PageURL, it.Status, it.Marketing.State, csvTime(it.Marketing.Since)}
}

// leadFormKey is the form a lead came through. Only the contact form
// exists until forms files come (storage keeps no form yet).
func leadFormKey(models.Lead) string { return "contact" }

// marketingCSVHeader is the header row of marketing.csv.
func marketingCSVHeader() []string {
	return []string{"email", "name", "company", "locale", "consent_given_at",
		"consent_confirmed_at", "consent_wording_sha256", "lead_id"}
}

// marketingCSVRow is one address as a row of marketing.csv.
func marketingCSVRow(m models.MarketingContact) []string {
	confirmed := ""
	if m.ConfirmedAt != nil {
		confirmed = csvTime(*m.ConfirmedAt)
	}
	return []string{m.Email, m.Name, m.Company, m.Locale, csvTime(m.GivenAt),
		confirmed, m.WordingSHA256, m.LeadPublicID}
}
