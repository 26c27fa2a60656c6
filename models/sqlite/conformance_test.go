package sqlite

import (
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
