// Package s3 stores artifact blobs in an S3-compatible object store (AWS
// S3, versitygw, Ceph, ...), beside the local-disk store of package blob,
// passing the same shared suite (blobtest).
//
// An upload streams through blob.HashCopy (SHA-256 and SHA-512 in the same
// single pass) into a multipart upload under data/<random>, several parts
// in flight; only when it is complete and its SHA-256 known does
// objects/<sha256> appear, an empty pointer to it (see layout.go): the
// bytes are never copied. Uploads that fit in one part skip the multipart
// upload and are written once, directly under objects/<sha256>. A failed
// upload is aborted; multipart uploads and data older than a day that no
// pointer names (a replica that died) are removed by Clean.
//
// Objects are read with ranged GETs, so HTTP Range requests and seeks cost
// nothing more than the bytes served.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"trel/internal/blob"
	"trel/internal/domain"
)

const (
	// PartSize is the size of one multipart part; uploads up to this size
	// are written with one PUT.
	PartSize = 16 << 20
	// partsInFlight bounds the parts being sent at once (memory: about
	// (partsInFlight+1) * PartSize per upload).
	partsInFlight = 3
	// freeBuffers is how many part buffers the store keeps for the next
	// uploads (two uploads' worth).
	freeBuffers = 2 * (partsInFlight + 1)
	// maxCopySize is the largest object one CopyObject may copy; larger
	// ones are copied part by part (UploadPartCopy).
	maxCopySize = 5 << 30
	// copyPartSize is the part size of a multipart copy.
	copyPartSize = 1 << 30
	// staleAfter is when Clean considers an upload abandoned.
	staleAfter = blob.StagedLifetime
)

// Store is a blob.Store in an S3 bucket, under an optional key prefix.
type Store struct {
	client *awss3.Client
	bucket string
	prefix string // "" or ends with "/"
	// bufs is a free list of part buffers, reused from upload to upload
	// (no garbage to collect: a pool the GC may empty would make the
	// heap, hence the RSS, swing by whole parts).
	bufs chan *[]byte
}

var _ blob.Store = (*Store)(nil)

// Config is what an s3:// URL says.
type Config struct {
	Bucket   string
	Prefix   string
	Endpoint string // empty: AWS
	Region   string
	// PathStyle addresses the bucket in the path (needed by most
	// S3-compatible servers; the default when an endpoint is given).
	PathStyle bool
}

// ParseURL reads s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT&region=R
// [&path_style=false]. Credentials never go in the URL: they come from the
// standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the other standard
// AWS sources: shared config files, instance roles).
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return Config{}, fmt.Errorf("--blobs %q: use s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT&region=REGION", raw)
	}
	if u.User != nil {
		return Config{}, errors.New("--blobs: put no credentials in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	q := u.Query()
	c := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Endpoint: q.Get("endpoint"), Region: q.Get("region")}
	if c.Prefix != "" {
		c.Prefix += "/"
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	c.PathStyle = c.Endpoint != ""
	if v := q.Get("path_style"); v != "" {
		c.PathStyle = v == "true" || v == "1"
	}
	if c.Endpoint != "" {
		e, err := url.Parse(c.Endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return Config{}, fmt.Errorf("--blobs: endpoint %q must be an http:// or https:// URL", c.Endpoint)
		}
	}
	return c, nil
}

// Open connects to the bucket that rawURL names and checks that it can be
// reached.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	c, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	client, err := NewClient(ctx, c)
	if err != nil {
		return nil, err
	}
	s := New(client, c.Bucket, c.Prefix)
	if err := s.Ping(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// NewClient builds an S3 client for c with the standard AWS credential
// sources.
func NewClient(ctx context.Context, c Config) (*awss3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(c.Region))
	if err != nil {
		return nil, fmt.Errorf("S3 configuration: %w", err)
	}
	// Connections for several parts in flight per upload, and downloads;
	// 64 KiB buffers (each connection has two) make large writes cheap.
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
	}}
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		// The SDK would otherwise compute a CRC32 of every body: trel
		// already hashes each byte twice (SHA-256, SHA-512).
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		// No "Expect: 100-continue" on parts: a round trip per part, and
		// servers that answer without "100 Continue" cost the connection.
		o.ContinueHeaderThresholdBytes = -1
	}), nil
}

// New wraps a client: objects go under prefix (which ends with "/" or is
// empty) in bucket.
func New(client *awss3.Client, bucket, prefix string) *Store {
	return &Store{client: client, bucket: bucket, prefix: prefix, bufs: make(chan *[]byte, freeBuffers)}
}

// Ping checks that the bucket is reachable with the credentials given.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		return fmt.Errorf("S3 bucket %q is not reachable: %w", s.bucket, err)
	}
	return nil
}

// Describe names the bucket and prefix (for logs and /healthz).
func (s *Store) Describe() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *Store) objectKey(sha string) (string, error) {
	if err := blob.CheckDigest(sha); err != nil {
		return "", err
	}
	return s.prefix + "objects/" + sha, nil
}

// unsignedPayload sends bodies without a SHA-256 in their signature: trel
// has just hashed every byte itself (and TLS protects them on the way).
var unsignedPayload = awss3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, r io.Reader, max int64) (domain.Blob, error) {
	up := &upload{s: s, ctx: ctx}
	b, err := blob.HashCopy(up, blob.ContextReader(ctx, r), max)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		up.abort()
		switch {
		case blob.IsTooLarge(err):
			return domain.Blob{}, domain.Errorf(domain.KindTooLarge, "the file is larger than the limit of %d bytes: ask an administrator to raise --max-file-size", max)
		case up.failed() != nil:
			return domain.Blob{}, domain.Internal("storing the upload in S3", err)
		default:
			return domain.Blob{}, &domain.Error{Kind: domain.KindInvalid, Message: "the upload was interrupted before it completed; nothing was stored, try again", Err: err}
		}
	}
	if err := up.finish(b.SHA256, b.Size); err != nil {
		up.abort()
		return domain.Blob{}, domain.Internal("storing the upload in S3", err)
	}
	return b, nil
}

// getBuf takes a part buffer from the free list, or makes one.
func (s *Store) getBuf() *[]byte {
	select {
	case b := <-s.bufs:
		return b
	default:
		b := make([]byte, PartSize)
		return &b
	}
}

// putBuf returns a part buffer to the free list (dropping it when the list
// is full).
func (s *Store) putBuf(b *[]byte) {
	select {
	case s.bufs <- b:
	default:
	}
}

// upload is the io.Writer HashCopy writes to: it fills part-sized
// buffers and sends each full one as a part while the next fills.
type upload struct {
	s   *Store
	ctx context.Context

	buf *[]byte // the part being filled
	n   int     // bytes in buf

	id       string // data/<id>, once the multipart upload exists
	uploadID string
	parts    []types.CompletedPart
	inFlight sync.WaitGroup
	sem      chan struct{}

	mu  sync.Mutex
	err error
}

func (u *upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *upload) fail(err error) {
	u.mu.Lock()
	if u.err == nil {
		u.err = err
	}
	u.mu.Unlock()
}

func (u *upload) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if err := u.failed(); err != nil {
			return written, err
		}
		if u.buf == nil {
			u.buf = u.s.getBuf()
			u.n = 0
		}
		c := copy((*u.buf)[u.n:], p)
		u.n += c
		written += c
		p = p[c:]
		if u.n == PartSize {
			if err := u.sendPart(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// sendPart starts sending the full buffer as the next part, waiting while
// partsInFlight parts are already on their way.
func (u *upload) sendPart() error {
	if u.uploadID == "" {
		u.id = randomID()
		out, err := u.s.client.CreateMultipartUpload(u.ctx, &awss3.CreateMultipartUploadInput{
			Bucket: aws.String(u.s.bucket), Key: aws.String(u.s.dataKey(u.id))})
		if err != nil {
			u.fail(err)
			return err
		}
		u.uploadID = aws.ToString(out.UploadId)
		u.sem = make(chan struct{}, partsInFlight)
	}
	buf, n := u.buf, u.n
	u.buf, u.n = nil, 0
	number := int32(len(u.parts) + 1)
	u.parts = append(u.parts, types.CompletedPart{PartNumber: aws.Int32(number)})
	u.sem <- struct{}{}
	u.inFlight.Add(1)
	go func() {
		defer u.inFlight.Done()
		defer func() { <-u.sem }()
		defer u.s.putBuf(buf)
		out, err := u.s.client.UploadPart(u.ctx, &awss3.UploadPartInput{
			Bucket: aws.String(u.s.bucket), Key: aws.String(u.s.dataKey(u.id)), UploadId: aws.String(u.uploadID),
			PartNumber: aws.Int32(number), Body: bytes.NewReader((*buf)[:n]), ContentLength: aws.Int64(int64(n))}, unsignedPayload)
		if err != nil {
			u.fail(fmt.Errorf("sending part %d: %w", number, err))
			return
		}
		u.mu.Lock()
		u.parts[number-1].ETag = out.ETag
		u.mu.Unlock()
	}()
	return nil
}

// finish makes the content visible under objects/<sha>: small content is
// written there at once; a multipart upload is completed under data/<id>
// and objects/<sha> becomes a pointer to it (no copy).
func (u *upload) finish(sha string, size int64) error {
	final, _ := u.s.objectKey(sha)
	if u.uploadID == "" {
		// One part or less: write it once, under its name.
		var body []byte
		if u.buf != nil {
			body = (*u.buf)[:u.n]
		}
		_, err := u.s.client.PutObject(u.ctx, &awss3.PutObjectInput{Bucket: aws.String(u.s.bucket), Key: aws.String(final),
			Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}, unsignedPayload)
		u.release()
		return err
	}
	if u.n > 0 {
		if err := u.sendPart(); err != nil {
			return err
		}
	}
	u.inFlight.Wait()
	if err := u.failed(); err != nil {
		return err
	}
	_, err := u.s.client.CompleteMultipartUpload(u.ctx, &awss3.CompleteMultipartUploadInput{
		Bucket: aws.String(u.s.bucket), Key: aws.String(u.s.dataKey(u.id)), UploadId: aws.String(u.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts}})
	if err != nil {
		return fmt.Errorf("completing the upload: %w", err)
	}
	u.uploadID = "" // complete: nothing to abort; abort removes the data
	return u.s.link(u.ctx, sha, u.id, size)
}

func (u *upload) release() {
	if u.buf != nil {
		u.s.putBuf(u.buf)
		u.buf = nil
	}
}

// abort gives up the upload (with a context of its own: the request's
// may be what was cancelled): the multipart upload, or the completed data
// that no pointer names.
func (u *upload) abort() {
	u.inFlight.Wait()
	u.release()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx), 30*time.Second)
	defer cancel()
	switch {
	case u.uploadID != "":
		u.s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
			Bucket: aws.String(u.s.bucket), Key: aws.String(u.s.dataKey(u.id)), UploadId: aws.String(u.uploadID)})
		u.uploadID = ""
	case u.id != "":
		u.s.deleteKey(ctx, u.s.dataKey(u.id))
	}
}

// copyObject copies src to dst inside the bucket, server-side.
func (s *Store) copyObject(ctx context.Context, src, dst string) error {
	head, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(src)})
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	size := aws.ToInt64(head.ContentLength)
	source := s.bucket + "/" + url.PathEscape(src)
	if size <= maxCopySize {
		_, err := s.client.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(dst), CopySource: aws.String(source)})
		return err
	}
	out, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(dst)})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; off, n = off+copyPartSize, n+1 {
		end := min(off+copyPartSize, size) - 1
		p, err := s.client.UploadPartCopy(ctx, &awss3.UploadPartCopyInput{Bucket: aws.String(s.bucket), Key: aws.String(dst),
			UploadId: out.UploadId, PartNumber: aws.Int32(n), CopySource: aws.String(source),
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end))})
		if err != nil {
			s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &awss3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(dst), UploadId: out.UploadId})
			return err
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: p.CopyPartResult.ETag})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(dst),
		UploadId: out.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// walk calls fn for every object under prefix.
func (s *Store) walk(ctx context.Context, prefix string, fn func(types.Object) error) error {
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// PendingUploads counts the multipart uploads in progress (tests prove
// that failed uploads abort theirs).
func (s *Store) PendingUploads(ctx context.Context) (int, error) {
	out, err := s.client.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + "data/")})
	if err != nil {
		return 0, err
	}
	return len(out.Uploads), nil
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nf *types.NotFound
	var nk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nk) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey")
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
