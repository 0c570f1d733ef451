package web

import (
	"context"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"trel/internal/domain"
	"trel/internal/translog"
)

// LogReader is the public log as the web reads it: its checkpoint, a
// client that proves entries from the log's files, and the key that
// verifies checkpoints (*translog.Log).
type LogReader interface {
	Checkpoint(ctx context.Context) (*translog.Checkpoint, error)
	Client() *translog.Client
	VerifierKey() string
}

// Option configures New.
type Option func(*Web)

// WithLog shows the public log at /transparency-log.
func WithLog(l LogReader) Option { return func(w *Web) { w.tlog = l } }

// logPageSize is how many recent entries the log page shows.
const logPageSize = 50

type logEntry struct {
	Index  uint64
	Entry  translog.Entry
	Proven bool
	Proof  string // the inclusion proof's outcome in words
}

type logView struct {
	Available   bool
	Size        uint64
	Root        string
	Origin      string
	VerifierKey string
	Key         string // the fingerprint searched for
	KeyError    string
	Entries     []logEntry
	From        uint64 // index of the oldest entry shown
	Older       string // link to older entries
	One         *logEntry
	Server      string
}

// transparencyLog shows the public log: its signed checkpoint, the newest
// entries (or those before ?before=N), or every entry of one key
// (?key=FPR), each with the outcome of its inclusion proof against the
// checkpoint.
func (w *Web) transparencyLog(rw http.ResponseWriter, r *http.Request) {
	d, cp, ok := w.logBase(rw, r)
	if !ok {
		return
	}
	ctx := r.Context()
	c := w.tlog.Client()
	q := r.URL.Query()
	if d.Key = strings.TrimSpace(q.Get("key")); d.Key != "" {
		found, err := c.FindByKey(ctx, cp, d.Key)
		if err != nil {
			d.KeyError = "Search by a full key fingerprint: 40 or 64 hexadecimal digits (spaces are allowed)."
		}
		for i := len(found) - 1; i >= 0; i-- {
			d.Entries = append(d.Entries, w.proven(ctx, cp, found[i]))
		}
		w.render(rw, r, http.StatusOK, "transparency_log", view{Title: "Public log", D: d})
		return
	}
	end := cp.Size
	if b, err := strconv.ParseUint(q.Get("before"), 10, 64); err == nil && b < end {
		end = b
	}
	from := uint64(0)
	if end > logPageSize {
		from = end - logPageSize
	}
	d.From = from
	var list []logEntry
	for ie, err := range c.Entries(ctx, cp, from, end) {
		if err != nil {
			w.log.ErrorContext(ctx, "reading the public log", "err", err)
			d.KeyError = "The log's entries could not be read and proven: " + err.Error()
			break
		}
		list = append(list, w.proven(ctx, cp, ie))
	}
	for i := len(list) - 1; i >= 0; i-- {
		d.Entries = append(d.Entries, list[i])
	}
	if from > 0 {
		d.Older = "/transparency-log?before=" + strconv.FormatUint(from, 10)
	}
	w.render(rw, r, http.StatusOK, "transparency_log", view{Title: "Public log", D: d})
}

// logEntryPage shows one entry of the log.
func (w *Web) logEntryPage(rw http.ResponseWriter, r *http.Request) {
	d, cp, ok := w.logBase(rw, r)
	if !ok {
		return
	}
	idx, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil || idx >= cp.Size {
		w.pageError(rw, r, domain.Errorf(domain.KindNotFound, "the public log has no entry %s: it holds %d entries, numbered from 0", r.PathValue("index"), cp.Size))
		return
	}
	e, err := w.tlog.Client().Entry(r.Context(), cp, idx)
	if err != nil {
		w.pageError(rw, r, domain.Internal("reading the public log", err))
		return
	}
	one := w.proven(r.Context(), cp, translog.IndexedEntry{Index: idx, Entry: e})
	d.One = &one
	w.render(rw, r, http.StatusOK, "transparency_log", view{Title: "Public log entry " + r.PathValue("index"), D: d})
}

// logBase reads the checkpoint every log page shows.
func (w *Web) logBase(rw http.ResponseWriter, r *http.Request) (logView, *translog.Checkpoint, bool) {
	d := logView{Server: w.auth.Origin()}
	if w.tlog == nil {
		w.render(rw, r, http.StatusOK, "transparency_log", view{Title: "Public log", D: d})
		return d, nil, false
	}
	cp, err := w.tlog.Checkpoint(r.Context())
	if err != nil {
		w.pageError(rw, r, domain.Internal("reading the public log's checkpoint", err))
		return d, nil, false
	}
	d.Available, d.Size, d.Root, d.Origin, d.VerifierKey = true, cp.Size, hex.EncodeToString(cp.Hash), cp.Origin, w.tlog.VerifierKey()
	return d, cp, true
}

// proven proves one entry's inclusion in the checkpoint's tree.
func (w *Web) proven(ctx context.Context, cp *translog.Checkpoint, ie translog.IndexedEntry) logEntry {
	le := logEntry{Index: ie.Index, Entry: ie.Entry}
	if err := w.tlog.Client().ProveInclusion(ctx, ie.Entry, ie.Index, cp); err != nil {
		le.Proof = "inclusion proof failed: " + err.Error()
		return le
	}
	le.Proven, le.Proof = true, "included in the tree of "+strconv.FormatUint(cp.Size, 10)+" entries"
	return le
}
