package api

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

var (
	openAPIOnce sync.Once
	openAPIDoc  map[string]any
)

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	openAPIOnce.Do(func() { openAPIDoc = OpenAPI(a.routes()) })
	writeJSON(w, 200, openAPIDoc)
}

var pathParam = regexp.MustCompile(`\{([a-z]+)(\.\.\.)?\}`)

// OpenAPI builds the OpenAPI 3.1 document from the route table.
func OpenAPI(routes []route) map[string]any {
	paths := map[string]any{}
	for _, rt := range routes {
		p := pathParam.ReplaceAllString(rt.Pattern, "{$1}")
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"responses": map[string]any{
				strconv.Itoa(rt.Status): response(rt.Response),
				"default":               map[string]any{"description": "An error", "content": jsonContent("Error")},
			},
		}
		if rt.Auth != "public" {
			op["security"] = []any{map[string]any{"bearer": []any{}}}
		} else {
			op["security"] = []any{map[string]any{}, map[string]any{"bearer": []any{}}}
		}
		if rt.Auth == "admin" {
			op["description"] = "Administrators only."
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Pattern, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		switch rt.Request {
		case "":
		case "binary":
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": "application/octet-stream"}}}}
		default:
			op["requestBody"] = map[string]any{"required": true, "content": jsonContent(rt.Request)}
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "trel API",
			"version":     "1",
			"description": "Trusted releases: committees, projects, releases with immutable revisions. Errors always have the shape {\"error\": {\"code\", \"message\"}}.",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "An API token (trel_...) from `trel admin create-token` or `trel token create`."}},
			"schemas":         schemas,
		},
	}
}

func response(schema string) map[string]any {
	switch schema {
	case "":
		return map[string]any{"description": "Success"}
	case "text":
		return map[string]any{"description": "Text", "content": map[string]any{"text/plain": map[string]any{"schema": str}}}
	case "binary":
		return map[string]any{"description": "The file", "content": map[string]any{"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": "application/octet-stream"}}}}
	}
	return map[string]any{"description": "Success", "content": jsonContent(schema)}
}

func jsonContent(schema string) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": ref(schema)}}
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

// operationID turns "GET /api/v1/projects/{project}" into "getProjectsProject".
func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, seg := range strings.Split(strings.TrimPrefix(rt.Pattern, "/api/v1/"), "/") {
		seg = strings.Trim(seg, "{}.")
		for _, part := range strings.FieldsFunc(seg, func(r rune) bool { return r == '.' || r == '-' }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func obj(required []string, props map[string]any) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func list(field, item string) map[string]any {
	return obj([]string{field}, map[string]any{field: map[string]any{"type": "array", "items": ref(item)}})
}

var (
	str      = map[string]any{"type": "string"}
	integer  = map[string]any{"type": "integer"}
	boolean  = map[string]any{"type": "boolean"}
	datetime = map[string]any{"type": "string", "format": "date-time"}
	optTime  = map[string]any{"type": []any{"string", "null"}, "format": "date-time"}
)

var schemas = map[string]any{
	"Error": obj([]string{"error"}, map[string]any{"error": obj([]string{"code", "message"}, map[string]any{
		"code":    map[string]any{"type": "string", "enum": []any{"invalid", "unauthenticated", "forbidden", "not_found", "conflict", "too_large", "unavailable", "internal", "rate_limited", "locked"}},
		"field":   map[string]any{"type": "string", "description": "The request field the message is about, when there is one"},
		"message": str,
	})}),
	"User":     obj([]string{"id", "username", "email", "admin"}, map[string]any{"id": integer, "username": str, "email": str, "name": str, "admin": boolean, "created_at": datetime, "suspended_at": optTime}),
	"UserList": list("users", "User"),
	"Session": obj([]string{"id", "user_id"}, map[string]any{"id": integer, "user_id": integer, "username": str, "created_at": datetime, "last_seen_at": datetime,
		"client_ip": str, "user_agent": str, "passkey_id": integer, "passkey": str}),
	"SessionList": list("sessions", "Session"),
	"Passkey": obj([]string{"id", "name"}, map[string]any{"id": integer, "user_id": integer, "name": str, "sign_count": integer,
		"backup_eligible": boolean, "backup_state": boolean, "created_at": datetime, "last_used_at": optTime}),
	"PasskeyList":    list("passkeys", "Passkey"),
	"RemovedPasskey": obj([]string{"sessions_ended"}, map[string]any{"sessions_ended": integer}),
	"Notice":         obj([]string{"id", "message"}, map[string]any{"id": integer, "user_id": integer, "message": str, "created_at": datetime}),
	"NoticeList":     list("notices", "Notice"),
	"NewUser":        obj([]string{"username", "email"}, map[string]any{"username": str, "email": str, "name": str, "admin": boolean}),
	"AuditEvent": obj(nil, map[string]any{"id": integer, "time": datetime, "actor_id": integer, "actor": str, "action": str, "target": str,
		"details": map[string]any{"type": "object"}, "client_ip": str}),
	"AuditList":     list("events", "AuditEvent"),
	"Token":         obj([]string{"id", "label", "prefix"}, map[string]any{"id": integer, "user_id": integer, "label": str, "prefix": str, "created_at": datetime, "expires_at": optTime, "last_used_at": optTime, "revoked_at": optTime}),
	"TokenList":     list("tokens", "Token"),
	"NewToken":      obj(nil, map[string]any{"label": str, "expires": map[string]any{"type": "string", "description": "Lifetime such as 90d or 12h (default 90d, at most 366d)"}}),
	"CreatedToken":  obj([]string{"token", "secret"}, map[string]any{"token": ref("Token"), "secret": map[string]any{"type": "string", "description": "Shown once; store it safely"}}),
	"Committee":     obj([]string{"key", "name"}, map[string]any{"id": integer, "key": str, "name": str, "created_at": datetime}),
	"CommitteeList": list("committees", "Committee"),
	"NewCommittee":  obj([]string{"key", "name"}, map[string]any{"key": str, "name": str}),
	"CommitteeDetail": obj([]string{"key", "name", "members", "projects"}, map[string]any{"id": integer, "key": str, "name": str, "created_at": datetime,
		"members": map[string]any{"type": "array", "items": ref("Membership")}, "projects": map[string]any{"type": "array", "items": ref("Project")}}),
	"Membership":  obj([]string{"committee", "username", "role"}, map[string]any{"committee": str, "username": str, "user_id": integer, "role": map[string]any{"type": "string", "enum": []any{"member", "committer"}}, "since": datetime}),
	"MemberRole":  obj([]string{"role"}, map[string]any{"role": map[string]any{"type": "string", "enum": []any{"member", "committer"}}}),
	"Incubating":  obj([]string{"incubating"}, map[string]any{"incubating": map[string]any{"type": "boolean"}}),
	"Project":     obj([]string{"key", "name", "committee"}, map[string]any{"id": integer, "key": str, "name": str, "committee": str, "created_at": datetime}),
	"ProjectList": list("projects", "Project"),
	"NewProject":  obj([]string{"key", "committee", "name"}, map[string]any{"key": str, "committee": str, "name": str}),
	"Release": obj([]string{"project", "version", "phase"}, map[string]any{"id": integer, "project": str, "committee": str, "version": str,
		"phase": map[string]any{"type": "string", "enum": []any{"draft", "candidate", "preview", "released"}}, "created_by": str, "created_at": datetime, "latest_revision": integer}),
	"ReleaseList": list("releases", "Release"),
	"NewRelease":  obj([]string{"version"}, map[string]any{"version": str}),
	"Blob":        obj([]string{"sha256", "sha512", "size"}, map[string]any{"sha256": str, "sha512": str, "size": integer}),
	"File":        obj([]string{"path", "sha256", "sha512", "size"}, map[string]any{"path": str, "sha256": str, "sha512": str, "size": integer}),
	"Revision": obj([]string{"number", "author", "created_at"}, map[string]any{"number": integer, "parent": integer, "author": str, "created_at": datetime, "description": str,
		"files": map[string]any{"type": "array", "items": ref("File")}}),
	"RevisionList": list("revisions", "Revision"),
	"Change": obj([]string{"op"}, map[string]any{"op": map[string]any{"type": "string", "enum": []any{"put", "delete", "move"}},
		"path": str, "sha256": str, "from": str, "to": str}),
	"RevisionRequest": obj([]string{"changes"}, map[string]any{"expect_revision": integer, "description": str,
		"changes": map[string]any{"type": "array", "items": ref("Change")}}),
	"AddKeys": obj(nil, map[string]any{"keys": map[string]any{"type": "string", "description": "Armored public key(s) or a KEYS file"},
		"keys_data":  map[string]any{"type": "string", "contentEncoding": "base64", "description": "The key file as bytes (a binary keyring from gpg --export); takes precedence over keys"},
		"committees": map[string]any{"type": "array", "items": str}, "automation": boolean}),
	"KeyOutcome": obj([]string{"status"}, map[string]any{"fingerprint": str, "status": map[string]any{"type": "string", "enum": []any{"added", "refreshed", "unchanged", "rejected"}},
		"reason": str, "user_ids": map[string]any{"type": "array", "items": str}}),
	"BlockReport": obj([]string{"index", "keys"}, map[string]any{"index": integer, "type": str, "keys": map[string]any{"type": "array", "items": ref("KeyOutcome")},
		"reason": str, "notes": map[string]any{"type": "array", "items": str}}),
	"KeyReport": obj([]string{"blocks"}, map[string]any{"blocks": map[string]any{"type": "array", "items": ref("BlockReport")},
		"added": integer, "refreshed": integer, "unchanged": integer, "rejected": integer}),
	"Subkey": obj([]string{"fingerprint"}, map[string]any{"fingerprint": str, "key_id": str, "algorithm": str, "bits": integer, "curve": str,
		"created_at": datetime, "expires_at": optTime, "revoked_at": optTime, "can_sign": boolean}),
	"Key": obj([]string{"fingerprint", "algorithm"}, map[string]any{"fingerprint": str, "key_id": str, "algorithm": str, "bits": integer, "curve": str,
		"created_at": datetime, "expires_at": optTime, "revoked_at": optTime, "revocation_reason": str, "compromised": boolean,
		"user_ids": map[string]any{"type": "array", "items": str}, "emails": map[string]any{"type": "array", "items": str},
		"subkeys": map[string]any{"type": "array", "items": ref("Subkey")}, "armored": str, "owner": str, "proof": str, "proven_at": optTime,
		"uploaded_by": str, "uploaded_at": datetime, "updated_at": datetime, "deleted_at": optTime, "historic": boolean,
		"committees": map[string]any{"type": "array", "items": obj(nil, map[string]any{"committee": str, "fingerprint": str, "automation": boolean, "added_by": str, "added_at": datetime})}}),
	"KeyList":           list("keys", "Key"),
	"Challenge":         obj([]string{"challenge"}, map[string]any{"challenge": map[string]any{"type": "string", "description": "Sign exactly these bytes"}}),
	"KeyProof":          obj([]string{"signature"}, map[string]any{"signature": map[string]any{"type": "string", "description": "Armored detached signature of the challenge"}}),
	"KeysText":          obj(nil, map[string]any{"keys": str, "keys_data": map[string]any{"type": "string", "contentEncoding": "base64"}}),
	"ReleaseKeysImport": obj([]string{"path"}, map[string]any{"path": str, "revision": integer}),
	"CheckResult": obj([]string{"checker", "path", "status", "message"}, map[string]any{"checker": str, "checker_version": integer, "path": str, "inputs_hash": str,
		"status":  map[string]any{"type": "string", "enum": []any{"blocker", "concern", "suggestion", "note", "exception"}},
		"message": str, "details": map[string]any{"type": "object"}, "created_at": datetime, "reused": boolean}),
	"CheckRun": obj([]string{"state"}, map[string]any{"state": map[string]any{"type": "string", "enum": []any{"queued", "running", "done"}},
		"generation": integer, "queued_at": datetime, "started_at": optTime, "finished_at": optTime}),
	"ChecksReport": obj([]string{"revision", "run", "finished", "results"}, map[string]any{"revision": integer, "run": ref("CheckRun"), "finished": boolean,
		"results": map[string]any{"type": "array", "items": ref("CheckResult")}, "summary": map[string]any{"type": "object", "additionalProperties": integer}}),
	"Identity": obj([]string{"issuer"}, map[string]any{"id": integer, "project": str, "user": str, "issuer": str, "subject": str,
		"subject_regexp":    map[string]any{"type": "string", "description": "Anchored by trel: matches the whole subject"},
		"source_repository": str, "ref": str, "ref_regexp": str, "workflow": str, "runner_environment": str,
		"reusable_workflow_repository": str, "created_by": str, "created_at": datetime,
		"problem": map[string]any{"type": "string", "description": "Why a stored identity matches no signer under today's rules"}}),
	"IdentityList":     list("identities", "Identity"),
	"PersonalIdentity": obj([]string{"issuer"}, map[string]any{"issuer": str, "email": str}),
	"SigstoreKey": obj([]string{"name", "fingerprint"}, map[string]any{"id": integer, "project": str, "name": str, "fingerprint": str, "pem": str,
		"created_by": str, "created_at": datetime}),
	"SigstoreKeyList": list("keys", "SigstoreKey"),
	"NewSigstoreKey":  obj([]string{"name", "pem"}, map[string]any{"name": str, "pem": str}),
	"IgnoreRule":      obj([]string{"reason"}, map[string]any{"checker": str, "path": str, "message": str, "reason": str}),
	"UnsignedRule": obj([]string{"pattern", "reason"}, map[string]any{
		"pattern": map[string]any{"type": "string", "description": "Glob (path.Match); without '/' it matches the file name in any directory"},
		"reason":  str}),
	"Policy": obj([]string{"accept_openpgp", "accept_sigstore", "require", "signers"}, map[string]any{"version": integer,
		"accept_openpgp": boolean, "accept_sigstore": boolean, "accept_server_signed": boolean,
		"require":             map[string]any{"type": "string", "enum": []any{"any", "openpgp", "sigstore", "all"}},
		"signers":             map[string]any{"type": "string", "enum": []any{"participants", "release-managers"}},
		"checksum_algorithms": map[string]any{"type": "array", "items": str}, "source_patterns": map[string]any{"type": "array", "items": str},
		"binary_patterns": map[string]any{"type": "array", "items": str}, "min_rsa_bits": integer, "min_vote_hours": integer,
		"min_binding_plus_ones": integer, "ignore": map[string]any{"type": "array", "items": ref("IgnoreRule")},
		"unsigned": map[string]any{"type": "array", "items": ref("UnsignedRule"),
			"description": "Files that may be published without signatures and checksums; every other file that is not a signature, checksum, Sigstore bundle or SBOM needs them"},
		"archive": ref("ArchivePolicy"), "updated_by": str, "updated_at": datetime}),
	"ArchivePolicy": obj([]string{"license"}, map[string]any{"license": str,
		"allowed_licenses": map[string]any{"type": "array", "items": str}, "source_repo": str, "source_tag": str,
		"source_allow": map[string]any{"type": "array", "items": str}, "header_ignore": map[string]any{"type": "array", "items": str},
		"max_unpacked_size": integer, "max_members": integer, "max_ratio": integer}),
	"PolicyList":         list("policies", "Policy"),
	"ReleaseManager":     obj([]string{"username"}, map[string]any{"username": str}),
	"ReleaseManagerList": obj([]string{"managers"}, map[string]any{"managers": map[string]any{"type": "array", "items": str}}),
	"CancelVote":         obj([]string{"reason"}, map[string]any{"reason": map[string]any{"type": "string", "description": "Why; the voters read it in the audit log"}}),
	"RuleChange": obj(nil, map[string]any{"version": integer, "by": str, "at": datetime, "min_vote_hours_from": integer, "min_vote_hours_to": integer,
		"min_binding_plus_ones_from": integer, "min_binding_plus_ones_to": integer, "after_start": boolean}),
	"AckRequest": obj([]string{"checker", "path", "comment"}, map[string]any{"checker": str, "path": str, "comment": str}),
	"Ack":        obj(nil, map[string]any{"checker": str, "path": str, "inputs_hash": str, "user": str, "comment": str, "at": datetime}),
	"VoteRound": obj([]string{"round", "revision"}, map[string]any{"round": integer, "revision": integer, "started_by": str, "started_at": datetime,
		"min_hours": integer, "min_binding_plus_ones": integer, "policy_version": integer, "resolved_at": optTime, "resolved_by": str, "passed": boolean,
		"cancel_reason": map[string]any{"type": "string", "description": "Why a release manager cancelled the round"}}),
	"VoteRecord":  obj([]string{"round", "votes"}, map[string]any{"round": ref("VoteRound"), "votes": map[string]any{"type": "array", "items": ref("Vote")}}),
	"VoteHistory": list("rounds", "VoteRecord"),
	"Vote": obj([]string{"user", "value", "binding"}, map[string]any{"user": str, "value": integer, "binding": boolean, "comment": str, "cast_at": datetime,
		"discounted": map[string]any{"type": "string", "description": "Why a vote cast as binding no longer is"}}),
	"VoteRequest": obj([]string{"value"}, map[string]any{"value": map[string]any{"type": "integer", "enum": []any{-1, 0, 1}}, "comment": str}),
	"Tally": obj([]string{"round", "votes", "passing"}, map[string]any{"round": ref("VoteRound"), "votes": map[string]any{"type": "array", "items": ref("Vote")},
		"binding_plus": integer, "binding_zero": integer, "binding_minus": integer, "non_binding_plus": integer, "non_binding_zero": integer,
		"non_binding_minus": integer, "passing": boolean, "may_close": boolean, "closes_at": datetime,
		"rule_changes": map[string]any{"type": "array", "items": ref("RuleChange")}}),
	"Manifest": obj([]string{"project", "version", "files"}, map[string]any{"committee": str, "project": str, "version": str, "revision": integer,
		"published_at": datetime, "published_by": str, "policy_version": integer, "checks_policy_version": integer,
		"vote_rules": obj(nil, map[string]any{"min_vote_hours": integer, "min_binding_plus_ones": integer}), "vote": ref("Tally"), "log_index": integer,
		"files": map[string]any{"type": "array", "items": obj(nil, map[string]any{"path": str, "size": integer, "sha512": str,
			"signers": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}})}}),
	"ServerKey": obj([]string{"fingerprint", "algorithm"}, map[string]any{"fingerprint": str, "owner": str, "algorithm": str, "created_at": datetime,
		"expires_at": datetime, "revoked_at": optTime, "retired_at": optTime, "failed_attempts": integer, "locked_until": optTime}),
	"ServerKeyList":   list("keys", "ServerKey"),
	"NewServerKey":    obj([]string{"password"}, map[string]any{"password": str, "algorithm": map[string]any{"type": "string", "enum": []any{"eddsa", "rsa4096"}}, "expiry_days": integer, "committees": map[string]any{"type": "array", "items": str}}),
	"PasswordChange":  obj([]string{"old_password", "new_password"}, map[string]any{"old_password": str, "new_password": str}),
	"RevokeServerKey": obj([]string{"password"}, map[string]any{"password": str, "reason": map[string]any{"type": "string", "enum": []any{"retired", "superseded", "compromised"}}}),
	"SignedFile":      obj([]string{"path", "sha512"}, map[string]any{"path": str, "sha512": str, "signature_sha256": str, "log_index": integer}),
	"SigningEvent": obj([]string{"id", "outcome"}, map[string]any{"id": integer, "time": datetime, "user": str, "client_ip": str, "request_id": integer,
		"fingerprint": str, "credential_id": str, "aaguid": str, "flags": integer, "sign_count": integer, "assertion": str, "transaction": str,
		"files": map[string]any{"type": "array", "items": ref("SignedFile")}, "outcome": str}),
	"SigningEventList": list("events", "SigningEvent"),
	"SignRequest": obj([]string{"project", "version", "key"}, map[string]any{"project": str, "version": str, "key": str, "paths": map[string]any{"type": "array", "items": str},
		"kind": map[string]any{"type": "string", "enum": []any{"openpgp", "sigstore"}, "description": "openpgp (default): .asc signatures; sigstore: key-based .sigstore.json bundles"}}),
	"HeldSigstoreKey": obj([]string{"fingerprint", "public_key", "key_id"}, map[string]any{"fingerprint": str, "owner": str, "public_key": str, "key_id": str,
		"created_at": datetime, "revoked_at": optTime, "retired_at": optTime}),
	"HeldSigstoreKeyList": list("keys", "HeldSigstoreKey"),
	"SignPlan": obj([]string{"request_id", "ceremony", "public_key"}, map[string]any{"plan": map[string]any{"type": "object"}, "ceremony": str,
		"public_key": map[string]any{"type": "object", "description": "WebAuthn PublicKeyCredentialRequestOptions (JSON)"}, "request_id": integer,
		"expires_at": datetime, "transaction": map[string]any{"type": "object"}}),
	"SignCompletion": obj([]string{"ceremony", "assertion", "password"}, map[string]any{"ceremony": str,
		"assertion": map[string]any{"type": "object", "description": "PublicKeyCredential.toJSON()"}, "password": str}),
	"SigningResult": obj([]string{"revision", "files"}, map[string]any{"revision": ref("Revision"), "files": map[string]any{"type": "array", "items": ref("SignedFile")}}),
	"Enrollment": obj([]string{"link", "expires_at"}, map[string]any{"link": map[string]any{"type": "string", "description": "One-time link, valid 24 hours; consumed on first use"}, "expires_at": datetime,
		"existing_passkeys": map[string]any{"type": "integer", "description": "Passkeys the user already had: more than 0 is a re-enrollment, audited and notified to the user"}}),
	"RevisionResult": obj([]string{"revision", "created"}, map[string]any{"revision": ref("Revision"), "created": boolean}),
}
