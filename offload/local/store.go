package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chronos-go/chronos/offload"
)

// staleTempAge is the age after which Open removes a temporary file: no Put
// leaves one that long unless its process died.
const staleTempAge = time.Hour

// installAttempts bounds Put's retries of mkdir+rename when a concurrent
// Delete removes the parent directory between the two.
const installAttempts = 10

// Store is an offload.Store in a local directory. It is safe for concurrent
// use, also by several processes sharing the directory.
type Store struct {
	objects string // <dir>/objects
	tmp     string // <dir>/tmp
	signer  signer // presigned URLs
}

var _ offload.Store = (*Store)(nil)

// Open is OpenWith(dir, Options{}): a store whose Presign returns
// offload.ErrPresignUnavailable and whose ServePresigned accepts URLs signed
// with this process's random secret.
func Open(dir string) (*Store, error) {
	return OpenWith(dir, Options{})
}

// OpenWith returns the store in dir, creating dir/objects and dir/tmp if
// needed, and removes temporary files left there by crashed writers.
// Objects already in dir are visible at once. Invalid options fail with an
// error wrapping ErrInvalidOptions that names the field.
func OpenWith(dir string, o Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("chronos: local store: empty directory name")
	}
	sg, err := newSigner(o)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("chronos: local store: %w", err)
	}
	s := &Store{objects: filepath.Join(abs, "objects"), tmp: filepath.Join(abs, "tmp"), signer: sg}
	for _, d := range []string{s.objects, s.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("chronos: local store: %w", err)
		}
	}
	s.removeStaleTemps()
	return s, nil
}

func (s *Store) removeStaleTemps() {
	entries, _ := os.ReadDir(s.tmp)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTempAge {
			_ = os.Remove(filepath.Join(s.tmp, e.Name()))
		}
	}
}

func (s *Store) path(key string) string {
	return filepath.Join(s.objects, filepath.FromSlash(key))
}

// backend names this store in errors.
const backend = offload.Backend("local store")

func notFound(key string) error {
	return fmt.Errorf("%w: %q", offload.ErrNotFound, key)
}

// isMissing reports whether err means the path does not name a file: it does
// not exist, or one of its leading parts is a file (ENOTDIR).
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func info(key string, fi fs.FileInfo) offload.ObjectInfo {
	return offload.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
}

// Get opens the object under key. Reads from the returned reader fail once
// ctx is done.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, offload.ObjectInfo, error) {
	if err := backend.Begin(ctx, "get", key); err != nil {
		return nil, offload.ObjectInfo{}, err
	}
	f, err := os.Open(s.path(key))
	if isMissing(err) {
		return nil, offload.ObjectInfo{}, notFound(key)
	} else if err != nil {
		return nil, offload.ObjectInfo{}, backend.OpError("get", key, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, offload.ObjectInfo{}, backend.OpError("get", key, err)
		}
		return nil, offload.ObjectInfo{}, notFound(key) // a directory of other keys
	}
	return &ctxFile{ctx: ctx, f: f, key: key}, info(key, fi), nil
}

// ctxFile is the body Get returns: an open file (so a concurrent Put or
// Delete cannot change what it reads) whose reads honour ctx.
type ctxFile struct {
	ctx context.Context
	f   *os.File
	key string
}

func (c *ctxFile) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, backend.OpError("read", c.key, err)
	}
	return c.f.Read(p)
}

func (c *ctxFile) Close() error { return c.f.Close() }

// Stat returns the info of the object under key.
func (s *Store) Stat(ctx context.Context, key string) (offload.ObjectInfo, error) {
	if err := backend.Begin(ctx, "stat", key); err != nil {
		return offload.ObjectInfo{}, err
	}
	fi, err := os.Stat(s.path(key))
	switch {
	case isMissing(err):
		return offload.ObjectInfo{}, notFound(key)
	case err != nil:
		return offload.ObjectInfo{}, backend.OpError("stat", key, err)
	case !fi.Mode().IsRegular():
		return offload.ObjectInfo{}, notFound(key)
	}
	return info(key, fi), nil
}

// Put stores r under key atomically and durably; see the package doc.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	if err := backend.Begin(ctx, "put", key); err != nil {
		return err
	}
	f, err := s.createTemp()
	if err != nil {
		return backend.OpError("put", key, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // a second Close after success below is harmless
			os.Remove(tmp)
		}
	}()

	src := io.Reader(&ctxReader{ctx: ctx, r: r})
	if size >= 0 && size < math.MaxInt64 {
		src = io.LimitReader(src, size+1) // one byte more reveals a longer r
	}
	n, err := io.Copy(f, src)
	if err != nil {
		return backend.OpError("put", key, err)
	}
	if size >= 0 && n != size {
		return backend.OpError("put", key, fmt.Errorf("%w: the reader gave %s bytes, size says %d",
			offload.ErrSizeMismatch, countString(n, size), size))
	}
	if err := f.Sync(); err != nil {
		return backend.OpError("put", key, err)
	}
	if err := f.Close(); err != nil {
		return backend.OpError("put", key, err)
	}
	if err := ctx.Err(); err != nil {
		return backend.OpError("put", key, err)
	}
	return s.install(key, tmp)
}

// createTemp creates a new temporary file. Unlike os.CreateTemp (mode 0600)
// it asks for 0644, so objects get the permissions the process umask gives
// any file it writes.
func (s *Store) createTemp() (*os.File, error) {
	for {
		f, err := os.OpenFile(filepath.Join(s.tmp, "put-"+rand.Text()), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

func countString(n, size int64) string {
	if n > size {
		return fmt.Sprintf("more than %d", size)
	}
	return fmt.Sprint(n)
}

// ctxReader stops a long copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// install renames the synced temporary file tmp to key's path, creating the
// parent directories, and fsyncs every directory whose entries changed.
func (s *Store) install(key, tmp string) error {
	segs := strings.Split(key, "/")
	segs = segs[:len(segs)-1] // the parent directories
	dst := s.path(key)
	for attempt := 1; ; attempt++ {
		top, err := s.mkdirs(segs)
		if err == nil {
			err = os.Rename(tmp, dst)
		}
		switch {
		case err == nil:
			// A created directory's entry lives in its parent: sync from
			// the parent of the topmost created directory down to dst's.
			for i := top - 1; i <= len(segs); i++ {
				if err := syncDir(filepath.Join(s.objects, filepath.Join(segs[:i]...))); err != nil {
					return backend.OpError("put", key, err)
				}
			}
			return nil
		case errors.Is(err, syscall.ENOTDIR):
			return fmt.Errorf("%w %q: a leading part of it is an object, and no key may be the directory of another", offload.ErrInvalidKey, key)
		case errors.Is(err, syscall.EISDIR), errors.Is(err, fs.ErrExist), errors.Is(err, syscall.ENOTEMPTY):
			// dst is a directory. Empty (left by an interrupted Delete), it
			// holds no key and may go; otherwise key is another's directory.
			if os.Remove(dst) == nil && attempt < installAttempts {
				continue
			}
			return fmt.Errorf("%w %q: it is the directory of other keys, and no key may be the directory of another", offload.ErrInvalidKey, key)
		case errors.Is(err, fs.ErrNotExist) && attempt < installAttempts:
			continue // a concurrent Delete removed an emptied parent
		default:
			return backend.OpError("put", key, err)
		}
	}
}

// mkdirs creates objects/segs[0]/.../segs[n-1] as needed. It returns the
// depth (1-based) of the topmost directory it created, or len(segs)+1 if it
// created none.
func (s *Store) mkdirs(segs []string) (top int, err error) {
	top = len(segs) + 1
	dir := s.objects
	for i, seg := range segs {
		dir = filepath.Join(dir, seg)
		err := os.Mkdir(dir, 0o755)
		switch {
		case err == nil:
			top = min(top, i+1)
		case !errors.Is(err, fs.ErrExist):
			return top, err
		}
	}
	return top, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// Delete removes the object under key, then its emptied parent directories.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := backend.Begin(ctx, "delete", key); err != nil {
		return err
	}
	p := s.path(key)
	fi, err := os.Lstat(p)
	switch {
	case isMissing(err):
		return nil
	case err != nil:
		return backend.OpError("delete", key, err)
	case fi.IsDir():
		return nil // a directory of other keys, not an object
	}
	if err := os.Remove(p); err != nil && !isMissing(err) {
		return backend.OpError("delete", key, err)
	}
	dir := filepath.Dir(p)
	for dir != s.objects && os.Remove(dir) == nil {
		dir = filepath.Dir(dir)
	}
	_ = syncDir(dir) // best effort: the deletion itself has happened
	return nil
}
