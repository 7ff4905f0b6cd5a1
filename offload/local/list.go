package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/chronos-go/chronos/offload"
)

// errPageFull ends a walk once it has found one object more than the page
// holds, which proves that more remain.
var errPageFull = errors.New("page full")

// List returns one page of the keys matching o in byte order; see the
// package doc for how the directory tree is walked.
func (s *Store) List(ctx context.Context, o offload.ListOptions) (offload.ListPage, error) {
	if err := ctx.Err(); err != nil {
		return offload.ListPage{}, backend.OpError("list", o.Prefix, err)
	}
	limit := o.Limit
	if limit <= 0 || limit > offload.DefaultListLimit {
		limit = offload.DefaultListLimit
	}
	// Start at the deepest directory the prefix names in full. If that part
	// is not a valid key, no valid key begins with the prefix.
	base := o.Prefix[:strings.LastIndexByte(o.Prefix, '/')+1]
	if base != "" && offload.ValidateKey(strings.TrimSuffix(base, "/")) != nil {
		return offload.ListPage{}, nil
	}
	w := walker{ctx: ctx, prefix: o.Prefix, after: o.StartAfter, want: limit + 1}
	err := w.walk(filepath.Join(s.objects, filepath.FromSlash(base)), base)
	if err != nil && !errors.Is(err, errPageFull) {
		return offload.ListPage{}, backend.OpError("list", o.Prefix, err)
	}
	page := offload.ListPage{Objects: w.found}
	if len(w.found) > limit {
		page.Objects = w.found[:limit]
		page.Next = page.Objects[limit-1].Key
	}
	return page, nil
}

type walker struct {
	ctx    context.Context
	prefix string // keys must begin with it
	after  string // keys must be greater than it
	want   int    // stop after this many
	found  []offload.ObjectInfo
}

// entry is a directory entry with the key range it covers: a file's key, or
// a directory's key plus "/" (every key below it begins with that).
type entry struct {
	de    os.DirEntry
	key   string
	isDir bool
}

// walk appends the matching objects below dir, whose keys begin with
// keyPrefix ("" or ending in "/"), in byte order of their keys.
func (w *walker) walk(dir, keyPrefix string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	des, err := os.ReadDir(dir)
	if isMissing(err) {
		return nil // no such prefix, or removed by a concurrent Delete
	} else if err != nil {
		return err
	}
	// os.ReadDir sorts by name, but "a" (a directory) must sort as "a/",
	// after "a-b" and "a.b": sort by the key range each entry covers.
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		e := entry{de: de, key: keyPrefix + de.Name(), isDir: de.IsDir()}
		if e.isDir {
			e.key += "/"
		} else if !de.Type().IsRegular() {
			continue
		}
		if strings.HasPrefix(e.key, w.prefix) || e.isDir && strings.HasPrefix(w.prefix, e.key) {
			entries = append(entries, e)
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })

	for _, e := range entries {
		if !e.isDir {
			if err := w.file(dir, e); err != nil {
				return err
			}
			continue
		}
		// Every key below e begins with e.key. Unless StartAfter is inside
		// that range, the range lies wholly before or after it.
		if e.key <= w.after && !strings.HasPrefix(w.after, e.key) {
			continue
		}
		if err := w.walk(filepath.Join(dir, e.de.Name()), e.key); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) file(dir string, e entry) error {
	if e.key <= w.after || offload.ValidateKey(e.key) != nil {
		return nil // before the page, or a foreign file that no key names
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	fi, err := e.de.Info()
	if isMissing(err) {
		return nil // deleted since ReadDir
	} else if err != nil {
		return err
	}
	w.found = append(w.found, info(e.key, fi))
	if len(w.found) >= w.want {
		return errPageFull
	}
	return nil
}
