package checks

import (
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"trel/internal/archive"
	"trel/internal/checks/rules"
	"trel/internal/domain"
)

// Archives runs the archive and licence checks of every archive artifact
// (.tar.gz, .zip, .jar, ...) in ONE streaming pass over its bytes, shared by
// five tasks that are planned, cached and reused separately:
//
//   - archive: integrity (every member readable to the end), limits, unsafe
//     members, and the structure (one top-level directory named after the
//     artifact);
//   - license: LICENSE (classified as the project licence), NOTICE (its
//     convention), DISCLAIMER for incubating committees;
//   - headers: a licence header in every source file, by extension;
//   - third-party: licences of LICENSE*/COPYING* files in subdirectories
//     and of file headers, against the policy's allowed list;
//   - source: the archive against the tagged tree in the project's
//     repository (source artifacts, when the policy names a repository).
//
// When some tasks' inputs are unchanged their results are reused; the pass
// runs once for the others.
type Archives struct {
	// Source resolves and fetches tags; nil disables the source check.
	Source *GitSource
}

// Name implements Checker.
func (Archives) Name() string { return "archive" }

// archivesVersion is the version of the five tasks: 2 added link chains,
// zip name disagreements, sparse sizes, bidi in member names, the wider
// name folding and altered licence terms, so that no result of version 1
// is reused.
const archivesVersion = 2

// maxListed bounds the paths named in a message; details hold up to
// maxDetailPaths.
const (
	maxListed      = 20
	maxDetailPaths = 10000
)

// Plan implements Checker.
func (a Archives) Plan(ctx context.Context, in *Input) ([]Task, error) {
	pol := domain.DefaultPolicy()
	if in.Policy != nil {
		pol = *in.Policy
	}
	ap := pol.Archive
	var tasks []Task
	files := append([]domain.File(nil), in.Revision.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, f := range files {
		format, stem, ok := archive.FormatOf(f.Path)
		if !ok || !rules.IsArtifact(f.Path) {
			continue
		}
		kind := artifactKind(&pol, f.Path)
		cfg := scanConfig{
			format: format, stem: stem, binary: kind == "binary", license: ap.License,
			limits: archive.Limits{MaxUnpacked: ap.MaxUnpackedSize, MaxMembers: ap.MaxMembers, MaxRatio: float64(ap.MaxRatio)}.Effective(),
		}
		base := []string{f.SHA256, string(format), stem, kind, fmt.Sprintf("limits=%+v", cfg.limits)}
		var sourceInputs []string
		var src *sourcePlan
		if kind == "source" && ap.SourceRepo != "" && a.Source != nil {
			src = a.Source.plan(ctx, ap, in.Release.Version)
			if src.err == nil && !src.missing {
				cfg.source = &sourceScan{git: a.Source, plan: src, allow: ap.SourceAllow}
			}
			sourceInputs = append(append(append([]string{}, base...), ap.SourceRepo, src.tag, "commit="+src.commit, "err="+src.errText()), ap.SourceAllow...)
		}
		// The pass reads the whole archive: allow 1 s per 4 MiB (a slow,
		// busy machine) on top of the usual bound.
		timeout := TaskTimeout + time.Duration(f.Size/(4<<20))*time.Second
		scan := &sharedScan{run: func(ctx context.Context) *scanResult { return scanArchive(ctx, in, f, cfg) }}
		add := func(checker string, inputs []string, judge func(*scanResult) []Outcome) {
			tasks = append(tasks, Task{Checker: checker, Version: archivesVersion, Path: f.Path, Inputs: inputs, Timeout: timeout,
				Run: func(ctx context.Context) []Outcome { return judge(scan.get(ctx)) }})
		}
		addCtx := func(checker string, inputs []string, judge func(context.Context, *scanResult) []Outcome) {
			tasks = append(tasks, Task{Checker: checker, Version: archivesVersion, Path: f.Path, Inputs: inputs, Timeout: timeout,
				Run: func(ctx context.Context) []Outcome { return judge(ctx, scan.get(ctx)) }})
		}
		add("archive", base, func(r *scanResult) []Outcome { return judgeArchive(r, cfg) })
		add("license", append(append([]string{}, base...), ap.License, fmt.Sprint("incubating=", in.Incubating), fmt.Sprint("year=", in.Now.Year())),
			func(r *scanResult) []Outcome { return judgeLicenseFiles(r, cfg, in.Incubating, in.Now.Year()) })
		if !cfg.binary {
			add("headers", append(append([]string{}, base...), append([]string{ap.License}, ap.HeaderIgnore...)...),
				func(r *scanResult) []Outcome { return judgeHeaders(r, cfg, ap.HeaderIgnore) })
		}
		add("third-party", append(append([]string{}, base...), append([]string{ap.License}, ap.AllowedLicenses...)...),
			func(r *scanResult) []Outcome { return judgeThirdParty(r, cfg, ap.AllowedLicenses) })
		if src != nil {
			addCtx("source", sourceInputs, func(ctx context.Context, r *scanResult) []Outcome { return a.Source.judge(ctx, r, src, ap) })
		}
	}
	return tasks, nil
}

// artifactKind is "source", "binary" or "artifact" by the policy's
// patterns (source wins).
func artifactKind(pol *domain.Policy, p string) string {
	base := path.Base(p)
	for _, pat := range pol.SourcePatterns {
		if ok, _ := path.Match(pat, base); ok {
			return "source"
		}
	}
	for _, pat := range pol.BinaryPatterns {
		if ok, _ := path.Match(pat, base); ok {
			return "binary"
		}
	}
	return "artifact"
}

// sharedScan runs the pass once for all the tasks of one archive.
type sharedScan struct {
	once sync.Once
	run  func(ctx context.Context) *scanResult
	res  *scanResult
}

func (s *sharedScan) get(ctx context.Context) *scanResult {
	s.once.Do(func() { s.res = s.run(ctx) })
	return s.res
}

type scanConfig struct {
	format  archive.Format
	stem    string
	binary  bool
	license string
	limits  archive.Limits
	source  *sourceScan // compare the members' git blob ids with the tag's, or nil
}

// licenseFile is a licence text found in the archive, classified.
type licenseFile struct {
	name    string
	seq     int // the member's position among the archive's files
	matches []rules.LicenseMatch
	err     error
	text    int // index in scanResult.texts while waiting for the classifier, else -1
}

// namedFile is a member named in a result, with its position.
type namedFile struct {
	seq  int
	name string
}

// pendingHeader is a file whose header waits for the classifier.
type pendingHeader struct {
	namedFile
	text int
}

// scanResult is everything the pass learned about one archive.
type scanResult struct {
	openErr  error          // the blob could not be opened (an exception)
	err      *archive.Error // the walk stopped
	problems []archive.Problem
	nprob    int
	stats    archive.Stats

	tops        map[string]bool // top-level names (dirs and files)
	topIsDir    map[string]bool
	appleDouble int

	// Candidates for the root files, by full member name.
	rootFiles map[string][]byte
	ignore    map[string][]byte // .trel-license-ignore files by full name
	licenses  []licenseFile     // every LICENSE*/COPYING* file, classified
	// Headers.
	headerChecked, headerGenerated int
	noHeader                       []namedFile // capped
	noHeaderCount                  int
	headerLicenses                 []licenseFile // files whose header names another licence, capped
	headerLicensed                 int
	// Texts waiting for the classifier, which runs after the walk:
	// deduplicated, within pendingBudget.
	texts          []rules.Text
	textIndex      map[[32]byte]int
	textBytes      int
	pendingHeaders []pendingHeader // capped
	pendingCount   []int           // by text: the files whose header it is
	// The source comparison, made during the walk.
	src *sourceCompare
}

const (
	maxLicenseText = rules.MaxClassified
	maxKeptNames   = maxDetailPaths
)

// pendingBudget bounds the bytes of texts kept for the classifier until the
// end of the walk; beyond it they are classified at once (a variable for
// the test of that path).
var pendingBudget = 8 << 20

// scanArchive is the one pass over an archive: the walk reads every member
// once, then the licence texts and headers it found are classified. The
// classifier (about 20 MiB) is loaded only then, when the walk's name index
// (about 20 bytes a member) is gone, so that the two never add up.
func scanArchive(ctx context.Context, in *Input, f domain.File, cfg scanConfig) *scanResult {
	res := &scanResult{tops: map[string]bool{}, topIsDir: map[string]bool{}, rootFiles: map[string][]byte{}, ignore: map[string][]byte{},
		textIndex: map[[32]byte]int{}}
	res.walk(ctx, in, f, cfg)
	res.classifyPending()
	return res
}

func (res *scanResult) walk(ctx context.Context, in *Input, f domain.File, cfg scanConfig) {
	ra, closer, err := in.OpenAt(ctx, f)
	if err != nil {
		res.openErr = err
		return
	}
	defer closer.Close()
	ar, err := archive.Open(ra, f.Size, cfg.format, cfg.limits)
	if err != nil {
		res.err = asArchiveError(err)
		return
	}
	defer ar.Close()
	if cfg.source != nil {
		res.src = cfg.source.start(ctx)
		defer res.src.cleanup()
	}
	hash := res.src != nil && res.src.err == nil
	bufp := scanBuffers.Get().(*[]byte)
	defer scanBuffers.Put(bufp)
	buf := *bufp
	var copyBuf []byte // for the rest of the members the source comparison hashes
	if hash {
		copyBuf = make([]byte, 64<<10)
	}
	seq := -1
	for {
		if err := ctx.Err(); err != nil {
			res.openErr = err
			break
		}
		m, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.err = asArchiveError(err)
			break
		}
		name := archive.CleanName(m.Name)
		if name == "" {
			continue
		}
		if rules.IsAppleDouble(name) {
			res.appleDouble++
			continue
		}
		top, deeper := rules.TopDir(name)
		res.tops[top] = true
		if deeper || m.Kind == archive.KindDir {
			res.topIsDir[top] = true
		}
		if hash && m.Kind == archive.KindSymlink {
			res.src.member(name, gitBlobID([]byte(m.LinkTarget)))
		}
		if m.Kind != archive.KindFile {
			continue
		}
		seq++
		base := path.Base(name)
		depth := strings.Count(name, "/")
		want := 0
		isLicense := rules.IsLicenseFileName(base)
		isRoot := depth <= 1 && rules.RootFileKind(base) != ""
		isIgnore := depth <= 1 && base == ".trel-license-ignore"
		needsHeader := !cfg.binary && rules.NeedsHeader(name)
		switch {
		case isLicense || isRoot || isIgnore:
			want = maxLicenseText
		case needsHeader:
			want = rules.HeaderPrefix
		case !hash:
			continue // Next reads it to its end
		}
		var h = (*blobHasher)(nil)
		if hash {
			h = newBlobHasher(m.Size)
		}
		n, rerr := io.ReadFull(ar, buf[:want])
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			res.err = asArchiveError(rerr)
			break
		}
		prefix := buf[:n]
		if h != nil {
			h.Write(prefix)
			if _, err := io.CopyBuffer(h, ar, copyBuf); err != nil {
				res.err = asArchiveError(err)
				break
			}
			res.src.member(name, h.Sum())
		}
		if isRoot {
			res.rootFiles[name] = append([]byte(nil), prefix...)
		}
		if isIgnore {
			res.ignore[name] = append([]byte(nil), prefix...)
		}
		if isLicense && len(res.licenses) < maxKeptNames {
			lf := licenseFile{name: name, seq: seq, text: -1}
			lf.text, lf.matches, lf.err = res.classifyLater(rules.LicenseText(prefix))
			res.licenses = append(res.licenses, lf)
		}
		if needsHeader && !isLicense {
			res.headerChecked++
			hd := rules.ReadHeader(prefix[:min(len(prefix), rules.HeaderPrefix)])
			switch {
			case hd.License != "" && rules.LicenseMatches(hd.License, cfg.license):
			case hd.Generated:
				res.headerGenerated++
			case hd.License != "" && !strings.EqualFold(hd.License, "GPL") && !strings.EqualFold(hd.License, "LGPL"):
				res.headerFound(namedFile{seq, name}, []rules.LicenseMatch{{SPDX: hd.License, Kind: "Header", Confidence: 1}}, nil)
			case hd.License != "" || hd.Other:
				block := rules.HeaderComment(prefix)
				if len(block) == 0 {
					res.headerFound(namedFile{seq, name}, nil, nil)
					break
				}
				i, ms, err := res.classifyLater(rules.HeaderText(block))
				if i < 0 {
					res.headerFound(namedFile{seq, name}, ms, err)
					break
				}
				res.pendingCount[i]++
				if len(res.pendingHeaders) < maxKeptNames {
					res.pendingHeaders = append(res.pendingHeaders, pendingHeader{namedFile{seq, name}, i})
				}
			default:
				res.headerFound(namedFile{seq, name}, nil, nil)
			}
		}
	}
	res.problems, res.nprob = ar.Problems()
	res.stats = ar.Stats()
	if hash && res.err == nil && res.openErr == nil {
		res.src.finish(ctx)
	}
}

// classifyLater returns the result of a text classified before, or keeps
// the text for classifyPending and returns its index, or (beyond
// pendingBudget) classifies it at once.
func (res *scanResult) classifyLater(t rules.Text) (pending int, ms []rules.LicenseMatch, err error) {
	if ms, ok := rules.Cached(t); ok {
		return -1, ms, nil
	}
	if i, ok := res.textIndex[t.Key()]; ok {
		return i, nil, nil
	}
	if res.textBytes+t.Len() > pendingBudget {
		rs, err := rules.ClassifyAll([]rules.Text{t})
		if err != nil {
			return -1, nil, err
		}
		return -1, rs[0], nil
	}
	res.textBytes += t.Len()
	res.textIndex[t.Key()] = len(res.texts)
	res.texts = append(res.texts, t.Clone())
	res.pendingCount = append(res.pendingCount, 0)
	return len(res.texts) - 1, nil, nil
}

// headerFound records a source file's header: without a licence the
// classifier knows (no matches and no error), or with one.
func (res *scanResult) headerFound(f namedFile, ms []rules.LicenseMatch, err error) {
	if len(ms) == 0 && err == nil {
		res.noHeaderCount++
		if len(res.noHeader) < maxKeptNames {
			res.noHeader = append(res.noHeader, f)
		}
		return
	}
	res.headerLicensed++
	if len(res.headerLicenses) < maxKeptNames {
		res.headerLicenses = append(res.headerLicenses, licenseFile{name: f.name, seq: f.seq, matches: ms, err: err, text: -1})
	}
}

// classifyPending classifies the texts the walk kept, with one load of the
// classifier, and files their results in archive order.
func (res *scanResult) classifyPending() {
	if len(res.texts) == 0 {
		return
	}
	rs, err := rules.ClassifyAll(res.texts)
	result := func(i int) ([]rules.LicenseMatch, error) {
		if err != nil {
			return nil, err
		}
		return rs[i], nil
	}
	for i := range res.licenses {
		if lf := &res.licenses[i]; lf.text >= 0 {
			lf.matches, lf.err = result(lf.text)
			lf.text = -1
		}
	}
	// The counts hold every file; the names only those kept.
	counted := make([]int, len(res.texts))
	for _, p := range res.pendingHeaders {
		ms, err := result(p.text)
		res.headerFound(p.namedFile, ms, err)
		counted[p.text]++
	}
	for i, n := range res.pendingCount {
		if ms, err := result(i); len(ms) == 0 && err == nil {
			res.noHeaderCount += n - counted[i]
		} else {
			res.headerLicensed += n - counted[i]
		}
	}
	sort.SliceStable(res.noHeader, func(i, j int) bool { return res.noHeader[i].seq < res.noHeader[j].seq })
	sort.SliceStable(res.headerLicenses, func(i, j int) bool { return res.headerLicenses[i].seq < res.headerLicenses[j].seq })
	res.texts, res.textIndex, res.pendingHeaders, res.pendingCount = nil, nil, nil, nil
}

// scanBuffers hold the start of members (licence texts, headers): one
// buffer per pass in progress, not per archive.
var scanBuffers = sync.Pool{New: func() any { b := make([]byte, maxLicenseText); return &b }}

func asArchiveError(err error) *archive.Error {
	if ae, ok := err.(*archive.Error); ok {
		return ae
	}
	return &archive.Error{Code: archive.CodeCorrupt, Offset: -1, Msg: err.Error(), Err: err}
}

// root returns the release directory prefix ("name/") when the archive has
// exactly one top-level directory, else "".
func (r *scanResult) root() string {
	if len(r.tops) == 1 {
		for t := range r.tops {
			if r.topIsDir[t] {
				return t + "/"
			}
		}
	}
	return ""
}

// unreadable is the outcome of a task whose archive could not be read.
func (r *scanResult) unreadable(what string) []Outcome {
	if r.openErr != nil {
		return []Outcome{{Status: domain.StatusException, Message: "the artifact could not be read from storage (" + r.openErr.Error() + "); this says nothing about the file; re-run the checks"}}
	}
	if r.err != nil {
		return []Outcome{{Status: domain.StatusNote, Message: what + " not checked: the archive cannot be read (see the archive result)"}}
	}
	return nil
}

func judgeArchive(r *scanResult, cfg scanConfig) []Outcome {
	if r.openErr != nil {
		return r.unreadable("")
	}
	var out []Outcome
	if r.err != nil {
		out = append(out, Outcome{Status: domain.StatusBlocker, Message: "the archive cannot be used: " + r.err.Error(),
			Details: map[string]any{"code": r.err.Code, "member": r.err.Member, "offset": r.err.Offset}})
	}
	var blockers, concerns []archive.Problem
	for _, p := range r.problems {
		if p.Code == archive.CodeTrailing || p.Code == archive.CodeBackslash || p.Code == archive.CodeUnsupported {
			concerns = append(concerns, p)
		} else {
			blockers = append(blockers, p)
		}
	}
	if len(blockers) > 0 {
		out = append(out, Outcome{Status: domain.StatusBlocker, Message: problemsMessage(blockers, r.nprob-len(r.problems), "unsafe member"),
			Details: map[string]any{"problems": blockers, "total": r.nprob}})
	}
	if len(concerns) > 0 {
		out = append(out, Outcome{Status: domain.StatusConcern, Message: problemsMessage(concerns, 0, "finding"),
			Details: map[string]any{"problems": concerns}})
	}
	if r.err == nil && !cfg.binary {
		if msg := structureProblem(r, cfg.stem); msg != "" {
			out = append(out, Outcome{Status: domain.StatusConcern, Message: msg, Details: map[string]any{"top_level": sortedKeys(r.tops)}})
		}
	}
	if len(out) == 0 {
		msg := fmt.Sprintf("readable to the end: %d members, %s unpacked", r.stats.Members, domain.HumanSize(r.stats.Unpacked))
		if !cfg.binary {
			msg += fmt.Sprintf(", all inside %s/", cfg.stem)
		}
		if r.appleDouble > 0 {
			msg += fmt.Sprintf(" (%d AppleDouble ._ files ignored)", r.appleDouble)
		}
		out = append(out, Outcome{Status: domain.StatusNote, Message: msg,
			Details: map[string]any{"members": r.stats.Members, "unpacked_bytes": r.stats.Unpacked}})
	}
	return out
}

func problemsMessage(ps []archive.Problem, more int, noun string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s(s): ", len(ps)+more, noun)
	for i, p := range ps {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more (see the details)", len(ps)+more-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

func structureProblem(r *scanResult, stem string) string {
	want := stem + "/"
	if root := r.root(); root == want {
		return ""
	} else if root != "" {
		return fmt.Sprintf("the archive unpacks into %s, not %s as its name says: rename the directory or the artifact", root, want)
	}
	names := sortedKeys(r.tops)
	shown := names
	if len(shown) > maxListed {
		shown = shown[:maxListed]
	}
	if len(names) == 0 {
		return "the archive is empty; it should hold one directory " + want
	}
	return fmt.Sprintf("the archive should unpack into one directory %s, but its top level holds %d entries: %s",
		want, len(names), strings.Join(shown, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// rootFile finds the member of a kind (LICENSE, NOTICE, DISCLAIMER) at the
// top of the release directory, or where binary packages keep it
// (META-INF/ of a jar, NAME.dist-info/ of a wheel).
func (r *scanResult) rootFile(kind string) (string, []byte, bool) {
	root := r.root()
	for _, name := range sortedKeys(r.rootFiles) {
		base := path.Base(name)
		if rules.RootFileKind(base) != kind {
			continue
		}
		dir := strings.TrimSuffix(name, base)
		if dir == root || dir == "META-INF/" || strings.HasSuffix(dir, ".dist-info/") {
			return name, r.rootFiles[name], true
		}
	}
	return "", nil, false
}

func judgeLicenseFiles(r *scanResult, cfg scanConfig, incubating bool, year int) []Outcome {
	if out := r.unreadable("licence files"); out != nil {
		return out
	}
	where := r.root()
	if where == "" {
		where = "the top of the archive"
	}
	var out []Outcome
	name, text, ok := r.rootFile("LICENSE")
	if !ok {
		out = append(out, Outcome{Status: domain.StatusBlocker, Message: fmt.Sprintf("no LICENSE file at %s: every release must carry its licence", where)})
	} else {
		ms, err := rules.Classify(text)
		if err != nil {
			return []Outcome{{Status: domain.StatusException, Message: "the licence classifier failed: " + err.Error()}}
		}
		var found []string
		matched := false
		for _, m := range ms {
			found = append(found, m.SPDX)
			if strings.EqualFold(m.SPDX, cfg.license) && m.Kind == "License" {
				matched = true
			}
		}
		details := map[string]any{"file": name, "matches": ms}
		if !matched {
			diff := rules.MissingLines(string(text), rules.CanonicalText(cfg.license), 8)
			details["missing"] = diff
			what := "no licence the classifier knows"
			if len(found) > 0 {
				what = strings.Join(found, ", ")
			}
			msg := fmt.Sprintf("%s is not the %s licence the project's policy names (found: %s)", name, cfg.license, what)
			if len(diff) > 0 {
				msg += "; it lacks, among others:\n" + strings.Join(diff, "\n")
			}
			out = append(out, Outcome{Status: domain.StatusBlocker, Message: msg, Details: details})
		} else if why := rules.AlteredTerms(string(text), cfg.license); why != "" {
			details["altered"] = why
			out = append(out, Outcome{Status: domain.StatusBlocker, Details: details, Message: fmt.Sprintf(
				"%s is not the %s licence the project's policy names: %s. Ship the licence's text unchanged (the project's own notices go in NOTICE; bundled licences after the terms)", name, cfg.license, why)})
		} else {
			out = append(out, Outcome{Status: domain.StatusNote, Message: fmt.Sprintf("%s is the %s licence", name, cfg.license), Details: details})
		}
	}
	if name, text, ok := r.rootFile("NOTICE"); ok {
		f := rules.CheckNotice(string(text), cfg.license, year)
		st := domain.StatusNote
		if !f.OK {
			st = domain.StatusConcern
		}
		out = append(out, Outcome{Status: st, Message: name + ": " + f.Message, Details: map[string]any{"file": name, "missing": f.Missing}})
	} else if strings.EqualFold(cfg.license, "Apache-2.0") {
		out = append(out, Outcome{Status: domain.StatusBlocker, Message: fmt.Sprintf("no NOTICE file at %s: Apache-2.0 releases carry one (product name and copyright line)", where)})
	}
	if incubating {
		if name, _, ok := r.rootFile("DISCLAIMER"); ok {
			out = append(out, Outcome{Status: domain.StatusNote, Message: name + " is present, as the committee is incubating"})
		} else {
			out = append(out, Outcome{Status: domain.StatusBlocker, Message: fmt.Sprintf("no DISCLAIMER (or DISCLAIMER-WIP) file at %s: releases of incubating committees must carry one", where)})
		}
	}
	return out
}

// ignoreLists returns the archive's .trel-license-ignore list and the
// policy's, with the problems found reading them.
func (r *scanResult) ignoreLists(policy []string) (file, pol *rules.IgnoreList, errs []string) {
	if text, ok := r.ignore[r.root()+".trel-license-ignore"]; ok {
		var es []error
		file, es = rules.ParseIgnore(string(text))
		for _, e := range es {
			errs = append(errs, ".trel-license-ignore "+e.Error())
		}
	}
	pol, es := rules.ParseIgnore(strings.Join(policy, "\n"))
	for _, e := range es {
		errs = append(errs, "policy header-ignore "+e.Error())
	}
	return file, pol, errs
}

func judgeHeaders(r *scanResult, cfg scanConfig, policyIgnore []string) []Outcome {
	if out := r.unreadable("licence headers"); out != nil {
		return out
	}
	file, pol, errs := r.ignoreLists(policyIgnore)
	root := r.root()
	var offenders []string
	excluded := 0
	for _, f := range r.noHeader {
		name := f.name
		rel := strings.TrimPrefix(name, root)
		if ok, _ := file.Match(rel); ok {
			excluded++
			continue
		}
		if ok, _ := pol.Match(rel); ok {
			excluded++
			continue
		}
		offenders = append(offenders, name)
	}
	unlisted := r.noHeaderCount - len(r.noHeader)
	details := map[string]any{"checked": r.headerChecked, "generated": r.headerGenerated, "excluded": excluded,
		"missing": len(offenders) + unlisted, "license": cfg.license}
	if len(errs) > 0 {
		details["ignore_errors"] = errs
	}
	if len(offenders)+unlisted == 0 {
		msg := fmt.Sprintf("all %d source files carry a licence header (%s)", r.headerChecked-excluded-r.headerLicensed, cfg.license)
		if r.headerChecked == 0 {
			msg = "no file of a language that needs a licence header"
		}
		if r.headerGenerated > 0 || excluded > 0 {
			msg += fmt.Sprintf(" (%d generated, %d excluded by ignore rules)", r.headerGenerated, excluded)
		}
		st := domain.StatusNote
		if len(errs) > 0 {
			st = domain.StatusSuggestion
			msg += "; ignore rules with errors: " + strings.Join(errs, "; ")
		}
		return []Outcome{{Status: st, Message: msg, Details: details}}
	}
	full := offenders
	if len(full) > maxDetailPaths {
		full = full[:maxDetailPaths]
	}
	details["files"] = full
	shown := offenders
	if len(shown) > maxListed {
		shown = shown[:maxListed]
	}
	msg := fmt.Sprintf("%d of %d source files have no %s licence header: %s", len(offenders)+unlisted, r.headerChecked, cfg.license, strings.Join(shown, ", "))
	if len(offenders)+unlisted > len(shown) {
		msg += fmt.Sprintf(", and %d more (the full list is in the API details)", len(offenders)+unlisted-len(shown))
	}
	msg += "; add the header, or list generated files in .trel-license-ignore"
	if len(errs) > 0 {
		msg += "; ignore rules with errors: " + strings.Join(errs, "; ")
	}
	return []Outcome{{Status: domain.StatusConcern, Message: msg, Details: details}}
}

func judgeThirdParty(r *scanResult, cfg scanConfig, allowed []string) []Outcome {
	if out := r.unreadable("third-party licences"); out != nil {
		return out
	}
	ok := map[string]bool{strings.ToLower(cfg.license): true}
	for _, id := range allowed {
		ok[strings.ToLower(id)] = true
	}
	rootLicense, _, _ := r.rootFile("LICENSE")
	type finding struct {
		File    string `json:"file"`
		License string `json:"license"`
	}
	var bad, good []finding
	unknown := []string{}
	for _, lists := range [][]licenseFile{r.licenses, r.headerLicenses} {
		for _, lf := range lists {
			if len(lf.matches) == 0 {
				if lf.name != rootLicense {
					unknown = append(unknown, lf.name)
				}
				continue
			}
			for _, m := range lf.matches {
				if lf.name == rootLicense && strings.EqualFold(m.SPDX, cfg.license) {
					continue
				}
				f := finding{lf.name, m.SPDX}
				if ok[strings.ToLower(m.SPDX)] {
					good = append(good, f)
				} else {
					bad = append(bad, f)
				}
			}
		}
	}
	details := map[string]any{"allowed": good, "not_allowed": bad, "unidentified": unknown}
	var out []Outcome
	if len(bad) > 0 {
		var parts []string
		for i, f := range bad {
			if i == maxListed {
				parts = append(parts, fmt.Sprintf("and %d more", len(bad)-i))
				break
			}
			parts = append(parts, f.File+": "+f.License)
		}
		out = append(out, Outcome{Status: domain.StatusConcern, Details: details, Message: fmt.Sprintf(
			"%d licence(s) outside the policy's allowed list: %s; check that this code may be distributed, or allow the licence with `trel policy set --allowed-licenses`",
			len(bad), strings.Join(parts, "; "))})
	}
	if len(unknown) > 0 {
		shown := unknown
		if len(shown) > maxListed {
			shown = shown[:maxListed]
		}
		out = append(out, Outcome{Status: domain.StatusConcern, Details: details, Message: fmt.Sprintf(
			"%d licence file(s) the classifier could not identify: %s; read them", len(unknown), strings.Join(shown, ", "))})
	}
	if len(out) == 0 {
		msg := "no third-party licence found"
		if len(good) > 0 {
			msg = fmt.Sprintf("%d third-party licence(s), all allowed by the policy", len(good))
		}
		out = append(out, Outcome{Status: domain.StatusNote, Message: msg, Details: details})
	}
	return out
}

// blobHasher computes a git blob id: SHA-1 of "blob SIZE\0" and the content.
type blobHasher struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func newBlobHasher(size int64) *blobHasher {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", size)
	return &blobHasher{h: h}
}

func (b *blobHasher) Write(p []byte) (int, error) { return b.h.Write(p) }

func (b *blobHasher) Sum() [20]byte {
	var out [20]byte
	copy(out[:], b.h.Sum(nil))
	return out
}

func gitBlobID(data []byte) [20]byte {
	h := newBlobHasher(int64(len(data)))
	h.Write(data)
	return h.Sum()
}
