package translog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

var hasher = rfc6962.DefaultHasher

// rangeFactory builds compact ranges; ranges can only be merged when made by
// the same factory.
var rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}

// Checkpoint is a verified checkpoint: a signed commitment to the first
// Size entries of the log.
type Checkpoint struct {
	Origin string
	Size   uint64
	// Hash is the Merkle tree root hash (32 bytes).
	Hash []byte
	// Raw is the signed note as published; keep it to check consistency
	// with a later checkpoint.
	Raw []byte
}

// IndexedEntry is an entry read back from the log with its index.
type IndexedEntry struct {
	Index uint64
	Entry Entry
}

// Client verifies a log from its static files only: it trusts nothing but
// the verifier key it was given. A Client is safe for concurrent use.
type Client struct {
	fetch    Fetcher
	verifier note.Verifier
	origin   string
}

// NewClient returns a Client for the log whose checkpoints are signed by
// verifierKey (note.NewVerifier format, as published by the log). The log
// origin is the key name.
func NewClient(f Fetcher, verifierKey string) (*Client, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return nil, fmt.Errorf("log verifier key: %w", err)
	}
	return &Client{fetch: f, verifier: v, origin: v.Name()}, nil
}

// Origin returns the origin the client expects on every checkpoint.
func (c *Client) Origin() string { return c.origin }

// Checkpoint fetches the latest checkpoint and verifies its signature and
// origin. A log without a checkpoint yields an error wrapping
// os.ErrNotExist.
func (c *Client) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	raw, err := c.fetch(ctx, layout.CheckpointPath)
	if err != nil {
		return nil, fmt.Errorf("fetch checkpoint: %w", err)
	}
	return c.ParseCheckpoint(raw)
}

// ParseCheckpoint verifies a raw signed checkpoint (for example one saved
// earlier) and returns it.
func (c *Client) ParseCheckpoint(raw []byte) (*Checkpoint, error) {
	cp, _, _, err := flog.ParseCheckpoint(raw, c.origin, c.verifier)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if len(cp.Hash) != hasher.Size() {
		return nil, fmt.Errorf("checkpoint: root hash has %d bytes, want %d", len(cp.Hash), hasher.Size())
	}
	if cp.Size == 0 && !bytes.Equal(cp.Hash, hasher.EmptyRoot()) {
		return nil, errors.New("checkpoint: empty tree with a non-empty root hash")
	}
	return &Checkpoint{Origin: cp.Origin, Size: cp.Size, Hash: cp.Hash, Raw: bytes.Clone(raw)}, nil
}

// reverify re-checks cp.Raw so that a Checkpoint built or modified by hand
// is never trusted.
func (c *Client) reverify(cp *Checkpoint) (*Checkpoint, error) {
	if cp == nil {
		return nil, errors.New("no checkpoint")
	}
	return c.ParseCheckpoint(cp.Raw)
}

// tileFetcher adapts the Fetcher to tessera's tile fetcher contract.
func (c *Client) tileFetcher() client.TileFetcherFunc {
	return func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
		return fetchPartialOrFull(ctx, c.fetch, func(p uint8) string { return layout.TilePath(level, index, p) }, p)
	}
}

// ProveInclusion proves that entry is the leaf at index in the tree of cp,
// fetching only the tiles the proof needs.
func (c *Client) ProveInclusion(ctx context.Context, entry Entry, index uint64, cp *Checkpoint) error {
	cp, err := c.reverify(cp)
	if err != nil {
		return fmt.Errorf("prove inclusion: %w", err)
	}
	if index >= cp.Size {
		return fmt.Errorf("prove inclusion: index %d is outside the tree of size %d", index, cp.Size)
	}
	leaf, err := entry.LeafHash()
	if err != nil {
		return fmt.Errorf("prove inclusion: %w", err)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, c.tileFetcher())
	if err != nil {
		return fmt.Errorf("prove inclusion: %w", err)
	}
	p, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return fmt.Errorf("prove inclusion of index %d: %w", index, err)
	}
	if err := proof.VerifyInclusion(hasher, index, cp.Size, leaf, p, cp.Hash); err != nil {
		return fmt.Errorf("prove inclusion of index %d in tree of size %d: %w", index, cp.Size, err)
	}
	return nil
}

// ProveConsistency proves that the tree of newCP extends the tree of oldCP
// (the log was only appended to in between). Both are re-verified.
func (c *Client) ProveConsistency(ctx context.Context, oldCP, newCP *Checkpoint) error {
	o, err := c.reverify(oldCP)
	if err != nil {
		return fmt.Errorf("prove consistency: old %w", err)
	}
	n, err := c.reverify(newCP)
	if err != nil {
		return fmt.Errorf("prove consistency: new %w", err)
	}
	if o.Size > n.Size {
		return fmt.Errorf("prove consistency: old tree size %d is larger than new %d", o.Size, n.Size)
	}
	var p [][]byte
	if o.Size > 0 && o.Size < n.Size {
		pb, err := client.NewProofBuilder(ctx, n.Size, c.tileFetcher())
		if err != nil {
			return fmt.Errorf("prove consistency: %w", err)
		}
		p, err = pb.ConsistencyProof(ctx, o.Size, n.Size)
		if err != nil {
			return fmt.Errorf("prove consistency %d -> %d: %w", o.Size, n.Size, err)
		}
	}
	if err := proof.VerifyConsistency(hasher, o.Size, n.Size, p, o.Hash, n.Hash); err != nil {
		return fmt.Errorf("prove consistency %d -> %d: %w", o.Size, n.Size, err)
	}
	return nil
}

// Entry reads back the entry at index, proven against cp.
func (c *Client) Entry(ctx context.Context, cp *Checkpoint, index uint64) (Entry, error) {
	for e, err := range c.Entries(ctx, cp, index, index+1) {
		if err != nil {
			return Entry{}, err
		}
		return e.Entry, nil
	}
	return Entry{}, fmt.Errorf("entry %d: not found", index)
}

// Entries iterates over the entries with index in [from, to) of the tree of
// cp, in order. Each entry bundle is proven against cp's root hash before
// any of its entries is yielded: the leaf hashes of the whole bundle,
// combined with the tree nodes left and right of it, must give the signed
// root. Iteration stops after the first error.
func (c *Client) Entries(ctx context.Context, cp *Checkpoint, from, to uint64) iter.Seq2[IndexedEntry, error] {
	return func(yield func(IndexedEntry, error) bool) {
		cp, err := c.reverify(cp)
		if err != nil {
			yield(IndexedEntry{}, fmt.Errorf("entries: %w", err))
			return
		}
		if from > to || to > cp.Size {
			yield(IndexedEntry{}, fmt.Errorf("entries: range [%d, %d) is not within the tree of size %d", from, to, cp.Size))
			return
		}
		nodes := newNodeReader(c.tileFetcher(), cp.Size)
		for ri := range layout.Range(from, to-from, cp.Size) {
			entries, err := c.provenBundle(ctx, cp, nodes, ri.Index)
			if err != nil {
				yield(IndexedEntry{}, err)
				return
			}
			first := ri.Index*layout.EntryBundleWidth + uint64(ri.First)
			for i := range uint64(ri.N) {
				idx := first + i
				e, err := ParseEntry(entries[uint64(ri.First)+i])
				if err != nil {
					yield(IndexedEntry{}, fmt.Errorf("entry %d: %w", idx, err))
					return
				}
				if !yield(IndexedEntry{Index: idx, Entry: e}, nil) {
					return
				}
			}
		}
	}
}

// FindByKey returns every entry of the tree of cp made with the key whose
// fingerprint is fpr (any case, spaces allowed), each proven against cp.
func (c *Client) FindByKey(ctx context.Context, cp *Checkpoint, fpr string) ([]IndexedEntry, error) {
	want := NormalizeFingerprint(fpr)
	if !isHex(want, 40) && !isHex(want, 64) {
		return nil, fmt.Errorf("find by key: %q is not a fingerprint", fpr)
	}
	return c.find(ctx, cp, func(e Entry) bool { return e.KeyFingerprint == want })
}

// FindBySignature returns the entries whose SignatureSHA256 is sigSHA256
// (hex), each proven against cp: how `trel log verify FILE.asc` finds the
// index of a signature it was only given as a file.
func (c *Client) FindBySignature(ctx context.Context, cp *Checkpoint, sigSHA256 string) ([]IndexedEntry, error) {
	if !isHex(sigSHA256, 64) {
		return nil, fmt.Errorf("find by signature: %q is not a SHA-256 digest", sigSHA256)
	}
	return c.find(ctx, cp, func(e Entry) bool { return e.SignatureSHA256 == toLowerHex(sigSHA256) })
}

func (c *Client) find(ctx context.Context, cp *Checkpoint, match func(Entry) bool) ([]IndexedEntry, error) {
	cp, err := c.reverify(cp)
	if err != nil {
		return nil, err
	}
	var found []IndexedEntry
	for ie, err := range c.Entries(ctx, cp, 0, cp.Size) {
		if err != nil {
			return nil, err
		}
		if match(ie.Entry) {
			found = append(found, ie)
		}
	}
	return found, nil
}

// provenBundle fetches entry bundle bundleIndex as it is in the tree of cp,
// checks that its leaves hash (with the tree's other nodes) to cp's root,
// and returns the raw entries.
func (c *Client) provenBundle(ctx context.Context, cp *Checkpoint, nodes *nodeReader, bundleIndex uint64) ([][]byte, error) {
	p := layout.PartialTileSize(0, bundleIndex, cp.Size)
	raw, err := fetchPartialOrFull(ctx, c.fetch, func(p uint8) string { return layout.EntriesPath(bundleIndex, p) }, p)
	if err != nil {
		return nil, fmt.Errorf("entry bundle %d: %w", bundleIndex, err)
	}
	var bundle api.EntryBundle
	if err := bundle.UnmarshalText(raw); err != nil {
		return nil, fmt.Errorf("entry bundle %d: %w", bundleIndex, err)
	}
	want := int(p)
	if p == 0 {
		want = layout.EntryBundleWidth
	}
	// A full bundle may stand in for a missing partial one: use its prefix.
	if len(bundle.Entries) < want {
		return nil, fmt.Errorf("entry bundle %d: %d entries, want %d", bundleIndex, len(bundle.Entries), want)
	}
	entries := bundle.Entries[:want]
	begin := bundleIndex * layout.EntryBundleWidth
	end := begin + uint64(want)
	leaves := make([][]byte, len(entries))
	for i, e := range entries {
		leaves[i] = hasher.HashLeaf(e)
	}
	if err := nodes.verifyRange(ctx, begin, end, leaves, cp.Hash); err != nil {
		return nil, fmt.Errorf("entry bundle %d does not match the checkpoint: %w", bundleIndex, err)
	}
	return entries, nil
}

// nodeReader reads tree nodes out of hash tiles for one tree size, caching
// the tiles it fetched.
type nodeReader struct {
	fetch client.TileFetcherFunc
	size  uint64
	tiles map[[2]uint64][][]byte
}

func newNodeReader(f client.TileFetcherFunc, size uint64) *nodeReader {
	return &nodeReader{fetch: f, size: size, tiles: make(map[[2]uint64][][]byte)}
}

// node returns the hash of the perfect subtree node id, which must lie
// entirely within the tree.
func (n *nodeReader) node(ctx context.Context, id compact.NodeID) ([]byte, error) {
	tileLevel, tileIndex, nodeLevel, nodeIndex := layout.NodeCoordsToTileAddress(uint64(id.Level), id.Index)
	key := [2]uint64{tileLevel, tileIndex}
	leaves, ok := n.tiles[key]
	if !ok {
		raw, err := n.fetch(ctx, tileLevel, tileIndex, layout.PartialTileSize(tileLevel, tileIndex, n.size))
		if err != nil {
			return nil, fmt.Errorf("tile %d/%d: %w", tileLevel, tileIndex, err)
		}
		var t api.HashTile
		if err := t.UnmarshalText(raw); err != nil {
			return nil, fmt.Errorf("tile %d/%d: %w", tileLevel, tileIndex, err)
		}
		leaves = t.Nodes
		n.tiles[key] = leaves
	}
	width := uint64(1) << nodeLevel
	first := nodeIndex * width
	if first+width > uint64(len(leaves)) {
		return nil, fmt.Errorf("tile %d/%d has %d hashes, node %d/%d needs %d", tileLevel, tileIndex, len(leaves), id.Level, id.Index, first+width)
	}
	r := rangeFactory.NewEmptyRange(0)
	for _, h := range leaves[first : first+width] {
		if err := r.Append(h, nil); err != nil {
			return nil, err
		}
	}
	return r.GetRootHash(nil)
}

// rangeOf builds the compact range [begin, end) from tile nodes.
func (n *nodeReader) rangeOf(ctx context.Context, begin, end uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(begin, end, nil)
	hashes := make([][]byte, 0, len(ids))
	for _, id := range ids {
		h, err := n.node(ctx, id)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, h)
	}
	return rangeFactory.NewRange(begin, end, hashes)
}

// verifyRange checks that leaves are the leaf hashes [begin, end) of the
// tree with the given root: the compact range of [0, begin) and of
// [end, size), read from tiles, combined with the leaves must give root.
// The tile nodes are untrusted; forging them would need a hash collision.
func (n *nodeReader) verifyRange(ctx context.Context, begin, end uint64, leaves [][]byte, root []byte) error {
	if uint64(len(leaves)) != end-begin || end > n.size {
		return fmt.Errorf("range [%d, %d) with %d leaves in tree of size %d", begin, end, len(leaves), n.size)
	}
	left, err := n.rangeOf(ctx, 0, begin)
	if err != nil {
		return err
	}
	mid := rangeFactory.NewEmptyRange(begin)
	for _, h := range leaves {
		if err := mid.Append(h, nil); err != nil {
			return err
		}
	}
	right, err := n.rangeOf(ctx, end, n.size)
	if err != nil {
		return err
	}
	if err := left.AppendRange(mid, nil); err != nil {
		return err
	}
	if err := left.AppendRange(right, nil); err != nil {
		return err
	}
	got, err := left.GetRootHash(nil)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, root) {
		return fmt.Errorf("computed root %x, checkpoint has %x", got, root)
	}
	return nil
}

func toLowerHex(s string) string { return string(bytes.ToLower([]byte(s))) }
