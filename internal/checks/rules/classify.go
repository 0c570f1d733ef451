package rules

import (
	"crypto/sha256"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

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
	classifierOnce sync.Once
	classifierInst *classifier.Classifier
	classifierErr  error
	classifyMu     sync.Mutex
	classifyCache  = map[[32]byte][]LicenseMatch{}
)

// maxClassifyCache bounds the results kept by content hash: most releases
// carry the same few licence texts many times.
const maxClassifyCache = 4096

// MaxClassified is the most of a text the classifier looks at.
const MaxClassified = 256 << 10

// Classify identifies the licences in a text with
// github.com/google/licenseclassifier/v2 (threshold 0.8), loaded once per
// process (about 0.5 s, 32 MiB). Results are cached by content.
func Classify(text []byte) ([]LicenseMatch, error) {
	if len(text) > MaxClassified {
		text = text[:MaxClassified]
	}
	return classify(text, sha256.Sum256(text))
}

// ClassifyHeader identifies the licence of a file's leading comment block
// (HeaderComment). Results are cached by the block's normalized words
// without digits, so that thousands of files whose headers differ only by
// their years cost one classification.
func ClassifyHeader(block []byte) ([]LicenseMatch, error) {
	norm := normalizeInto(append(make([]byte, 0, len(block)+8), "header\x00"...), block)
	kept := norm[:0]
	for _, c := range norm {
		if c < '0' || c > '9' {
			kept = append(kept, c)
		}
	}
	return classify(block, sha256.Sum256(kept))
}

func classify(text []byte, key [32]byte) ([]LicenseMatch, error) {
	classifyMu.Lock()
	if r, ok := classifyCache[key]; ok {
		classifyMu.Unlock()
		return r, nil
	}
	classifyMu.Unlock()
	classifierOnce.Do(func() {
		// Loading makes about twice its final 35 MiB in garbage: collect
		// often meanwhile, so that the peak stays near the final size.
		defer debug.SetGCPercent(debug.SetGCPercent(10))
		c := classifier.NewClassifier(0.8)
		for _, p := range classifierAssets {
			data, err := assets.ReadLicenseFile(p)
			if err != nil {
				classifierErr = err
				return
			}
			parts := strings.SplitN(p, "/", 3)
			c.AddContent(parts[0], parts[1], parts[2], data)
		}
		classifierInst = c
	})
	if classifierErr != nil {
		return nil, classifierErr
	}
	res := classifierInst.Match(text)
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
	classifyMu.Lock()
	if len(classifyCache) >= maxClassifyCache {
		clear(classifyCache)
	}
	classifyCache[key] = out
	classifyMu.Unlock()
	return out, nil
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
