package rules

import (
	"crypto/sha256"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
	"weak"

	classifier "github.com/google/licenseclassifier/v2"
	"github.com/google/licenseclassifier/v2/assets"
)

// LicenseMatch is one licence found in a text.
type LicenseMatch struct {
	SPDX       string  `json:"spdx"`
	Kind       string  `json:"kind"` // "License" (a full text) or "Header"
	Confidence float64 `json:"confidence"`
	StartLine  int     `json:"start_line"`
	EndLine    int     `json:"end_line"`
}

var (
	classifyMu    sync.Mutex
	classifyCache = map[[32]byte][]LicenseMatch{}
)

// maxClassifyCache bounds the results kept by content hash: most releases
// carry the same few licence texts many times.
const maxClassifyCache = 4096

// MaxClassified is the most of a text the classifier looks at.
const MaxClassified = 256 << 10

// A Text is a text to classify with the key its result is cached under.
type Text struct {
	key  [32]byte
	text []byte
}

// LicenseText is a licence file's text (its first MaxClassified bytes),
// cached by its SHA-256.
func LicenseText(text []byte) Text {
	if len(text) > MaxClassified {
		text = text[:MaxClassified]
	}
	return Text{key: sha256.Sum256(text), text: text}
}

// HeaderText is a file's leading comment block (HeaderComment), cached by
// its normalized words without digits, so that thousands of files whose
// headers differ only by their years cost one classification.
func HeaderText(block []byte) Text {
	norm := normalizeInto(append(make([]byte, 0, len(block)+8), "header\x00"...), block)
	kept := norm[:0]
	for _, c := range norm {
		if c < '0' || c > '9' {
			kept = append(kept, c)
		}
	}
	return Text{key: sha256.Sum256(kept), text: block}
}

// Key is what the result is cached under.
func (t Text) Key() [32]byte { return t.key }

// Clone returns the text with its own copy of the bytes, to keep it past
// the buffer it was read into.
func (t Text) Clone() Text { return Text{key: t.key, text: append([]byte(nil), t.text...)} }

// Len is the length of the text kept.
func (t Text) Len() int { return len(t.text) }

// Cached returns the result of a text classified before in this process,
// without loading the classifier.
func Cached(t Text) ([]LicenseMatch, bool) {
	classifyMu.Lock()
	defer classifyMu.Unlock()
	r, ok := classifyCache[t.key]
	return r, ok
}

// Classify identifies the licences in a licence file's text.
func Classify(text []byte) ([]LicenseMatch, error) {
	rs, err := ClassifyAll([]Text{LicenseText(text)})
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// ClassifyHeader identifies the licence of a file's leading comment block.
func ClassifyHeader(block []byte) ([]LicenseMatch, error) {
	rs, err := ClassifyAll([]Text{HeaderText(block)})
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// ClassifyAll identifies the licences in texts with
// github.com/google/licenseclassifier/v2 (threshold 0.8), loading it (about
// 0.5 s and 20 MiB) only when a text is not in the cache. The archive
// checks call it once per archive, after the walk, so that the classifier
// and the walk's name index are not in memory together.
func ClassifyAll(texts []Text) ([][]LicenseMatch, error) {
	out := make([][]LicenseMatch, len(texts))
	var c *classifier.Classifier
	for i, t := range texts {
		if r, ok := Cached(t); ok {
			out[i] = r
			continue
		}
		if c == nil {
			var err error
			if c, err = loadedClassifier(); err != nil {
				return nil, err
			}
		}
		out[i] = matches(c, t.text)
		classifyMu.Lock()
		if len(classifyCache) >= maxClassifyCache {
			clear(classifyCache)
		}
		classifyCache[t.key] = out[i]
		classifyMu.Unlock()
	}
	return out, nil
}

// The classifier is held strongly for classifierHold after its last use
// and weakly after that: a server that checks no archive gives its memory
// back, and concurrent users share one copy.
var (
	classifierMu     sync.Mutex
	classifierWeak   weak.Pointer[classifier.Classifier]
	classifierStrong *classifier.Classifier
	classifierTimer  *time.Timer
)

// classifierHold is a variable for the test that it is freed.
var classifierHold = 2 * time.Second

func loadedClassifier() (*classifier.Classifier, error) {
	classifierMu.Lock()
	defer classifierMu.Unlock()
	c := classifierWeak.Value()
	if c == nil {
		var err error
		if c, err = loadClassifier(); err != nil {
			return nil, err
		}
		classifierWeak = weak.Make(c)
	}
	classifierStrong = c
	if classifierTimer == nil {
		classifierTimer = time.AfterFunc(classifierHold, func() {
			classifierMu.Lock()
			classifierStrong = nil
			classifierMu.Unlock()
		})
	} else {
		classifierTimer.Reset(classifierHold)
	}
	return c, nil
}

func loadClassifier() (*classifier.Classifier, error) {
	// Loading makes about twice its final size in garbage: collect often
	// meanwhile, so that the peak stays near the final size.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	c := classifier.NewClassifier(0.8)
	for _, p := range classifierAssets {
		data, err := assets.ReadLicenseFile(p)
		if err != nil {
			return nil, fmt.Errorf("loading the licence classifier's text %s: %w", p, err)
		}
		parts := strings.SplitN(p, "/", 3)
		c.AddContent(parts[0], parts[1], parts[2], data)
	}
	return c, nil
}

func matches(c *classifier.Classifier, text []byte) []LicenseMatch {
	res := c.Match(text)
	seen := map[string]int{}
	var out []LicenseMatch
	for _, m := range res.Matches {
		if m.MatchType != "License" && m.MatchType != "Header" {
			continue // copyright lines are not licences
		}
		lm := LicenseMatch{SPDX: m.Name, Kind: m.MatchType, Confidence: m.Confidence, StartLine: m.StartLine, EndLine: m.EndLine}
		if i, ok := seen[m.Name]; ok {
			if out[i].Kind != "License" && lm.Kind == "License" {
				out[i] = lm
			}
			continue
		}
		seen[m.Name] = len(out)
		out = append(out, lm)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartLine < out[j].StartLine })
	return out
}

// CanonicalText returns the licence text the classifier knows for an SPDX
// id, for the short diff of a LICENSE file ("" when unknown).
func CanonicalText(spdx string) string {
	for _, variant := range []string{"license.txt", "pristine.txt", "a.txt"} {
		if data, err := assets.ReadLicenseFile("License/" + spdx + "/" + variant); err == nil {
			return string(data)
		}
	}
	return ""
}
