package handlers

import "github.com/leadbox/leadbox/models"

// APIRights shows the external tests the API's rights table, keyed "METHOD
// pattern" as gin's Routes() lists routes.
func APIRights() map[string]models.Right {
	out := map[string]models.Right{}
	for r, right := range apiRights() {
		out[r.String()] = right
	}
	return out
}
