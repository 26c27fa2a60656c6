// Command bare is the benchmark's upper bound: a Gin handler that parses and
// validates the same JSON lead as Leadbox's POST /contact (roughly the same
// rules) and answers 201 with a random id, storing nothing. Whatever Leadbox
// does beyond this (the database, the consent record, the outbox, its
// middleware) is what the benchmark's ratios measure.
//
// It listens on 127.0.0.1:0 and prints "listening on ADDR" on stdout.
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/leadbox/leadbox/bench/baseline/loopback"
)

// lead is the JSON body, with Leadbox's limits on the required fields.
type lead struct {
	Name             string `json:"name" binding:"required,max=200"`
	Email            string `json:"email" binding:"required,max=254,email"`
	Phone            string `json:"phone" binding:"max=40"`
	Company          string `json:"company" binding:"max=200"`
	Message          string `json:"message" binding:"required,max=5000"`
	MarketingConsent bool   `json:"marketing_consent"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run() error {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/contact", func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10)
		var l lead
		if err := c.ShouldBindJSON(&l); err != nil {
			c.JSON(http.StatusUnprocessableEntity, gin.H{"error": "validation"})
			return
		}
		c.JSON(http.StatusCreated, gin.H{"id": loopback.NewID()})
	})
	return loopback.Serve(r)
}
