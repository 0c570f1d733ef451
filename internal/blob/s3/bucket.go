package s3

import (
	"bytes"
	"context"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"trel/internal/domain"
)

// Bucket is a folder of named objects beside the blobs (the published
// downloads tree lives in one): keys are relative to it.
type Bucket struct {
	s      *Store
	prefix string
}

// Bucket returns the folder name/ of the store (beside objects/ and
// uploads/).
func (s *Store) Bucket(name string) *Bucket {
	return &Bucket{s: s, prefix: s.prefix + strings.Trim(name, "/") + "/"}
}

// PutBytes writes a small object.
func (b *Bucket) PutBytes(ctx context.Context, key string, data []byte) error {
	_, err := b.s.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(b.s.bucket), Key: aws.String(b.prefix + key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}, unsignedPayload)
	return err
}

// PutFile writes an object of the given size from r (streamed).
func (b *Bucket) PutFile(ctx context.Context, key string, r io.ReadSeeker, size int64) error {
	_, err := b.s.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(b.s.bucket), Key: aws.String(b.prefix + key),
		Body: r, ContentLength: aws.Int64(size)}, unsignedPayload)
	return err
}

// ReadObject is an open object with its modification time.
type ReadObject interface {
	io.ReadSeekCloser
	ModTime() time.Time
}

// OpenKey opens the object at key; a missing one is a KindNotFound error.
func (b *Bucket) OpenKey(ctx context.Context, key string) (ReadObject, error) {
	o, err := b.s.OpenKey(ctx, b.prefix+key)
	if isNotFound(err) {
		return nil, domain.Errorf(domain.KindNotFound, "%s does not exist", key)
	}
	return o, err
}

// List returns the sub-folders and objects directly in folder dir ("" or
// ending with "/").
func (b *Bucket) List(ctx context.Context, dir string) (dirs, files []string, err error) {
	p := awss3.NewListObjectsV2Paginator(b.s.client, &awss3.ListObjectsV2Input{Bucket: aws.String(b.s.bucket),
		Prefix: aws.String(b.prefix + dir), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, cp := range page.CommonPrefixes {
			dirs = append(dirs, strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), b.prefix+dir), "/"))
		}
		for _, o := range page.Contents {
			files = append(files, strings.TrimPrefix(aws.ToString(o.Key), b.prefix+dir))
		}
	}
	return dirs, files, nil
}

// Walk calls fn with the key (relative to the folder) of every object in it.
func (b *Bucket) Walk(ctx context.Context, fn func(key string) error) error {
	return b.s.walk(ctx, b.prefix, func(o types.Object) error { return fn(strings.TrimPrefix(aws.ToString(o.Key), b.prefix)) })
}
