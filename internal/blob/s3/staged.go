package s3

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"trel/internal/blob"
	"trel/internal/domain"
)

// Staged content (resumable uploads) is an S3 multipart upload under
// data/<id>, one part per accepted chunk, streamed to S3 as it arrives
// (no part buffer). Each attempt uploads its own part number, so an
// attempt that failed or lost a race never replaces an accepted part; the
// completion lists only the accepted ones (S3 drops the others). The
// completed data becomes the blob through a pointer, as for a Put: no
// copy. The key is "<id>.<upload id>". Clean aborts multipart uploads
// older than a day, which is also how long a session lives.

func (s *Store) stagedKey(key string) (id, uploadID string, err error) {
	id, uploadID, ok := strings.Cut(key, ".")
	if _, herr := hex.DecodeString(id); !ok || len(id) != 32 || herr != nil || uploadID == "" {
		return "", "", domain.Errorf(domain.KindInvalid, "invalid staging key")
	}
	return id, uploadID, nil
}

// StartStaged implements blob.Store.
func (s *Store) StartStaged(ctx context.Context) (string, error) {
	id := randomID()
	out, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.dataKey(id))})
	if err != nil {
		return "", domain.Internal("preparing a staged upload in S3", err)
	}
	return id + "." + aws.ToString(out.UploadId), nil
}

// PutPart implements blob.Store. S3 requires every part but the last to
// hold at least 5 MiB; the caller's chunk size sees to it.
func (s *Store) PutPart(ctx context.Context, key string, n int, offset int64, r io.Reader, size int64) (domain.StagedPart, error) {
	id, uploadID, err := s.stagedKey(key)
	if err != nil {
		return domain.StagedPart{}, err
	}
	if n < 1 || n > 10000 {
		return domain.StagedPart{}, domain.Errorf(domain.KindConflict, "this upload was retried too often (part %d; S3 allows 10,000): abort it and start again", n)
	}
	body := &exactReader{r: blob.ContextReader(ctx, r), left: size}
	// The body streams from the request: it cannot be sent twice, so the
	// client must not retry (the caller's client does, at the same offset).
	out, err := s.client.UploadPart(ctx, &awss3.UploadPartInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.dataKey(id)), UploadId: aws.String(uploadID),
		PartNumber: aws.Int32(int32(n)), Body: body, ContentLength: aws.Int64(size)}, unsignedPayload, noRetry)
	if body.err != nil {
		return domain.StagedPart{}, &domain.Error{Kind: domain.KindInvalid, Message: "the chunk was interrupted before it completed; send it again at the same offset", Err: body.err}
	}
	if err != nil && !isNoSuchUpload(err) {
		// A server that refuses the part may answer before reading it and
		// close the connection: the error is then the connection's. Ask
		// whether the upload is still there.
		_, perr := s.client.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String(s.bucket), Key: aws.String(s.dataKey(id)),
			UploadId: aws.String(uploadID), MaxParts: aws.Int32(1)})
		if isNoSuchUpload(perr) {
			err = perr
		}
	}
	if isNoSuchUpload(err) {
		return domain.StagedPart{}, domain.Errorf(domain.KindNotFound, "the staged upload is gone (aborted or expired)")
	}
	if err != nil {
		return domain.StagedPart{}, domain.Internal("storing a part in S3", err)
	}
	if body.left != 0 {
		return domain.StagedPart{}, domain.Errorf(domain.KindInvalid, "the chunk held fewer bytes than announced; send it again at the same offset")
	}
	return domain.StagedPart{Number: n, ETag: aws.ToString(out.ETag), Size: size}, nil
}

// noRetry sends a request once.
var noRetry = func(o *awss3.Options) { o.RetryMaxAttempts = 1 }

// exactReader passes on exactly left bytes and remembers why its source
// failed (the client went away), which the S3 client would otherwise
// report as its own request failing.
type exactReader struct {
	r    io.Reader
	left int64
	err  error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// FinishStaged implements blob.Store.
func (s *Store) FinishStaged(ctx context.Context, key string, parts []domain.StagedPart, b domain.Blob) error {
	id, uploadID, err := s.stagedKey(key)
	if err != nil {
		return err
	}
	var total int64
	completed := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		total += p.Size
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag)}
	}
	if total != b.Size || !sort.SliceIsSorted(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number }) {
		return domain.Internal("finishing a staged upload", fmt.Errorf("parts hold %d bytes, the content %d", total, b.Size))
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.dataKey(id)), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed}})
	if err != nil && !isNoSuchUpload(err) {
		return domain.Internal("completing a staged upload in S3", err)
	}
	if err != nil {
		// Completed already (a completion that died before recording it)?
		if ok, herr := s.exists(ctx, s.dataKey(id)); herr != nil || !ok {
			return domain.Internal("completing a staged upload in S3", err)
		}
	}
	if err := s.link(ctx, b.SHA256, id, b.Size); err != nil {
		return domain.Internal("storing a staged upload in S3", err)
	}
	return nil
}

// AbortStaged implements blob.Store.
func (s *Store) AbortStaged(ctx context.Context, key string) error {
	id, uploadID, err := s.stagedKey(key)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err = s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.dataKey(id)), UploadId: aws.String(uploadID)})
	if err != nil && !isNoSuchUpload(err) {
		return domain.Internal("aborting a staged upload in S3", err)
	}
	return nil
}

func isNoSuchUpload(err error) bool {
	if err == nil {
		return false
	}
	var nu *types.NoSuchUpload
	var ae smithy.APIError
	return errors.As(err, &nu) || (errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload")
}
