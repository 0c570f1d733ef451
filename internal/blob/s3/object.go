package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Object reads one object as an io.ReadSeekCloser: Seek only moves the
// offset, and the next Read starts a GET of the range from there, so a
// seek to the end (http.ServeContent asks the size that way) reads nothing.
type Object struct {
	s       *Store
	ctx     context.Context
	key     string
	size    int64
	modTime time.Time
	off     int64
	body    io.ReadCloser // open GET from bodyOff, if any
	bodyOff int64
}

// OpenKey opens the object under key (relative to the bucket, prefix
// included).
func (s *Store) OpenKey(ctx context.Context, key string) (*Object, error) {
	head, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	return &Object{s: s, ctx: ctx, key: key, size: aws.ToInt64(head.ContentLength), modTime: aws.ToTime(head.LastModified)}, nil
}

// Size is the object's length in bytes.
func (o *Object) Size() int64 { return o.size }

// ModTime is when the object was written.
func (o *Object) ModTime() time.Time { return o.modTime }

// Read implements io.Reader.
func (o *Object) Read(p []byte) (int, error) {
	if o.off >= o.size {
		return 0, io.EOF
	}
	if o.body != nil && o.bodyOff != o.off {
		o.body.Close()
		o.body = nil
	}
	if o.body == nil {
		out, err := o.s.client.GetObject(o.ctx, &awss3.GetObjectInput{Bucket: aws.String(o.s.bucket), Key: aws.String(o.key),
			Range: aws.String(fmt.Sprintf("bytes=%d-", o.off))})
		if err != nil {
			return 0, fmt.Errorf("reading %s: %w", o.key, err)
		}
		o.body, o.bodyOff = out.Body, o.off
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	o.bodyOff += int64(n)
	if err == io.EOF && o.off < o.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Seek implements io.Seeker.
func (o *Object) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.off + offset
	case io.SeekEnd:
		abs = o.size + offset
	default:
		return 0, errors.New("s3: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("s3: negative position")
	}
	o.off = abs
	return abs, nil
}

// Close implements io.Closer.
func (o *Object) Close() error {
	if o.body != nil {
		err := o.body.Close()
		o.body = nil
		return err
	}
	return nil
}
