package mail

import (
	"fmt"
	"sort"
	"strings"
)

// Placeholder is one {name} a template may use.
type Placeholder struct {
	Name, Meaning string
}

// Placeholders lists every {name} of the templates, in the order the
// policy page shows them. "{{" writes a literal "{".
var Placeholders = []Placeholder{
	{"project", "the project's key, e.g. tomcat-server"},
	{"project_name", "the project's name"},
	{"committee", "the committee's key"},
	{"version", "the release version"},
	{"revision", "the revision under vote"},
	{"release_url", "the release's page in trel"},
	{"candidate_url", "where the candidate's files are listed (the release page)"},
	{"download_url", "the published files' directory"},
	{"keys_url", "the committee's KEYS file"},
	{"manifest_url", "the published release manifest"},
	{"files", "every file with its size and SHA-512, one per line"},
	{"vote_hours", "the minimum vote duration in hours"},
	{"vote_ends", "the earliest time the vote may be resolved"},
	{"binding_needed", "binding +1 votes the vote needs"},
	{"tally", "the votes and their count"},
	{"result", "passed or failed"},
	{"verify", "how to verify the downloads"},
	{"release_managers", "the release managers"},
	{"vote_command", "the command that casts a vote"},
}

// Vars are the values of the placeholders.
type Vars map[string]string

func known(name string) bool {
	for _, p := range Placeholders {
		if p.Name == name {
			return true
		}
	}
	return false
}

// Render replaces every {name} of tmpl by its value. An unknown name, or
// a "{" that does not open a placeholder, is an error naming it.
func Render(tmpl string, v Vars) (string, error) {
	var b strings.Builder
	for i := 0; i < len(tmpl); {
		c := tmpl[i]
		switch {
		case c == '{' && strings.HasPrefix(tmpl[i:], "{{"):
			b.WriteByte('{')
			i += 2
		case c == '{':
			end := strings.IndexByte(tmpl[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("a { at byte %d is not closed: write {{ for a literal {", i)
			}
			name := tmpl[i+1 : i+end]
			if !known(name) {
				return "", fmt.Errorf("unknown placeholder {%s}: use one of %s (or {{ for a literal {)", HeaderText(name, 40), names())
			}
			b.WriteString(v[name])
			i += end + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// CheckTemplate reports the first problem of a template ("" means fine).
func CheckTemplate(tmpl string) error {
	_, err := Render(tmpl, Vars{})
	return err
}

func names() string {
	var out []string
	for _, p := range Placeholders {
		out = append(out, "{"+p.Name+"}")
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// DefaultVote is the [VOTE] template a project gets unless its policy has
// its own.
const DefaultVote = `Hello {committee},

this is a call for a vote on releasing {project_name} {version}.

The candidate is revision {revision}; its files, checks and signatures are at
  {candidate_url}

Files (SHA-512):
{files}

The KEYS file with the signers' public keys:
  {keys_url}

How to verify:
{verify}

The vote is open for at least {vote_hours} hours (it may be resolved from
{vote_ends}) and passes with at least {binding_needed} binding +1 votes and more
binding +1 than -1 votes.

  [ ] +1 release this candidate as {project_name} {version}
  [ ]  0 no opinion
  [ ] -1 do not release it, because ...

Votes are counted in trel: vote on the release page above, or with
  {vote_command}
Each vote cast there is copied to this thread.

Thanks,
{release_managers}
`

// DefaultResult is the [RESULT] template.
const DefaultResult = `The vote on releasing {project_name} {version} (revision {revision}) has ended:
it {result}.

{tally}

{release_url}
`

// DefaultAnnounce is the [ANNOUNCE] template.
const DefaultAnnounce = `The {committee} committee is pleased to announce {project_name} {version}.

Download it from
  {download_url}

Files (SHA-512):
{files}

Verify what you downloaded with the KEYS file
  {keys_url}
{verify}

The release manifest (files, digests, signers and the vote), recorded in
trel's public log:
  {manifest_url}
`
