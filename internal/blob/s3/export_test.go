package s3

import (
	"context"
	"strings"
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
