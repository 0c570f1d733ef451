package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Column is one column of a table, with its type reduced to the family
// both engines agree on: "int", "text", "bytes" or "bool".
type Column struct {
	Name    string
	Type    string
	NotNull bool
}

// Table is one of trel's tables (goose's and River's own tables are not
// trel's: they are never compared or copied).
type Table struct {
	Name    string
	Columns []Column // in declaration order
	// Identity is the column filled from a sequence (PostgreSQL) or the
	// rowid (SQLite), "" when there is none.
	Identity string
	// References lists the tables this one has foreign keys to (SQLite
	// only: the order in which a copy must fill them).
	References []string
}

// Schema lists trel's tables, sorted by name, as the database declares
// them.
func (d *DB) Schema(ctx context.Context) ([]Table, error) {
	var tables []Table
	var err error
	if d.pool != nil {
		tables, err = d.postgresSchema(ctx)
	} else {
		tables, err = d.sqliteSchema(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the database schema: %w", err)
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	return tables, nil
}

// ownTable reports whether a table is trel's (not goose's, River's or the
// engine's own).
func ownTable(name string) bool {
	return name != "goose_db_version" && !strings.HasPrefix(name, "river_") && !strings.HasPrefix(name, "sqlite_")
}

func typeFamily(declared string) string {
	switch t := strings.ToLower(declared); {
	case strings.Contains(t, "int"):
		return "int"
	case t == "text" || strings.HasPrefix(t, "character"):
		return "text"
	case t == "blob" || t == "bytea":
		return "bytes"
	case t == "boolean":
		return "bool"
	default:
		return "unknown:" + t
	}
}

func (d *DB) sqliteSchema(ctx context.Context) ([]Table, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		if ownTable(n) {
			names = append(names, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Table
	for _, n := range names {
		t := Table{Name: n}
		cols, err := d.db.QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info($1) ORDER BY cid`, n)
		if err != nil {
			return nil, err
		}
		pkCols := 0
		var pkName, pkType string
		for cols.Next() {
			var c Column
			var declared string
			var notNull, pk int
			if err := cols.Scan(&c.Name, &declared, &notNull, &pk); err != nil {
				cols.Close()
				return nil, err
			}
			c.Type = typeFamily(declared)
			// A primary key column is never NULL in trel's schema (SQLite
			// would allow it for a non-integer key, PostgreSQL never).
			c.NotNull = notNull == 1 || pk > 0
			if pk > 0 {
				pkCols++
				pkName, pkType = c.Name, strings.ToUpper(declared)
			}
			t.Columns = append(t.Columns, c)
		}
		cols.Close()
		if err := cols.Err(); err != nil {
			return nil, err
		}
		refs, err := d.db.QueryContext(ctx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list($1)`, n)
		if err != nil {
			return nil, err
		}
		for refs.Next() {
			var r string
			if err := refs.Scan(&r); err != nil {
				refs.Close()
				return nil, err
			}
			if r != n {
				t.References = append(t.References, r)
			}
		}
		refs.Close()
		// "id INTEGER PRIMARY KEY" is the rowid: SQLite numbers it.
		if pkCols == 1 && pkType == "INTEGER" && pkName == "id" {
			t.Identity = pkName
		}
		out = append(out, t)
	}
	return out, nil
}

func (d *DB) postgresSchema(ctx context.Context) ([]Table, error) {
	rows, err := d.db.QueryContext(ctx, `
		SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'NO', c.is_identity = 'YES'
		FROM information_schema.columns c JOIN information_schema.tables t
			ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Table
	for rows.Next() {
		var table, declared string
		var identity bool
		var c Column
		if err := rows.Scan(&table, &c.Name, &declared, &c.NotNull, &identity); err != nil {
			return nil, err
		}
		if !ownTable(table) {
			continue
		}
		c.Type = typeFamily(declared)
		if len(out) == 0 || out[len(out)-1].Name != table {
			out = append(out, Table{Name: table})
		}
		t := &out[len(out)-1]
		t.Columns = append(t.Columns, c)
		if identity {
			t.Identity = c.Name
		}
	}
	return out, rows.Err()
}
