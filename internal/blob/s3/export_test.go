package s3

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CleanBefore is Clean with another cutoff than a day ago.
func (s *Store) CleanBefore(ctx context.Context, cutoff time.Time) error { return s.clean(ctx, cutoff) }

// Keys lists the keys under dir (relative to the prefix), with their sizes.
func (s *Store) Keys(ctx context.Context, dir string) (map[string]int64, error) {
	keys := map[string]int64{}
	err := s.walk(ctx, s.prefix+dir, func(o types.Object) error {
		keys[strings.TrimPrefix(aws.ToString(o.Key), s.prefix)] = aws.ToInt64(o.Size)
		return nil
	})
	return keys, err
}

// PutRaw writes an object at key (relative to the prefix), as a replica
// that died half-way would have left it.
func (s *Store) PutRaw(ctx context.Context, key string, data string) error {
	_, err := s.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key),
		Body: strings.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	return err
}

// SendParts sends size bytes of buf, repeated, as a multipart upload in
// parts of PartSize, partsInFlight at a time, without hashing anything:
// what the S3 server alone costs an upload. It returns when the upload is
// complete, and removes it.
func (s *Store) SendParts(ctx context.Context, buf []byte, size int64) error {
	key := s.dataKey(randomID())
	out, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	sem := make(chan struct{}, partsInFlight)
	errs := make(chan error, size/PartSize+1)
	for off, n := int64(0), int32(1); off < size; off, n = off+PartSize, n+1 {
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n)})
		sem <- struct{}{}
		go func(n int32, length int64) {
			defer func() { <-sem }()
			p, err := s.client.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: out.UploadId,
				PartNumber: aws.Int32(n), Body: bytes.NewReader(buf[:length]), ContentLength: aws.Int64(length)}, unsignedPayload)
			if err == nil {
				parts[n-1].ETag = p.ETag
			}
			errs <- err
		}(n, min(PartSize, size-off))
	}
	for range parts {
		if err := <-errs; err != nil {
			return err
		}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		UploadId: out.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return err
	}
	return s.deleteKey(ctx, key)
}

// CountRequests makes the store count the HTTP requests it sends from now
// on.
func (s *Store) CountRequests() *atomic.Int64 {
	n := &atomic.Int64{}
	s.client = awss3.New(s.client.Options(), func(o *awss3.Options) { o.HTTPClient = countingClient{o.HTTPClient, n} })
	return n
}

type countingClient struct {
	next awss3.HTTPClient
	n    *atomic.Int64
}

func (c countingClient) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.Do(r)
}
