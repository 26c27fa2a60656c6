package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/leadbox/leadbox/models"
)

// fakeSiteverify speaks the siteverify protocol of Turnstile and hCaptcha:
// a form post of secret, response and remoteip, answered with JSON.
func fakeSiteverify(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "want a form post", http.StatusBadRequest)
			return
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// fakeRecorder is a leadRecorder that answers as told and counts writes.
type fakeRecorder struct {
	created models.Created
	err     error
	earlier models.Lead // what a duplicate repeats
	writes  int
}

func (f *fakeRecorder) CreateLeadOnce(_ context.Context, lead *models.Lead, _ *models.ConsentEvent, _ []models.OutboxMessage, _ models.Guards) (models.Created, error) {
	f.writes++
	if f.created.Duplicate {
		*lead = f.earlier
	}
	return f.created, f.err
}

func (f *fakeRecorder) EarlierSubmission(context.Context, string, string, string, time.Time) (models.Lead, error) {
	return models.Lead{}, models.ErrNotFound
}
