// Command naive is the benchmark's "obvious" implementation: Gin and GORM,
// one INSERT of one row per request into SQLite, answered with 201 once the
// row is committed. It validates like the bare baseline, stores no consent
// record and queues no email.
//
// SQLite is set up the way most guides say: WAL, so readers do not block
// the writer, and synchronous=NORMAL, which in WAL mode skips the fsync at
// each commit (a power loss can roll back the last commits; Leadbox uses
// FULL). One open connection, because SQLite has one writer at a time and
// more connections only trade waiting in the pool for "database is locked".
//
// Usage: naive DBFILE. It listens on 127.0.0.1:0 and prints
// "listening on ADDR" on stdout.
package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/leadbox/leadbox/bench/baseline/loopback"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Lead is the one table.
type Lead struct {
	ID               int64  `gorm:"primaryKey" json:"-"`
	PublicID         string `gorm:"size:32;not null;uniqueIndex" json:"id"`
	Name             string `gorm:"not null" json:"name" binding:"required,max=200"`
	Email            string `gorm:"not null" json:"email" binding:"required,max=254,email"`
	Phone            string `gorm:"not null" json:"phone" binding:"max=40"`
	Company          string `gorm:"not null" json:"company" binding:"max=200"`
	Message          string `gorm:"not null" json:"message" binding:"required,max=5000"`
	MarketingConsent bool   `gorm:"not null" json:"marketing_consent"`
	CreatedAt        time.Time
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: naive DBFILE")
	}
	db, err := gorm.Open(sqlite.Open(args[0]+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=5000"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(1)
	if err := db.AutoMigrate(&Lead{}); err != nil {
		return err
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/contact", func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10)
		var l Lead
		if err := c.ShouldBindJSON(&l); err != nil {
			c.JSON(http.StatusUnprocessableEntity, gin.H{"error": "validation"})
			return
		}
		l.PublicID = loopback.NewID()
		if err := db.WithContext(c.Request.Context()).Create(&l).Error; err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": "internal"})
			return
		}
		c.JSON(http.StatusCreated, gin.H{"id": l.PublicID})
	})
	return loopback.Serve(r)
}
