package azure

import (
	"context"
	"errors"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/chronos-go/chronos/offload"
)

// maxResults is the most blobs Azure returns in one List Blobs response.
const maxResults = 5000

// maxMarkers bounds the marker cache: enough for many concurrent walks,
// small enough (a marker is a few hundred bytes) to never matter.
const maxMarkers = 1024

// markerKey names a listing position: the blobs of prefix after after.
type markerKey struct{ prefix, after string }

// marker says how an Azure listing of prefix resumes to reach a key K:
// token is a continuation token Azure returned ("" for the start) from
// which the listing was at or before K, and skip how many blobs from there
// were at or before K. next, when known, is the token that began right
// after K: it cannot list what follows K (Azure's tokens name the blob to
// start from, so it would skip blobs created since between K and that
// blob), but it starts where the following page does, so it becomes that
// page's token. A walk thus re-reads one page per page.
//
// A remembered token is used only if the first blob it lists is at or
// before the StartAfter it was remembered for; otherwise blobs may have
// been created before the blob it names, and List starts over.
type marker struct {
	token string
	skip  int
	next  string
}

// errMovedOn says a remembered token now starts after its StartAfter.
var errMovedOn = errors.New("remembered token starts after StartAfter")

// List returns one page of the blobs matching o, from Azure's flat
// listing, in Azure's order of names (see CompareKeys), which is also the
// order in which StartAfter is compared.
//
// Azure has no StartAfter, only opaque continuation tokens, and Next must
// be a key: List skips the blobs at or before StartAfter itself, and to
// make that cheap the Store remembers, for the Next of each page it
// returned, a token from which Azure lists that key again. A walk that
// follows Next therefore costs one request per page, which reads the
// previous page again with it: twice the blobs returned. A StartAfter the
// Store has not remembered (a Next kept across processes, evicted from the
// bounded cache, or any other key) makes List read every blob of Prefix up
// to StartAfter again, 5,000 per request.
func (s *Store) List(ctx context.Context, o offload.ListOptions) (offload.ListPage, error) {
	if err := ctx.Err(); err != nil {
		return offload.ListPage{}, backend.OpError("list", o.Prefix, err)
	}
	limit := o.Limit
	if limit <= 0 || limit > offload.DefaultListLimit {
		limit = offload.DefaultListLimit
	}
	m, known := marker{}, true
	if o.StartAfter != "" {
		m, known = s.marker(markerKey{o.Prefix, o.StartAfter})
	}
	page, err := s.list(ctx, o, limit, m, known)
	if err != nil && m.token != "" && ctx.Err() == nil {
		// The token moved on, or the server no longer takes it.
		page, err = s.list(ctx, o, limit, marker{}, false)
	}
	return page, err
}

// list lists o from m. While known is false, how many blobs from m.token
// are at or before o.StartAfter is unknown, and list reads full responses
// until it has passed them; then it asks for as many blobs as the page
// needs.
func (s *Store) list(ctx context.Context, o offload.ListOptions, limit int, m marker, known bool) (offload.ListPage, error) {
	var page offload.ListPage
	token, skip := m.token, m.skip
	verify := m.token != "" // the first blob must be at or before StartAfter
	for first := true; ; first = false {
		n := maxResults
		if known {
			n = min(maxResults, skip+limit-len(page.Objects))
		}
		opts := &container.ListBlobsFlatOptions{MaxResults: to.Ptr(int32(n))}
		if o.Prefix != "" {
			opts.Prefix = to.Ptr(o.Prefix)
		}
		if token != "" {
			opts.Marker = to.Ptr(token)
		}
		resp, err := s.client.NewListBlobsFlatPager(opts).NextPage(ctx)
		if err != nil {
			return offload.ListPage{}, callError(ctx, "list", o.Prefix, err)
		}
		items := resp.Segment.BlobItems
		next := deref(resp.NextMarker)
		after := -1 // index of the first blob after StartAfter in items
		for i, it := range items {
			key := deref(it.Name)
			if CompareKeys(key, o.StartAfter) <= 0 {
				verify = false
				continue
			}
			if verify {
				return offload.ListPage{}, errMovedOn
			}
			if after < 0 {
				after = i
			}
			if !strings.HasPrefix(key, o.Prefix) || offload.ValidateKey(key) != nil {
				continue // another tool's blob, which no key names
			}
			known = true // every blob from here on is after StartAfter
			page.Objects = append(page.Objects, info(key, it.Properties.ContentLength, it.Properties.LastModified))
			if len(page.Objects) < limit {
				continue
			}
			if i == len(items)-1 && next == "" {
				return page, nil // the last blob of the listing
			}
			r := marker{token: token, skip: i + 1}
			if first && m.next != "" {
				r = marker{token: m.next, skip: i + 1 - after} // verified when used
			}
			if i == len(items)-1 {
				r.next = next
			}
			s.remember(markerKey{o.Prefix, key}, r)
			page.Next = key
			return page, nil
		}
		if next == "" {
			return page, nil
		}
		token, skip = next, 0
	}
}

// marker returns the remembered marker for k, if any.
func (s *Store) marker(k markerKey) (marker, bool) {
	s.markers.Lock()
	defer s.markers.Unlock()
	m, ok := s.markers.m[k]
	return m, ok
}

// remember records m for k, evicting an arbitrary entry when full.
func (s *Store) remember(k markerKey, m marker) {
	s.markers.Lock()
	defer s.markers.Unlock()
	if len(s.markers.m) >= maxMarkers {
		for old := range s.markers.m {
			delete(s.markers.m, old)
			break
		}
	}
	s.markers.m[k] = m
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
