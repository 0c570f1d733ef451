package domain

import "time"

// Session is a signed-in browser as administrators and the user see it;
// its secret never leaves the browser.
type Session struct {
	ID         int64     `json:"id"`
	UserID     int64     `json:"user_id"`
	Username   string    `json:"username"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ClientIP   string    `json:"client_ip"`
	UserAgent  string    `json:"user_agent"`
	// PasskeyID is the passkey that opened the session (0 when unknown:
	// sessions older than this record).
	PasskeyID int64  `json:"passkey_id,omitempty"`
	Passkey   string `json:"passkey,omitempty"`
}

// Notice is a message for one user, shown on their pages until they
// dismiss it (e.g. "an administrator created an enrollment link for you").
type Notice struct {
	ID      int64  `json:"id"`
	UserID  int64  `json:"user_id"`
	Message string `json:"message"`
	// Kind is NoticeAccount for what was done to the account (shown on
	// every page until dismissed) or one of the other Notice* kinds
	// (behind the bell); Link is the page it is about.
	Kind        string     `json:"kind"`
	Link        string     `json:"link,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	DismissedAt *time.Time `json:"dismissed_at,omitempty"`
}
