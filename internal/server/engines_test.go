package server

import "testing"

// TestAdminFlagsNameTheEnginesWithoutSecrets: the hint `trel serve`
// prints for the first token names the same engines, never a password.
func TestAdminFlagsNameTheEnginesWithoutSecrets(t *testing.T) {
	for _, c := range []struct {
		eng  Engines
		want string
	}{
		{Engines{DataDir: "/srv/trel"}, "--data /srv/trel"},
		{Engines{DataDir: "/srv/trel", Blobs: "s3://b?endpoint=http://h:1"}, "--data /srv/trel --blobs 's3://b?endpoint=http://h:1'"},
		{Engines{DataDir: "/r", Database: "postgres://trel:s3cret@db:5432/trel?sslmode=disable", Blobs: "s3://b?endpoint=http://h:1&region=r"},
			"--database 'postgres://trel:xxxxx@db:5432/trel?sslmode=disable' --blobs 's3://b?endpoint=http://h:1&region=r'"},
	} {
		if got := c.eng.adminFlags(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.eng, got, c.want)
		}
	}
}
