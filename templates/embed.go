// Package templates embeds Leadbox's page and email templates, so the one
// binary carries everything it shows and sends. Callers parse them once at
// start-up.
package templates

import "embed"

// FS holds pages/ (HTML pages of the web UI), email/ (the HTML and
// plain-text parts of every email) and assets/ (the pages' stylesheet).
//
//go:embed pages email assets
var FS embed.FS
