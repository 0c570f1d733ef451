package s3

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// RemoveTree deletes every object under folder dir (ending with "/") of
// the bucket folder, first the one named first (a release's manifest, so
// that the release stops being served before its files go).
func (b *Bucket) RemoveTree(ctx context.Context, dir, first string) error {
	del := func(key string) error {
		_, err := b.s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(b.s.bucket), Key: aws.String(key)})
		if isNotFound(err) {
			return nil
		}
		return err
	}
	if first != "" {
		if err := del(b.prefix + dir + first); err != nil {
			return err
		}
	}
	return b.s.walk(ctx, b.prefix+dir, func(o types.Object) error {
		return del(aws.ToString(o.Key))
	})
}
