package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"trel/internal/store/sqlstore"
)

// TestSchemasMatch migrates both engines and compares what they declare:
// the same tables with the same columns, in the same order, of the same
// type family and NULL-ability, and the same identity columns. A SQLite
// migration without its PostgreSQL twin (or a twin that differs) fails here.
func TestSchemasMatch(t *testing.T) {
	ctx := context.Background()
	lite, err := openSQLite(t).Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := openPostgres(t).Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) < 30 {
		t.Fatalf("only %d tables read from SQLite: the schema reader is broken", len(lite))
	}
	describe := func(ts []sqlstore.Table) map[string]string {
		out := map[string]string{}
		for _, tb := range ts {
			var cols []string
			for _, c := range tb.Columns {
				if strings.HasPrefix(c.Type, "unknown") {
					t.Errorf("%s.%s has a type outside the shared families: %s", tb.Name, c.Name, c.Type)
				}
				cols = append(cols, fmt.Sprintf("%s %s notnull=%v", c.Name, c.Type, c.NotNull))
			}
			out[tb.Name] = strings.Join(cols, ", ") + " identity=" + tb.Identity
		}
		return out
	}
	l, p := describe(lite), describe(pg)
	for name, cols := range l {
		switch pcols, ok := p[name]; {
		case !ok:
			t.Errorf("table %s exists in SQLite but not in PostgreSQL: write the PostgreSQL twin of its migration", name)
		case pcols != cols:
			t.Errorf("table %s differs:\n  sqlite:   %s\n  postgres: %s", name, cols, pcols)
		}
	}
	for name := range p {
		if _, ok := l[name]; !ok {
			t.Errorf("table %s exists in PostgreSQL but not in SQLite", name)
		}
	}
}
