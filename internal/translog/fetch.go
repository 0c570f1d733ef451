package translog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// maxFileSize bounds every file a Fetcher reads. The largest file of a
// trel log is a full entry bundle: 256 entries of about 420 bytes.
const maxFileSize = 4 << 20

// Fetcher reads one static file of a log, named by its path relative to the
// log root ("checkpoint", "tile/0/000", "tile/entries/x001/234.p/5"...).
// A missing file must yield an error wrapping os.ErrNotExist.
type Fetcher func(ctx context.Context, path string) ([]byte, error)

// DirFetcher reads the log files from a local directory. Reads stay inside
// dir (os.OpenInRoot refuses "..", absolute paths and escaping symlinks).
func DirFetcher(dir string) Fetcher {
	return func(ctx context.Context, path string) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := os.OpenInRoot(dir, path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		defer f.Close()
		return readLimited(f, path)
	}
}

// HTTPFetcher reads the log files from a server, base being the URL of the
// log root (e.g. "https://trel.example/log/"). c may be nil for
// http.DefaultClient. A 404 is reported as os.ErrNotExist.
func HTTPFetcher(base string, c *http.Client) (Fetcher, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("log URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("log URL %q: scheme must be http or https", base)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if c == nil {
		c = http.DefaultClient
	}
	return func(ctx context.Context, path string) ([]byte, error) {
		ref, err := url.Parse(path)
		if err != nil || ref.IsAbs() || strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("fetch %q: not a relative log path", path)
		}
		target := u.ResolveReference(ref).String()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", target, err)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", target, err)
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusNotFound:
			return nil, fmt.Errorf("fetch %s: %w", target, os.ErrNotExist)
		default:
			return nil, fmt.Errorf("fetch %s: %s", target, resp.Status)
		}
		return readLimited(resp.Body, target)
	}, nil
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes", name, maxFileSize)
	}
	return b, nil
}

// fetchPartialOrFull fetches a tile or entry bundle that is partial (width
// p) in the tree size of interest. Once a partial resource is completed the
// log may delete it, and the full one has the same content as a prefix, so
// a missing partial resource falls back to the full one.
func fetchPartialOrFull(ctx context.Context, f Fetcher, pathFor func(p uint8) string, p uint8) ([]byte, error) {
	b, err := f(ctx, pathFor(p))
	if err == nil || p == 0 || !errors.Is(err, os.ErrNotExist) {
		return b, err
	}
	return f(ctx, pathFor(0))
}
