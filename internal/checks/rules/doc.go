// Package rules holds pure release-check rules: parsing checksum files and
// matching them against an artifact's digest, and the policy on which files
// a release revision may contain.
//
// Nothing here does I/O, touches a database or sees an HTTP request: every
// function takes bytes or strings and returns values, so the check engine can
// call it on untrusted input, cache its results by input hash and fuzz it.
package rules

// Statuses a Finding or Verdict can carry, strongest first. They match the
// vocabulary of the check engine (see docs/REFERENCE.md, "Check statuses").
const (
	// StatusBlocker is a policy violation; a vote cannot start while one exists.
	StatusBlocker = "blocker"
	// StatusConcern must be looked at and acknowledged by the release manager.
	StatusConcern = "concern"
	// StatusSuggestion is advice that can be ignored.
	StatusSuggestion = "suggestion"
	// StatusNote is a pass or purely informational result.
	StatusNote = "note"
	// StatusException means the checker itself failed (for example it was
	// called with an unsupported algorithm); it never blames the artifact.
	StatusException = "exception"
)
