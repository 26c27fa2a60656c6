package mailer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/leadbox/leadbox/internal/smtptest"
	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/sqlite"
)

func statusOf(t *testing.T, s *sqlite.Store, id int64) func() bool {
	return func() bool {
		st := outboxRow(t, s, id).Status
		return st == models.StatusSent || st == models.StatusFailed || st == models.StatusCancelled
	}
}

// TestWorkerSMTPReplies drives the worker against scripted SMTP answers and
// checks what it records and how often the message arrives (research §4.4).
func TestWorkerSMTPReplies(t *testing.T) {
	tests := []struct {
		name         string
		script       []smtptest.Fate
		wantStatus   string
		wantAttempts int
		wantReceived int
		wantError    []string // in last_error; none for no error
	}{
		{"accepted", nil, models.StatusSent, 1, 1, nil},
		{"RCPT 451 then accepted", []smtptest.Fate{smtptest.TempFailRcpt}, models.StatusSent, 2, 1, nil},
		{"DATA 451 then accepted", []smtptest.Fate{smtptest.TempFailData}, models.StatusSent, 2, 1, nil},
		{"RCPT 550 fails, no retry", []smtptest.Fate{smtptest.PermFailRcpt}, models.StatusFailed, 1, 0, []string{"RCPT TO", "550", "no such user here"}},
		{"DATA 554 fails, no retry", []smtptest.Fate{smtptest.PermFailData}, models.StatusFailed, 1, 0, []string{"DATA", "554", "message rejected as spam"}},
		{"dropped after final dot is retried", []smtptest.Fate{smtptest.DropAfterData}, models.StatusSent, 2, 1, nil},
		{"421 to RSET after 250 is sent, not resent", []smtptest.Fate{smtptest.ResetAfterAccept}, models.StatusSent, 1, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := smtptest.NewServer(t, tt.script...)
			s, _ := openStore(t)
			lead := testLead("Jane Doe")
			rows := addLead(t, s, lead, false, models.KindSalesNotification)
			w, logs := newTestWorker(t, testConfig(t, d), s)
			stop := runWorker(t, w)
			waitFor(t, "the message is sent or failed", statusOf(t, s, rows[0].ID))
			stop()

			row := outboxRow(t, s, rows[0].ID)
			if row.Status != tt.wantStatus || row.Attempts != tt.wantAttempts {
				t.Errorf("row = %s after %d attempts, want %s after %d", row.Status, row.Attempts, tt.wantStatus, tt.wantAttempts)
			}
			if got := len(d.Messages()); got != tt.wantReceived {
				t.Errorf("server accepted %d messages, want %d", got, tt.wantReceived)
			}
			if tt.wantError == nil && row.LastError != "" {
				t.Errorf("last_error = %q, want none", row.LastError)
			}
			for _, want := range tt.wantError {
				if !strings.Contains(row.LastError, want) {
					t.Errorf("last_error = %q, want it to contain %q", row.LastError, want)
				}
			}
			if strings.Contains(row.LastError, "sales@example.com") {
				t.Errorf("last_error = %q names the recipient", row.LastError)
			}
			for _, personal := range []string{lead.Email, lead.Name, lead.Phone} {
				if strings.Contains(logs.String(), personal) {
					t.Errorf("log contains personal data %q:\n%s", personal, logs)
				}
			}
		})
	}
}

func TestWorkerServerDownThenBack(t *testing.T) {
	d := smtptest.NewUnstartedServer(t)
	s, _ := openStore(t)
	var ids []int64
	for _, name := range []string{"Jane Doe", "John Roe"} {
		ids = append(ids, addLead(t, s, testLead(name), false, models.KindSalesNotification)[0].ID)
	}
	w, _ := newTestWorker(t, testConfig(t, d), s)
	runWorker(t, w)
	for _, id := range ids {
		waitFor(t, "a failed attempt is recorded", func() bool {
			row := outboxRow(t, s, id)
			return row.Attempts >= 1 && row.Status == models.StatusPending && row.LastError != ""
		})
	}
	d.Start()
	w.Wake()
	for _, id := range ids {
		waitFor(t, "the message is sent", statusOf(t, s, id))
	}
	got := d.Messages()
	if len(got) != 2 {
		t.Fatalf("server accepted %d messages, want 2 (each exactly once)", len(got))
	}
	for _, id := range ids {
		if row := outboxRow(t, s, id); row.Status != models.StatusSent || row.LastError != "" {
			t.Errorf("row %d = %s, last_error %q; want sent, no error", id, row.Status, row.LastError)
		}
	}
	if a, b := readEmail(t, got[0]).header.Get("Message-Id"), readEmail(t, got[1]).header.Get("Message-Id"); a == b {
		t.Errorf("both messages have Message-ID %s, want distinct", a)
	}
}

// TestWorkerServerRestarts stops the SMTP server between two messages: the
// worker must not lose the second to the dead connection.
func TestWorkerServerRestarts(t *testing.T) {
	d := smtptest.NewServer(t)
	s, _ := openStore(t)
	w, _ := newTestWorker(t, testConfig(t, d), s)
	runWorker(t, w)

	first := addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)[0].ID
	w.Wake()
	waitFor(t, "the first message is sent", statusOf(t, s, first))
	d.Stop()
	second := addLead(t, s, testLead("John Roe"), false, models.KindSalesNotification)[0].ID
	w.Wake()
	waitFor(t, "a failed attempt is recorded", func() bool { return outboxRow(t, s, second).Attempts >= 1 })
	d.Start()
	waitFor(t, "the second message is sent", statusOf(t, s, second))
	if got := len(d.Messages()); got != 2 {
		t.Errorf("server accepted %d messages, want 2", got)
	}
}

// TestWorkerRestartSendsPending: rows left pending by one process are sent
// by the next one, which knows of them only from the database.
func TestWorkerRestartSendsPending(t *testing.T) {
	d := smtptest.NewUnstartedServer(t)
	cfg := testConfig(t, d)
	s1, path := openStore(t)
	id := addLead(t, s1, testLead("Jane Doe"), false, models.KindSalesNotification)[0].ID
	w1, _ := newTestWorker(t, cfg, s1)
	stop := runWorker(t, w1)
	waitFor(t, "a failed attempt is recorded", func() bool { return outboxRow(t, s1, id).Attempts >= 1 })
	stop()
	if err := s1.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}

	d.Start()
	s2, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen store: %v", err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	w2, _ := newTestWorker(t, cfg, s2)
	runWorker(t, w2)
	waitFor(t, "the message is sent", statusOf(t, s2, id))
	if got := len(d.Messages()); got != 1 {
		t.Errorf("server accepted %d messages, want 1", got)
	}
}

// TestWorkerReusesConnections: a few messages go over one connection; a
// backlog over several at once, each carrying many messages, never more
// than LEADBOX_SMTP_CONNECTIONS.
func TestWorkerReusesConnections(t *testing.T) {
	tests := []struct {
		name            string
		messages        int
		connections     string
		wantConnections int
	}{
		{"a few", 3, "3", 1},
		{"one full batch", batchSize, "1", 1},
		{"a backlog over one connection", 3*batchSize + 3, "1", 1},
		{"a backlog over three", 6*batchSize + 3, "3", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := smtptest.NewServer(t)
			s, _ := openStore(t)
			for range tt.messages {
				addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)
			}
			w, _ := newTestWorker(t, testConfig(t, d, "LEADBOX_SMTP_CONNECTIONS", tt.connections), s)
			if err := w.drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := len(d.Messages()); got != tt.messages {
				t.Fatalf("server accepted %d messages, want %d", got, tt.messages)
			}
			if got := d.Connections(); got != tt.wantConnections {
				t.Errorf("server saw %d connections for %d messages, want %d", got, tt.messages, tt.wantConnections)
			}
			if got := len(duplicateMessageIDs(t, d)); got != 0 {
				t.Errorf("%d messages were sent twice", got)
			}
		})
	}
}

func TestWakeSendsAtOnce(t *testing.T) {
	d := smtptest.NewServer(t)
	s, _ := openStore(t)
	// An hour's poll: only Wake can make this test pass in time.
	w, _ := newTestWorker(t, testConfig(t, d, "LEADBOX_OUTBOX_POLL", "1h"), s)
	runWorker(t, w)
	for range 3 {
		w.Wake() // coalesces, never blocks
	}
	id := addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)[0].ID
	w.Wake()
	waitFor(t, "the message is sent", statusOf(t, s, id))
}

func TestBackoffBounds(t *testing.T) {
	tests := []struct{ base, cap time.Duration }{
		{5 * time.Millisecond, 20 * time.Millisecond},
		{30 * time.Second, time.Hour},
		{time.Nanosecond, time.Nanosecond},
		{time.Hour, 96 * time.Hour},
	}
	for _, tt := range tests {
		for seed := range uint64(10_000) {
			r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
			n := int(seed % 80) // well past the point where base·2^n overflows
			got := backoff(n, tt.base, tt.cap, r.Int64N)
			ceiling := tt.cap
			if n < 62 && float64(tt.base)*float64(uint64(1)<<n) < float64(tt.cap) {
				ceiling = tt.base << n
			}
			if got < 0 || got > ceiling {
				t.Fatalf("backoff(%d, %v, %v) = %v, want within [0, %v]", n, tt.base, tt.cap, got, ceiling)
			}
		}
	}
}

func TestBackoffIsJittered(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[backoff(10, time.Second, time.Hour, r.Int64N)] = true
	}
	if len(seen) < 90 {
		t.Errorf("100 delays took %d distinct values, want them spread out", len(seen))
	}
}

// TestWorkerGivesUp runs a message that always meets 451 on a fake clock
// until the give-up window is over.
func TestWorkerGivesUp(t *testing.T) {
	script := make([]smtptest.Fate, 200)
	for i := range script {
		script[i] = smtptest.TempFailRcpt
	}
	d := smtptest.NewServer(t, script...)
	cfg := testConfig(t, d, "LEADBOX_RETRY_BASE", "1m", "LEADBOX_RETRY_MAX", "30m", "LEADBOX_GIVE_UP_AFTER", "24h")
	s, _ := openStore(t)
	id := addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)[0].ID
	w, _ := newTestWorker(t, cfg, s)
	queued := outboxRow(t, s, id).QueuedAt
	now := queued
	w.now = func() time.Time { return now }
	w.randN = rand.New(rand.NewPCG(7, 7)).Int64N

	var lastTry time.Time
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatalf("still not given up after %d attempts", i)
		}
		if err := w.drain(t.Context()); err != nil {
			t.Fatalf("drain: %v", err)
		}
		row := outboxRow(t, s, id)
		if row.Status == models.StatusFailed {
			break
		}
		if row.Status != models.StatusPending || row.Attempts != i+1 {
			t.Fatalf("after try %d: row = %s after %d attempts, want pending after %d", i+1, row.Status, row.Attempts, i+1)
		}
		if !row.NextAttemptAt.After(now) || row.NextAttemptAt.Sub(now) > 30*time.Minute {
			t.Fatalf("next attempt %v after try at %v, want within (0, 30m]", row.NextAttemptAt, now)
		}
		lastTry = now
		now = row.NextAttemptAt
	}
	row := outboxRow(t, s, id)
	if want := "gave up after " + strconv.Itoa(row.Attempts) + " attempts: "; !strings.HasPrefix(row.LastError, want) || !strings.Contains(row.LastError, "451") {
		t.Errorf("last_error = %q, want %q followed by the 451 reply", row.LastError, want)
	}
	if now.Sub(queued) < 24*time.Hour || lastTry.Sub(queued) >= 24*time.Hour {
		t.Errorf("gave up at %v after queueing, previous try at %v; want the first try past 24h to give up",
			now.Sub(queued), lastTry.Sub(queued))
	}
}

// TestFileTransport: without an SMTP host every email is an .eml file
// named by when it was queued and what it is, and each file written gets
// a log line that names it without any personal data.
func TestFileTransport(t *testing.T) {
	cfg := testConfig(t, nil)
	cfg.MailDir = filepath.Join(t.TempDir(), "not", "yet", "there")
	s, _ := openStore(t)
	rows := addLead(t, s, testLead("Jane Doe"), true, models.KindSalesNotification, models.KindConsentConfirmation)
	w, logs := newTestWorker(t, cfg, s)
	if want := "writing emails as .eml files into " + cfg.MailDir + ", no SMTP host set"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
	runWorker(t, w)
	for _, r := range rows {
		waitFor(t, r.Kind+" is written", statusOf(t, s, r.ID))
	}

	entries, err := os.ReadDir(cfg.MailDir)
	if err != nil {
		t.Fatalf("read mail dir: %v", err)
	}
	files := map[string]bool{}
	for _, e := range entries {
		files[e.Name()] = true
	}
	if len(files) != len(rows) {
		t.Fatalf("mail dir holds %v, want one .eml file per message (%d)", files, len(rows))
	}
	name := regexp.MustCompile(`^\d{8}T\d{6}\.\d{3}Z-(sales_notification|consent_confirmation)-[0-9a-f]{8}\.eml$`)
	for _, r := range rows {
		row := outboxRow(t, s, r.ID)
		if row.Status != models.StatusSent {
			t.Errorf("%s row = %s, want sent", row.Kind, row.Status)
		}
		var file string
		for f := range files {
			if m := name.FindStringSubmatch(f); m != nil && m[1] == row.Kind && strings.HasPrefix(f, row.QueuedAt.UTC().Format(emlTime)) {
				file = f
			}
		}
		if file == "" {
			t.Errorf("no file named like %s-%s-HASH.eml among %v", row.QueuedAt.UTC().Format(emlTime), row.Kind, files)
			continue
		}
		raw, err := os.ReadFile(filepath.Join(cfg.MailDir, file))
		if err != nil {
			t.Fatalf("read .eml: %v", err)
		}
		if got := readEmail(t, raw).header.Get("Message-Id"); got != "<"+row.MessageID+"@example.com>" {
			t.Errorf("%s: Message-ID = %q, want <%s@example.com>", file, got, row.MessageID)
		}
		line := fmt.Sprintf(`level=INFO msg="wrote email file" file=%s kind=%s outbox_id=%d`, filepath.Join(cfg.MailDir, file), row.Kind, row.ID)
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, logs)
		}
	}
	for _, personal := range []string{"jane.doe@example.org", "Jane Doe", "sales@example.com", "Sales & Marketing"} {
		if strings.Contains(logs.String(), personal) {
			t.Errorf("log holds %q:\n%s", personal, logs)
		}
	}
}

// TestEmlName: .eml names sort by time, say what the email is, are the
// same for every send of one message, and carry nothing but safe
// characters.
func TestEmlName(t *testing.T) {
	queued := time.Date(2026, 12, 2, 14, 30, 0, 123456789, time.FixedZone("CET", 3600))
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	const id = "<abc123@example.com>"
	hash := emlName(Label{Kind: "x"}, id, now)[len("20261203T090000.000Z-x-"):]
	tests := []struct {
		name string
		l    Label
		id   string
		want string
	}{
		{"queued time, in UTC, to the millisecond", Label{Kind: models.KindSalesNotification, Queued: queued}, id, "20261202T133000.123Z-sales_notification-" + hash},
		{"no queue time: now", Label{Kind: KindTest}, id, "20261203T090000.000Z-test-" + hash},
		{"kind from a bad row", Label{Kind: "Sales/../ notification\n"}, id, "20261203T090000.000Z-salesnotification-" + hash},
		{"no kind", Label{}, id, "20261203T090000.000Z-email-" + hash},
		{"no Message-ID", Label{Kind: KindTest}, "", ""},
	}
	for _, tt := range tests {
		if got := emlName(tt.l, tt.id, now); got != tt.want {
			t.Errorf("%s: emlName = %q, want %q", tt.name, got, tt.want)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}\.eml$`).MatchString(hash) {
		t.Errorf("name ends in %q, want 8 hex digits of the Message-ID's hash and .eml", hash)
	}
	if a, b := emlName(Label{Kind: KindTest}, "<one@example.com>", now), emlName(Label{Kind: KindTest}, "<two@example.com>", now); a == b {
		t.Errorf("two messages written at once share the name %q", a)
	}
}

// blockingTransport holds the first Send until release is closed, so a
// test can shut the worker down while a message is in flight.
type blockingTransport struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	sent    int
}

func (b *blockingTransport) String() string                        { return "blocking" }
func (b *blockingTransport) Open(context.Context) (Session, error) { return b, nil }
func (b *blockingTransport) Close() error                          { return nil }
func (b *blockingTransport) Send(*gomail.Msg, Label) error {
	b.once.Do(func() {
		close(b.started)
		<-b.release
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent++
	return nil
}

func TestWorkerShutdownFinishesInFlightAndReleasesRest(t *testing.T) {
	cfg := testConfig(t, nil)
	s, _ := openStore(t)
	var ids []int64
	for range 3 {
		ids = append(ids, addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)[0].ID)
	}
	bt := &blockingTransport{started: make(chan struct{}), release: make(chan struct{})}
	log, _ := testLogger()
	w := newWorker(cfg, s, newTestComposer(t, cfg), bt, log)
	stop := runWorker(t, w)

	<-bt.started
	go func() {
		// Let the cancel land while the first message is in flight.
		time.Sleep(20 * time.Millisecond)
		close(bt.release)
	}()
	stop()

	if bt.sent != 1 {
		t.Fatalf("sent %d messages, want 1 (only the one in flight)", bt.sent)
	}
	if row := outboxRow(t, s, ids[0]); row.Status != models.StatusSent {
		t.Errorf("message in flight = %s, want sent", row.Status)
	}
	for _, id := range ids[1:] {
		row := outboxRow(t, s, id)
		if row.Status != models.StatusPending || row.Attempts != 0 || row.LeaseUntil != nil {
			t.Errorf("row %d = %s, %d attempts, lease %v; want pending, untried, released", id, row.Status, row.Attempts, row.LeaseUntil)
		}
	}
}

// countingTransport accepts everything and counts.
type countingTransport struct {
	mu   sync.Mutex
	sent int
}

func (c *countingTransport) String() string                        { return "counting" }
func (c *countingTransport) Open(context.Context) (Session, error) { return c, nil }
func (c *countingTransport) Close() error                          { return nil }
func (c *countingTransport) Send(*gomail.Msg, Label) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent++
	return nil
}

// TestWorkerChecksConsentAtSendTime: an opt-out that lands after the
// confirmation email was claimed, or while the worker was connecting to
// the SMTP server (which may take up to the SMTP timeout per step), still
// stops it.
func TestWorkerChecksConsentAtSendTime(t *testing.T) {
	tests := []struct {
		name       string
		withdraw   string // when: "" (never), "claimed", "connecting"
		wantStatus string
		wantSent   int
	}{
		{"still waiting for confirmation", "", models.StatusSent, 1},
		{"opted out after the claim", "claimed", models.StatusCancelled, 0},
		{"opted out while connecting", "connecting", models.StatusCancelled, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, nil)
			s, _ := openStore(t)
			lead := testLead("Jane Doe")
			addLead(t, s, lead, true, models.KindConsentConfirmation)
			withdraw := func() {
				ev := models.ConsentEvent{Subject: models.NormalizeEmail(lead.Email), At: time.Now().UTC(), Method: models.MethodOptOutPage}
				if _, err := s.Withdraw(t.Context(), ev); err != nil {
					t.Errorf("Withdraw: %v", err)
				}
			}
			ct := &hookedTransport{}
			if tt.withdraw == "connecting" {
				ct.onOpen = withdraw
			}
			log, _ := testLogger()
			w := newWorker(cfg, s, newTestComposer(t, cfg), ct, log)
			msgs, err := s.ClaimDue(t.Context(), time.Now().UTC(), 10, time.Now().UTC().Add(time.Minute))
			if err != nil || len(msgs) != 1 {
				t.Fatalf("ClaimDue = %d messages, %v; want 1", len(msgs), err)
			}
			if tt.withdraw == "claimed" {
				withdraw()
			}
			l := &lane{Worker: w}
			l.deliver(t.Context(), &msgs[0])
			l.flush(t.Context())
			if row := outboxRow(t, s, msgs[0].ID); row.Status != tt.wantStatus {
				t.Errorf("row = %s (%q), want %s", row.Status, row.LastError, tt.wantStatus)
			}
			if ct.sent != tt.wantSent {
				t.Errorf("sent %d, want %d", ct.sent, tt.wantSent)
			}
		})
	}
}

// hookedTransport is a countingTransport that runs onOpen while opening a
// session, as if it happened during the dial and greeting.
type hookedTransport struct {
	countingTransport
	onOpen func()
}

func (h *hookedTransport) Open(ctx context.Context) (Session, error) {
	if h.onOpen != nil {
		h.onOpen()
	}
	return &h.countingTransport, nil
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want outcome
	}{
		{"no error", nil, outcomeSent},
		{"dial error", errors.New("dial tcp 127.0.0.1:25: connect: connection refused"), outcomeRetry},
		{"timeout", context.DeadlineExceeded, outcomeRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(gomail.NewMsg(), tt.err); got != tt.want {
				t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// slowTransport advances the worker's fake clock on every send and records
// the lease of the messages still waiting at that moment.
type slowTransport struct {
	countingTransport
	step   time.Duration
	clock  *time.Time
	store  *sqlite.Store
	ids    []int64
	leases []time.Time // lease_until of the last message, seen at each send
	t      *testing.T
}

func (s *slowTransport) Open(context.Context) (Session, error) { return s, nil }
func (s *slowTransport) Send(m *gomail.Msg, l Label) error {
	*s.clock = s.clock.Add(s.step)
	row := outboxRow(s.t, s.store, s.ids[len(s.ids)-1])
	if row.LeaseUntil != nil {
		s.leases = append(s.leases, *row.LeaseUntil)
	}
	return s.countingTransport.Send(m, l)
}

// TestWorkerExtendsItsLease: a batch that takes longer than its lease to
// send keeps it, so no other worker can take over a message still in hand;
// and the whole batch's outcomes are written together.
func TestWorkerExtendsItsLease(t *testing.T) {
	cfg := testConfig(t, nil)
	s, _ := openStore(t)
	var ids []int64
	for range 3 {
		msgs := addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)
		ids = append(ids, msgs[0].ID)
	}
	log, _ := testLogger()
	clock := time.Now().UTC()
	st := &slowTransport{clock: &clock, store: s, ids: ids, t: t}
	w := newWorker(cfg, s, newTestComposer(t, cfg), st, log)
	w.now = func() time.Time { return clock }
	st.step = w.lease / 2 // each send takes half a lease

	if err := w.drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(st.leases) != 3 {
		t.Fatalf("saw %d leases, want 3", len(st.leases))
	}
	// By the third send a whole lease has passed since the claim: the last
	// message must still be leased into the future.
	if !st.leases[2].After(clock.Add(-w.lease / 2)) {
		t.Errorf("lease of the last message at its send: %v, clock %v; the lease was not extended", st.leases[2], clock)
	}
	for _, id := range ids {
		if row := outboxRow(t, s, id); row.Status != models.StatusSent || row.Attempts != 1 {
			t.Errorf("row %d = %s after %d attempts, want sent after 1", id, row.Status, row.Attempts)
		}
	}
}

// busyStore is a real store that says the form is busy.
type busyStore struct{ *sqlite.Store }

func (busyStore) FormBusy() bool { return true }

// TestWorkerYieldsWhileTheFormIsBusy: during a submission wave only one
// connection sends, resting after each batch, and every message still
// goes out.
func TestWorkerYieldsWhileTheFormIsBusy(t *testing.T) {
	const n = 3*batchSize + 1 // four batches
	tests := []struct {
		name        string
		busy        bool
		connections string
		wantPauses  int
	}{
		{"quiet", false, "3", 0},
		// A pause after each full batch; the short last batch ends it.
		{"busy, one connection", true, "1", 3},
		{"busy, three connections", true, "3", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, nil, "LEADBOX_SMTP_CONNECTIONS", tt.connections)
			s, _ := openStore(t)
			for range n {
				addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)
			}
			var store Store = s
			if tt.busy {
				store = busyStore{s}
			}
			log, _ := testLogger()
			ct := &countingTransport{}
			w := newWorker(cfg, store, newTestComposer(t, cfg), ct, log)
			var mu sync.Mutex
			var pauses []time.Duration
			w.sleep = func(_ context.Context, d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				pauses = append(pauses, d)
			}
			if err := w.drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			// One drain sends what was due when it began, busy or not.
			if ct.sent != n {
				t.Errorf("sent %d, want %d", ct.sent, n)
			}
			if len(pauses) != tt.wantPauses {
				t.Errorf("paused %d times (%v), want %d", len(pauses), pauses, tt.wantPauses)
			}
			for _, d := range pauses {
				if d != yieldPause {
					t.Errorf("paused %v, want %v", d, yieldPause)
				}
			}
		})
	}
}

// busyAfterStore is a real store whose form turns busy once after claims
// have been made, and which notes the Message-IDs of what it hands out
// from then on.
type busyAfterStore struct {
	*sqlite.Store
	after     int
	mu        sync.Mutex
	claims    int
	claimedIn map[string]bool // Message-IDs claimed while busy
}

func (b *busyAfterStore) FormBusy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.claims >= b.after
}

func (b *busyAfterStore) ClaimDue(ctx context.Context, due time.Time, limit int, leaseUntil time.Time) ([]models.OutboxMessage, error) {
	busy := b.FormBusy()
	msgs, err := b.Store.ClaimDue(ctx, due, limit, leaseUntil)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.claims++
	if busy {
		for _, m := range msgs {
			b.claimedIn[m.MessageID] = true
		}
	}
	return msgs, err
}

// sessionTransport opens numbered sessions and notes which one sent each
// message, by the left-hand side of its Message-ID (the outbox row's).
type sessionTransport struct {
	mu     sync.Mutex
	opened int
	sentBy map[string]int
}

type numberedSession struct {
	t *sessionTransport
	n int
}

func (t *sessionTransport) String() string { return "sessions" }
func (t *sessionTransport) Open(context.Context) (Session, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.opened++
	return numberedSession{t: t, n: t.opened}, nil
}
func (s numberedSession) Close() error { return nil }
func (s numberedSession) Send(m *gomail.Msg, _ Label) error {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	id, _, _ := strings.Cut(strings.Trim(m.GetMessageID(), "<>"), "@")
	s.t.sentBy[id] = s.n
	return nil
}

// TestWorkerStopsExtraLanesWhenTheFormTurnsBusy: lanes opened while the
// form was quiet finish the batch in hand once it turns busy, and then
// only the first goes on: every message claimed while busy goes out over
// one connection.
func TestWorkerStopsExtraLanesWhenTheFormTurnsBusy(t *testing.T) {
	const n = 8 * batchSize
	cfg := testConfig(t, nil, "LEADBOX_SMTP_CONNECTIONS", "3")
	s, _ := openStore(t)
	for range n {
		addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)
	}
	// Quiet for two claims: the first lane starts a second one.
	store := &busyAfterStore{Store: s, after: 2, claimedIn: map[string]bool{}}
	tr := &sessionTransport{sentBy: map[string]int{}}
	log, _ := testLogger()
	w := newWorker(cfg, store, newTestComposer(t, cfg), tr, log)
	w.sleep = func(context.Context, time.Duration) {}
	if err := w.drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(tr.sentBy) != n {
		t.Fatalf("sent %d messages, want %d", len(tr.sentBy), n)
	}
	if tr.opened < 2 {
		t.Fatalf("opened %d connections before the form turned busy, want at least 2", tr.opened)
	}
	busySessions := map[int]int{}
	for id := range store.claimedIn {
		busySessions[tr.sentBy[id]]++
	}
	if len(store.claimedIn) == 0 || len(busySessions) != 1 {
		t.Errorf("messages claimed while busy went out over connections %v (count by connection), want all over one", busySessions)
	}
}

// duplicateMessageIDs returns the Message-IDs the server received more than
// once.
func duplicateMessageIDs(t *testing.T, d *smtptest.Server) []string {
	t.Helper()
	seen := map[string]int{}
	var dups []string
	for _, raw := range d.Messages() {
		id := readEmail(t, raw).header.Get("Message-ID")
		if seen[id]++; seen[id] == 2 {
			dups = append(dups, id)
		}
	}
	return dups
}

// claimCounter is a real store that counts claims, and the outcomes of
// each Record call.
type claimCounter struct {
	*sqlite.Store
	mu      sync.Mutex
	claims  int
	records []int
	// With a clock, each claim's lease as it runs from the moment of the
	// claim.
	clock  *steppingClock
	leases []time.Duration
}

func (c *claimCounter) ClaimDue(ctx context.Context, due time.Time, limit int, leaseUntil time.Time) ([]models.OutboxMessage, error) {
	c.mu.Lock()
	c.claims++
	if c.clock != nil {
		c.leases = append(c.leases, leaseUntil.Sub(c.clock.peek()))
	}
	c.mu.Unlock()
	return c.Store.ClaimDue(ctx, due, limit, leaseUntil)
}

func (c *claimCounter) Record(ctx context.Context, outcomes []models.Outcome) error {
	c.mu.Lock()
	c.records = append(c.records, len(outcomes))
	c.mu.Unlock()
	return c.Store.Record(ctx, outcomes)
}

// TestDrainClaimsNoMoreThanNeeded: a claim that comes back short ends the
// lane, so a drain does not take the writer's lock once more only to find
// nothing; and each batch's outcomes are recorded together, in one call.
func TestDrainClaimsNoMoreThanNeeded(t *testing.T) {
	tests := []struct {
		messages, wantClaims int
		wantRecords          []int
	}{
		{3, 1, []int{3}},
		{batchSize + 3, 2, []int{batchSize, 3}},
		{batchSize, 2, []int{batchSize}}, // a full batch may have more behind it
	}
	for _, tt := range tests {
		cfg := testConfig(t, nil, "LEADBOX_SMTP_CONNECTIONS", "1")
		s, _ := openStore(t)
		for range tt.messages {
			addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)
		}
		store := &claimCounter{Store: s}
		log, _ := testLogger()
		ct := &countingTransport{}
		w := newWorker(cfg, store, newTestComposer(t, cfg), ct, log)
		if err := w.drain(t.Context()); err != nil {
			t.Fatal(err)
		}
		if ct.sent != tt.messages || store.claims != tt.wantClaims {
			t.Errorf("%d messages: sent %d with %d claims, want all with %d", tt.messages, ct.sent, store.claims, tt.wantClaims)
		}
		if !slices.Equal(store.records, tt.wantRecords) {
			t.Errorf("%d messages: outcomes recorded in calls of %v, want %v", tt.messages, store.records, tt.wantRecords)
		}
	}
}

// steppingClock is a worker clock that moves on by step each time the
// worker reads it, as if every step of its work took that long.
type steppingClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *steppingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// peek reads the clock without moving it.
func (c *steppingClock) peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// TestLeaseRunsFromTheClaim: in a drain longer than a lease, a later batch
// is leased for a whole lease from when it is claimed. Leased from the
// drain's start, it would be expired as it was claimed, free for another
// worker (a second instance, during a deploy) to take and send again.
func TestLeaseRunsFromTheClaim(t *testing.T) {
	cfg := testConfig(t, nil, "LEADBOX_SMTP_CONNECTIONS", "1")
	s, _ := openStore(t)
	for range batchSize + 3 {
		addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)
	}
	log, _ := testLogger()
	ct := &countingTransport{}
	w := newWorker(cfg, nil, newTestComposer(t, cfg), ct, log)
	clock := &steppingClock{t: time.Now().UTC(), step: w.lease / 10}
	store := &claimCounter{Store: s, clock: clock}
	w.store, w.now = store, clock.now
	if err := w.drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ct.sent != batchSize+3 || len(store.leases) != 2 {
		t.Fatalf("sent %d in %d claims, want %d in 2", ct.sent, len(store.leases), batchSize+3)
	}
	for i, lease := range store.leases {
		if lease < w.lease-w.lease/10 {
			t.Errorf("claim %d leased for %v from the moment of the claim, want about %v", i+1, lease, w.lease)
		}
	}
}

// TestFileTransportFolderGone: when the mail folder cannot be written (it
// was removed), the log names the file step and its error, not an SMTP
// connection with code 0, and the message waits for a retry.
func TestFileTransportFolderGone(t *testing.T) {
	cfg := testConfig(t, nil)
	cfg.MailDir = filepath.Join(t.TempDir(), "mail")
	s, _ := openStore(t)
	rows := addLead(t, s, testLead("Jane Doe"), false, models.KindSalesNotification)
	w, logs := newTestWorker(t, cfg, s)
	if err := os.RemoveAll(cfg.MailDir); err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)
	waitFor(t, "the failure is logged", func() bool { return strings.Contains(logs.String(), ".eml file not written") })
	out := logs.String()
	if !strings.Contains(out, "step=create") || !strings.Contains(out, "no such file or directory") {
		t.Errorf("log does not name the step and the cause:\n%s", out)
	}
	if strings.Contains(out, "smtp_code") || strings.Contains(out, "step=connection") {
		t.Errorf("a folder problem was logged as an SMTP one:\n%s", out)
	}
	waitFor(t, "the row waits for a retry with the error", func() bool {
		row := outboxRow(t, s, rows[0].ID)
		return row.Status == models.StatusPending && strings.Contains(row.LastError, ".eml file (create)")
	})
}
