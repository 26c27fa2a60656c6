package sqlite

import (
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"github.com/leadbox/leadbox/models"
	"github.com/leadbox/leadbox/models/storetest"
)

// engine opens SQLite files in temp dirs for the conformance suite.
func engine() storetest.Engine {
	return storetest.Engine{
		Open: func(t *testing.T) models.Store { return newStore(t) },
		Reopen: func(t *testing.T, s models.Store) models.Store {
			st := s.(*Store)
			return reopen(t, st, st.commits.path)
		},
		DB: func(s models.Store) *gorm.DB { return s.(*Store).w },
		DropAppendOnly: func(t *testing.T, s models.Store, table string) {
			t.Helper()
			for _, trigger := range []string{table + "_no_update", table + "_no_delete"} {
				if err := s.(*Store).w.Exec("DROP TRIGGER " + trigger).Error; err != nil {
					t.Fatalf("drop trigger %s: %v", trigger, err)
				}
			}
		},
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, engine()) }

// TestConformanceWhileIndexesLoad runs the suite on stores whose
// in-memory indexes never finish loading: every guard is answered by the
// database, as in the first seconds after a start.
func TestConformanceWhileIndexesLoad(t *testing.T) {
	e := engine()
	e.Open = func(t *testing.T) models.Store {
		return openCold(t, filepath.Join(t.TempDir(), "leads.db"), nil)
	}
	e.Reopen = func(t *testing.T, s models.Store) models.Store {
		st := s.(*Store)
		if err := st.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return openCold(t, st.commits.path, nil)
	}
	storetest.Run(t, e)
}
