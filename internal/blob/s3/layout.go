package s3

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"trel/internal/blob"
	"trel/internal/domain"
)

// The bucket's layout under the prefix:
//
//	objects/<sha256>        content that fitted in one part, written once;
//	                        or, for a multipart upload, an empty pointer
//	                        whose metadata names its data and size
//	objects/<sha256>.<id>   an empty marker: data/<id> holds that content
//	                        (so that Clean finds data no pointer names by
//	                        listing, without reading every pointer)
//	data/<id>               the content of a multipart upload, completed
//	                        where it was uploaded: never copied
//	downloads/              the published tree (Bucket)
//	uploads/                staging objects of older trel versions (Clean)
//
// A pointer is read with the GET that opens a blob (Open), so a large blob
// costs no extra round trip and a small one is a single request.
const (
	metaData = "trel-data" // pointer metadata: the id of data/<id>
	metaSize = "trel-size" // pointer metadata: the content's size
)

func (s *Store) dataKey(id string) string { return s.prefix + "data/" + id }

func (s *Store) markerKey(sha, id string) string { return s.prefix + "objects/" + sha + "." + id }

// location is where a blob's bytes are.
type location struct {
	key     string // the object holding the bytes
	size    int64
	written time.Time // when objects/<sha> was last written
	dataID  string    // "" unless the bytes are in data/<id>
}

// locate reads objects/<sha>; a missing blob is an error isNotFound knows.
func (s *Store) locate(ctx context.Context, sha string) (location, error) {
	key, err := s.objectKey(sha)
	if err != nil {
		return location{}, err
	}
	head, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return location{}, err
	}
	loc := location{key: key, size: aws.ToInt64(head.ContentLength), written: aws.ToTime(head.LastModified)}
	if id := head.Metadata[metaData]; id != "" {
		loc.key, loc.dataID = s.dataKey(id), id
		if loc.size, err = strconv.ParseInt(head.Metadata[metaSize], 10, 64); err != nil {
			return location{}, domain.Internal("reading a blob pointer", err)
		}
	}
	return loc, nil
}

// link makes objects/<sha> point to data/<id>, which holds size bytes.
// When the content is already stored (its data still there), the
// existing pointer is written again instead (its time is this upload's, so
// that a storage sweep racing with the upload keeps it) and data/<id> is
// removed.
func (s *Store) link(ctx context.Context, sha, id string, size int64) error {
	loc, err := s.locate(ctx, sha)
	switch {
	case err == nil && loc.dataID != "":
		if ok, err := s.exists(ctx, loc.key); err != nil {
			return err
		} else if ok {
			if err := s.putPointer(ctx, sha, loc.dataID, size); err != nil {
				return err
			}
			s.deleteKey(ctx, s.dataKey(id))
			return nil
		}
	case err != nil && !isNotFound(err):
		return err
	}
	// The marker first: a pointer never names unmarked data, which Clean
	// would take for abandoned.
	if _, err := s.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.markerKey(sha, id)),
		Body: strings.NewReader(""), ContentLength: aws.Int64(0)}); err != nil {
		return err
	}
	if err := s.putPointer(ctx, sha, id, size); err != nil {
		s.deleteKey(context.WithoutCancel(ctx), s.markerKey(sha, id))
		return err
	}
	return nil
}

func (s *Store) putPointer(ctx context.Context, sha, id string, size int64) error {
	key, _ := s.objectKey(sha)
	_, err := s.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		Body: strings.NewReader(""), ContentLength: aws.Int64(0),
		Metadata: map[string]string{metaData: id, metaSize: strconv.FormatInt(size, 10)}})
	return err
}

func (s *Store) deleteKey(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	return err
}

func (s *Store) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Open implements blob.Store. It reads objects/<sha> with one GET, not a
// HEAD then a GET: content that fitted in one part is then already
// flowing when the caller reads from the start (a small download costs
// one request), and a pointer's metadata names where the bytes are.
func (s *Store) Open(ctx context.Context, sha string) (io.ReadSeekCloser, error) {
	if err := blob.CheckDigest(sha); err != nil {
		return nil, err
	}
	key, err := s.objectKey(sha)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return nil, domain.Errorf(domain.KindNotFound, "blob %s is not stored", sha)
	}
	if err != nil {
		return nil, domain.Internal("opening blob", err)
	}
	o := &Object{s: s, ctx: ctx, key: key, size: aws.ToInt64(out.ContentLength), modTime: aws.ToTime(out.LastModified)}
	if id := out.Metadata[metaData]; id != "" {
		out.Body.Close() // an empty pointer
		if o.size, err = strconv.ParseInt(out.Metadata[metaSize], 10, 64); err != nil {
			return nil, domain.Internal("reading a blob pointer", err)
		}
		o.key = s.dataKey(id)
		return o, nil
	}
	o.body = out.Body
	return o, nil
}

// Exists implements blob.Store: the pointer of a large blob counts only
// with its data.
func (s *Store) Exists(ctx context.Context, sha string) (bool, error) {
	if err := blob.CheckDigest(sha); err != nil {
		return false, err
	}
	loc, err := s.locate(ctx, sha)
	if isNotFound(err) {
		return false, nil
	}
	if err == nil && loc.dataID != "" {
		var ok bool
		if ok, err = s.exists(ctx, loc.key); err == nil {
			return ok, nil
		}
	}
	if err != nil {
		return false, domain.Internal("checking blob", err)
	}
	return true, nil
}

// List implements blob.Store (markers are not blobs).
func (s *Store) List(ctx context.Context, fn func(sha256 string, written time.Time) error) error {
	prefix := s.prefix + "objects/"
	return s.walk(ctx, prefix, func(o types.Object) error {
		sha := strings.TrimPrefix(aws.ToString(o.Key), prefix)
		if blob.CheckDigest(sha) != nil {
			return nil
		}
		return fn(sha, aws.ToTime(o.LastModified))
	})
}

// Delete implements blob.Store: every Put writes objects/<sha> again, so
// a blob written at or after notBefore has a newer LastModified. The
// pointer goes first, then every marker of the content with its data.
func (s *Store) Delete(ctx context.Context, sha string, notBefore time.Time) (bool, error) {
	if err := blob.CheckDigest(sha); err != nil {
		return false, err
	}
	loc, err := s.locate(ctx, sha)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, domain.Internal("removing blob", err)
	}
	if !loc.written.Before(notBefore) {
		return false, nil
	}
	key, _ := s.objectKey(sha)
	if err := s.deleteKey(ctx, key); err != nil {
		return false, domain.Internal("removing blob", err)
	}
	err = s.walk(ctx, key+".", func(o types.Object) error {
		id := strings.TrimPrefix(aws.ToString(o.Key), key+".")
		if err := s.deleteKey(ctx, s.dataKey(id)); err != nil {
			return err
		}
		return s.deleteKey(ctx, aws.ToString(o.Key))
	})
	if err != nil {
		return false, domain.Internal("removing blob data", err)
	}
	return true, nil
}

// CopyBlob copies the blob with the given SHA-256 to key, server-side.
func (b *Bucket) CopyBlob(ctx context.Context, sha256, key string) error {
	loc, err := b.s.locate(ctx, sha256)
	if err != nil {
		return err
	}
	return b.s.copyObject(ctx, loc.key, b.prefix+key)
}

// Clean removes what uploads that did not finish left behind: multipart
// uploads older than a day (younger ones may belong to uploads still
// running on another replica), staging objects of older trel versions,
// and data older than a day that no pointer names (a process that died
// between completing an upload and writing its pointer, or while deleting
// a blob). A bucket lifecycle rule that aborts incomplete multipart uploads
// does the first part too.
func (s *Store) Clean(ctx context.Context) error {
	return s.clean(ctx, time.Now().Add(-staleAfter))
}

func (s *Store) clean(ctx context.Context, cutoff time.Time) error {
	for _, dir := range []string{"data/", "uploads/"} {
		if err := s.abortStale(ctx, s.prefix+dir, cutoff); err != nil {
			return err
		}
	}
	err := s.walk(ctx, s.prefix+"uploads/", func(o types.Object) error {
		if o.LastModified != nil && o.LastModified.Before(cutoff) {
			return s.deleteKey(ctx, aws.ToString(o.Key))
		}
		return nil
	})
	if err != nil {
		return err
	}
	old := map[string]bool{} // ids of data older than a day
	err = s.walk(ctx, s.prefix+"data/", func(o types.Object) error {
		if o.LastModified != nil && o.LastModified.Before(cutoff) {
			old[strings.TrimPrefix(aws.ToString(o.Key), s.prefix+"data/")] = true
		}
		return nil
	})
	if err != nil || len(old) == 0 {
		return err
	}
	// Which of them a pointer names: a marker whose blob exists.
	blobs := map[string]bool{}
	markers := map[string]string{} // id -> sha
	prefix := s.prefix + "objects/"
	err = s.walk(ctx, prefix, func(o types.Object) error {
		name := strings.TrimPrefix(aws.ToString(o.Key), prefix)
		if sha, id, ok := strings.Cut(name, "."); ok {
			markers[id] = sha
		} else {
			blobs[name] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for id := range old {
		if sha, ok := markers[id]; ok && blobs[sha] {
			continue
		}
		if err := s.deleteKey(ctx, s.dataKey(id)); err != nil {
			return err
		}
		if sha, ok := markers[id]; ok {
			if err := s.deleteKey(ctx, s.markerKey(sha, id)); err != nil {
				return err
			}
		}
	}
	return nil
}

// abortStale aborts the multipart uploads under prefix begun before cutoff.
func (s *Store) abortStale(ctx context.Context, prefix string, cutoff time.Time) error {
	var keyMarker, idMarker *string
	for {
		out, err := s.client.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket),
			Prefix: aws.String(prefix), KeyMarker: keyMarker, UploadIdMarker: idMarker})
		if err != nil {
			return fmt.Errorf("listing abandoned uploads: %w", err)
		}
		for _, up := range out.Uploads {
			if up.Initiated != nil && up.Initiated.Before(cutoff) {
				s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: up.Key, UploadId: up.UploadId})
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		keyMarker, idMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}
