package domain

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Trusted publishing: a CI workflow proves who it is with a short-lived
// OIDC ID token, and trel exchanges it for a credential scoped to one
// project and the actions its trusted publisher allows.

// Issuer kinds: which claim set an OIDC issuer issues.
const (
	IssuerGitHub = "github" // GitHub Actions (and GitHub Enterprise, Forgejo Actions)
	IssuerGitLab = "gitlab" // GitLab CI
)

// The issuers trel knows out of the box.
const (
	GitHubActionsIssuer = "https://token.actions.githubusercontent.com"
	GitLabIssuer        = "https://gitlab.com"
)

// OIDCIssuer is an OIDC issuer whose ID tokens trel accepts for trusted
// publishing.
type OIDCIssuer struct {
	URL  string `json:"url"`
	Kind string `json:"kind"`
	// WebURL is where the repositories and runs of this issuer are shown
	// (https://github.com for GitHub Actions, the instance for GitLab): run
	// URLs and Sigstore certificate identities are built from it.
	WebURL  string    `json:"web_url"`
	AddedBy string    `json:"added_by,omitempty"`
	AddedAt time.Time `json:"added_at,omitzero"`
}

// DefaultWebURL is the web address of an issuer's repositories when none
// is given: github.com for every GitHub-kind issuer (Fulcio names GitHub
// workflows there whatever the issuer), the issuer itself for GitLab.
func DefaultWebURL(kind, issuer string) string {
	if kind == IssuerGitHub {
		return "https://github.com"
	}
	return strings.TrimSuffix(issuer, "/")
}

// ValidateIssuerURL checks an issuer URL: https, or plain http on a
// loopback address (tests, a local CI), without query, fragment or
// credentials.
func ValidateIssuerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "/") {
		return Errorf(KindInvalid, "issuer %s is not a valid issuer URL: give it exactly as the tokens' iss claim names it, e.g. %s (no trailing slash)", SafeText(raw), GitHubActionsIssuer)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && IsLoopbackHost(u.Hostname()):
	default:
		return Errorf(KindInvalid, "issuer %s must use https (plain http is accepted only on a loopback address)", SafeText(raw))
	}
	return nil
}

// IsLoopbackHost reports whether host is localhost or a loopback address.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Validate checks an issuer before it is stored.
func (i OIDCIssuer) Validate() error {
	if err := ValidateIssuerURL(i.URL); err != nil {
		return err
	}
	if i.Kind != IssuerGitHub && i.Kind != IssuerGitLab {
		return Errorf(KindInvalid, "issuer kind %s: use github (GitHub Actions' claims) or gitlab (GitLab CI's claims)", SafeText(i.Kind))
	}
	if i.WebURL != "" {
		u, err := url.Parse(i.WebURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.HasSuffix(i.WebURL, "/") {
			return Errorf(KindInvalid, "web URL %s: give the address repositories are shown at, e.g. https://github.com", SafeText(i.WebURL))
		}
	}
	return nil
}

// Actions a trusted publisher may be allowed.
const (
	ActionCompose   = "compose"    // start a release, upload, sign on the client
	ActionVoteStart = "vote-start" // start the vote
	ActionPublish   = "publish"    // resolve a passing vote and publish
)

// AllActions lists the actions in their canonical order.
var AllActions = []string{ActionCompose, ActionVoteStart, ActionPublish}

// ParseActions reads a comma-separated list of actions, in canonical order
// and without repeats.
func ParseActions(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !slices.Contains(AllActions, a) {
			return nil, FieldErrorf("actions", KindInvalid, "unknown action %s: use compose, vote-start and publish", SafeText(a))
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, FieldErrorf("actions", KindInvalid, "name at least one action: compose, vote-start or publish")
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(AllActions, a) - slices.Index(AllActions, b) })
	return out, nil
}

// TrustedPublisher is a CI workflow a project trusts: tokens from Issuer
// for Repository running Workflow (and, when set, on a ref matching Ref in
// Environment) are exchanged for a credential allowed Actions.
type TrustedPublisher struct {
	ID     int64  `json:"id"`
	Issuer string `json:"issuer"`
	// Repository is OWNER/NAME (GitHub) or the project path (GitLab).
	Repository string `json:"repository"`
	// Workflow is the workflow file (.github/workflows/release.yml) or the
	// CI configuration path (.gitlab-ci.yml) in the repository.
	Workflow string `json:"workflow"`
	// Ref is an optional glob (path.Match) the full ref must match, e.g.
	// refs/tags/v*. A publisher with a ref requires a protected ref: pull
	// request events (which forks can trigger) are refused.
	Ref string `json:"ref,omitempty"`
	// Environment is the deployment environment the job must run in.
	Environment string   `json:"environment,omitempty"`
	Actions     []string `json:"actions"`
	// Account is the user trel records as the author of what the
	// publisher does (a name no person can have).
	Account string    `json:"account"`
	AddedBy string    `json:"added_by"`
	AddedAt time.Time `json:"added_at"`
}

// Allows reports whether the publisher may perform action.
func (p TrustedPublisher) Allows(action string) bool { return slices.Contains(p.Actions, action) }

// Validate checks a publisher before it is added.
func (p TrustedPublisher) Validate() error {
	if err := ValidateIssuerURL(p.Issuer); err != nil {
		return err.(*Error).On("issuer")
	}
	if !validRepository(p.Repository) {
		return FieldErrorf("repository", KindInvalid, "repository %s: give OWNER/NAME (GitHub) or the project path group/subgroup/name (GitLab)", SafeText(p.Repository))
	}
	if p.Workflow == "" || len(p.Workflow) > 256 || strings.HasPrefix(p.Workflow, "/") || strings.Contains(p.Workflow, "@") ||
		strings.Contains(p.Workflow, "..") || path.Clean(p.Workflow) != p.Workflow || strings.ContainsAny(p.Workflow, " \t\r\n\\") {
		return FieldErrorf("workflow", KindInvalid, "workflow %s: give the path of the workflow file in the repository, such as .github/workflows/release.yml or .gitlab-ci.yml, without @ref", SafeText(p.Workflow))
	}
	if p.Ref != "" {
		if _, err := path.Match(p.Ref, "refs/x"); err != nil || !strings.HasPrefix(p.Ref, "refs/") || len(p.Ref) > 256 {
			return FieldErrorf("ref", KindInvalid, "ref %s: give a full ref or glob such as refs/tags/v* or refs/heads/main", SafeText(p.Ref))
		}
	}
	if len(p.Environment) > 255 || p.Environment != strings.TrimSpace(p.Environment) || strings.ContainsAny(p.Environment, "\r\n\t") {
		return FieldErrorf("environment", KindInvalid, "environment %s: give the deployment environment's name", SafeText(p.Environment))
	}
	if len(p.Actions) == 0 {
		return FieldErrorf("actions", KindInvalid, "name at least one action: compose, vote-start or publish")
	}
	for _, a := range p.Actions {
		if !slices.Contains(AllActions, a) {
			return FieldErrorf("actions", KindInvalid, "unknown action %s: use compose, vote-start and publish", SafeText(a))
		}
	}
	return nil
}

var repoSegment = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*$`)

func validRepository(r string) bool {
	parts := strings.Split(r, "/")
	if len(parts) < 2 || len(r) > 256 {
		return false
	}
	for _, s := range parts {
		if !repoSegment.MatchString(s) || s == "." || s == ".." {
			return false
		}
	}
	return true
}

// String describes the publisher in one line.
func (p TrustedPublisher) String() string {
	s := fmt.Sprintf("%s %s at %s", p.Repository, p.Workflow, p.Issuer)
	if p.Ref != "" {
		s += ", ref " + p.Ref
	}
	if p.Environment != "" {
		s += ", environment " + p.Environment
	}
	return s + " (" + strings.Join(p.Actions, ", ") + ")"
}

// WorkflowRun is who a verified ID token says is acting: the repository,
// workflow and run. It is recorded with everything done with the
// credential exchanged for that token.
type WorkflowRun struct {
	Issuer     string `json:"issuer"`
	Kind       string `json:"kind"`
	Subject    string `json:"subject"`
	Repository string `json:"repository"`
	Workflow   string `json:"workflow"`
	// JobWorkflow is the reusable workflow that ran the job, when it is
	// not Workflow (GitHub's job_workflow_ref).
	JobWorkflow string `json:"job_workflow,omitempty"`
	Ref         string `json:"ref"`
	SHA         string `json:"sha"`
	RunID       string `json:"run_id"`
	RunAttempt  string `json:"run_attempt,omitempty"`
	RunURL      string `json:"run_url"`
	Environment string `json:"environment,omitempty"`
	EventName   string `json:"event_name,omitempty"`
	// RefProtected is GitLab's ref_protected (GitHub tokens do not say).
	RefProtected bool   `json:"ref_protected,omitempty"`
	Actor        string `json:"actor,omitempty"` // who triggered the run
	JTI          string `json:"-"`
}

// String names the run in one line.
func (r WorkflowRun) String() string {
	return fmt.Sprintf("%s %s@%s (commit %s, run %s)", r.Repository, r.Workflow, r.Ref, shortSHA(r.SHA), r.RunURL)
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// pullRequestEvents are the events a fork can trigger.
var pullRequestEvents = []string{"pull_request", "pull_request_target", "merge_request_event", "external_pull_request_event"}

// Mismatches lists, in plain words naming the token's claims, why run is
// not this publisher; none means it matches.
func (p TrustedPublisher) Mismatches(run WorkflowRun) []string {
	var out []string
	if run.Issuer != p.Issuer {
		out = append(out, fmt.Sprintf("iss is %s, not %s", run.Issuer, p.Issuer))
	}
	repoClaim, wfClaim := "repository", "workflow_ref"
	if run.Kind == IssuerGitLab {
		repoClaim, wfClaim = "project_path", "ci_config_ref_uri"
	}
	if run.Repository != p.Repository {
		out = append(out, fmt.Sprintf("%s is %s, not %s", repoClaim, SafeText(run.Repository), p.Repository))
	}
	if run.Workflow != p.Workflow {
		out = append(out, fmt.Sprintf("%s names the workflow %s, not %s", wfClaim, SafeText(run.Workflow), p.Workflow))
	}
	if p.Ref != "" {
		if ok, _ := path.Match(p.Ref, run.Ref); !ok {
			out = append(out, fmt.Sprintf("ref is %s, which does not match %s", SafeText(run.Ref), p.Ref))
		}
		if slices.Contains(pullRequestEvents, run.EventName) {
			out = append(out, fmt.Sprintf("the run was triggered by a pull-request event (%s), which a fork can trigger, and the publisher requires a protected ref (%s)", run.EventName, p.Ref))
		}
		if run.Kind == IssuerGitLab && !run.RefProtected {
			out = append(out, fmt.Sprintf("ref_protected is false, and the publisher requires a protected ref (%s)", p.Ref))
		}
	}
	if p.Environment != "" && run.Environment != p.Environment {
		got := "not set"
		if run.Environment != "" {
			got = SafeText(run.Environment)
		}
		out = append(out, fmt.Sprintf("environment is %s, not %s", got, p.Environment))
	}
	return out
}

// SigstoreIdentity is the certificate identity Fulcio gives the
// publisher's workflow, so that its keyless Sigstore bundles count without
// separate configuration. ok is false when the publisher may not sign
// (no compose action). The deployment environment is not in Fulcio's
// certificates, so it is not checked there.
func (p TrustedPublisher) SigstoreIdentity(is OIDCIssuer) (SigstoreIdentity, bool) {
	if !p.Allows(ActionCompose) || is.URL != p.Issuer {
		return SigstoreIdentity{}, false
	}
	web := is.WebURL
	if web == "" {
		web = DefaultWebURL(is.Kind, is.URL)
	}
	sep := "/"
	if is.Kind == IssuerGitLab {
		sep = "//"
	}
	id := SigstoreIdentity{
		Issuer:           p.Issuer,
		SubjectRegexp:    regexp.QuoteMeta(web+"/"+p.Repository+sep+p.Workflow+"@") + `refs/.+`,
		SourceRepository: web + "/" + p.Repository,
		Workflow:         p.Workflow,
		CreatedBy:        p.AddedBy, CreatedAt: p.AddedAt,
	}
	if p.Ref != "" {
		id.RefRegexp = GlobRegexp(p.Ref)
	}
	return id, true
}

// GlobRegexp turns a path.Match glob into an equivalent regular
// expression (without anchors): * and ? never match '/'.
func GlobRegexp(glob string) string {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*':
			b.WriteString(`[^/]*`)
		case '?':
			b.WriteString(`[^/]`)
		case '[':
			j := strings.IndexByte(glob[i:], ']')
			if j < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := glob[i+1 : i+j]
			if strings.HasPrefix(class, "^") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

// Workload is what a trusted-publisher credential may do: act on one
// project with the actions its publisher allows (as it stands now), as
// the publisher's account, on behalf of one workflow run.
type Workload struct {
	ProjectID   int64
	ProjectKey  string
	PublisherID int64
	Actions     []string
	UserID      int64
	Account     string
	RunID       int64
	Run         WorkflowRun
	ExpiresAt   time.Time
}

// Allows reports whether the workload may perform action.
func (w *Workload) Allows(action string) bool { return slices.Contains(w.Actions, action) }

// WorkflowAction records that a workflow run did something to a release:
// started it, made a revision, started the vote, resolved it, published.
type WorkflowAction struct {
	Action string      `json:"action"` // release.start, revision, vote.start, vote.resolve, publish
	Number int         `json:"number"` // the revision or vote round (0 otherwise)
	At     time.Time   `json:"at"`
	Run    WorkflowRun `json:"run"`
}

// FieldErrorf builds an Error about one field of a form or request, so
// that a page can show it next to the field (see Error.Field).
func FieldErrorf(field string, kind Kind, format string, args ...any) error {
	return Errorf(kind, format, args...).On(field)
}

// PublisherCredential is a stored trusted-publisher credential (its
// secret only as a hash) with the run it was issued to.
type PublisherCredential struct {
	ID          int64
	Hash        []byte
	RunID       int64
	UserID      int64
	Actions     []string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	ProjectID   int64
	ProjectKey  string
	PublisherID int64
	Run         WorkflowRun
}
