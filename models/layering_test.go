package models

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEnginesStayBehindTheContract: the domain, the HTTP layer, the mail
// sender and the sign-in rules (access) reach storage only through
// interfaces, so none of them may depend, even indirectly, on a storage
// engine or a database driver. Only cmd/leadbox chooses and imports an
// engine.
func TestEnginesStayBehindTheContract(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("this test asks the go command for the import graph: %v", err)
	}
	for _, pkg := range []string{"models", "handlers", "mailer", "config", "templates", "access"} {
		out, err := exec.Command("go", "list", "-deps", "github.com/leadbox/leadbox/"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for dep := range strings.FieldsSeq(string(out)) {
			for _, banned := range []string{"gorm.io/driver/", "github.com/mattn/go-sqlite3", "github.com/jackc/pgx", "github.com/leadbox/leadbox/models/"} {
				if strings.HasPrefix(dep, banned) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
			if pkg == "models" && strings.HasPrefix(dep, "gorm.io/") {
				t.Errorf("the domain package depends on %s; it may only carry GORM's struct tags", dep)
			}
		}
	}
}
