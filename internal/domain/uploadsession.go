package domain

import "time"

// Upload session states.
const (
	SessionOpen       = "open"       // accepting chunks
	SessionCompleting = "completing" // one complete request is finishing it
	SessionCompleted  = "completed"  // its content is stored (and its revision made, when asked)
)

// UploadSession is a resumable upload: one file of a declared size sent
// in chunks, each at the offset the server has received so far, over as
// many requests (and replicas) as it takes, then completed as one upload.
type UploadSession struct {
	ID         string `json:"id"`
	UserID     int64  `json:"-"`
	Username   string `json:"uploader,omitempty"`
	ReleaseID  int64  `json:"-"`
	ProjectKey string `json:"project"`
	Version    string `json:"version"`
	// Path is where the file goes in the release.
	Path string `json:"path"`
	// Size is the file's declared size: exactly this many bytes complete it.
	Size int64 `json:"size"`
	// ChunkSize is the length of every chunk but the last.
	ChunkSize int64 `json:"chunk_size"`
	// ExpectSHA512, when set, must be the content's SHA-512 at completion.
	ExpectSHA512   string `json:"expect_sha512,omitempty"`
	ExpectRevision *int   `json:"expect_revision,omitempty"`
	// Received is the offset of the next chunk: the bytes stored so far.
	Received int64  `json:"received"`
	State    string `json:"state"`
	// SHA256 and Revision are set once completed.
	SHA256   string `json:"sha256,omitempty"`
	Revision *int   `json:"revision,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at"`

	// What the server keeps to continue the upload, never shown.
	StagingKey string       `json:"-"` // where the blob store keeps the parts
	NextPart   int          `json:"-"` // the number of the next attempt's part
	Parts      []StagedPart `json:"-"` // the accepted parts, in order
	HashState  []byte       `json:"-"` // SHA-256 and SHA-512 states after Received bytes
	ScanState  []byte       `json:"-"` // the secret scanner's state after Received bytes
}

// StagedPart is one accepted part of a staged upload in the blob store.
type StagedPart struct {
	Number int    `json:"n"`
	ETag   string `json:"etag,omitempty"`
	Size   int64  `json:"size"`
}
