// Package atomicfile writes files and folders so that a reader (or a run
// resumed after a crash) sees either the old content or the new, never half
// of one: the new content is built beside the target, synced to disk, and
// renamed over it; the parent folder is then synced so the rename itself is
// durable.
package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Perm is the permission of the files WriteFile creates.
const Perm = 0o644

// WriteFile writes path atomically: write fills a temporary file
// ".<base>.tmp*" in path's folder, which is synced, closed, made Perm and
// renamed over path; then the folder is synced. When write or any step
// fails, the temporary file is removed, path keeps its previous content (or
// stays absent), and the error names path.
func WriteFile(path string, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_ = tmp.Chmod(Perm) // CreateTemp makes 0600; permissions are best effort
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// WriteBytes writes data to path atomically (see WriteFile).
func WriteBytes(path string, data []byte) error {
	return WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteJSON writes v as indented JSON (and a newline) to path atomically;
// errors name the file.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		err = WriteBytes(path, append(b, '\n'))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// WriteDir replaces the folder dir atomically: build fills a fresh folder
// "<dir>.tmp-*" beside it (writing files there with WriteFile makes them
// durable), then the old dir (if any) is renamed to "<dir>.old-*", the new
// one renamed to dir, the old one removed, and the parent synced. When build
// or a rename fails, the new folder is removed and dir is left as it was
// (moved back if it had been moved away). A crash between the two renames
// leaves the previous content in "<dir>.old-*" and the new in
// "<dir>.tmp-*"; dir itself is then absent.
func WriteDir(dir string, build func(tmp string) error) (err error) {
	dir = filepath.Clean(dir)
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, base+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes 0700
		return fmt.Errorf("write %s: %w", dir, err)
	}
	if err := build(tmp); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	syncDir(tmp)
	var old string
	if _, serr := os.Lstat(dir); serr == nil {
		// The old folder's name shares the new one's random suffix
		// (os.Rename refuses to move a folder onto an existing one).
		old = filepath.Join(parent, base+".old-"+strings.TrimPrefix(filepath.Base(tmp), base+".tmp-"))
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("write %s: moving the old folder away: %w", dir, err)
		}
	} else if !errors.Is(serr, os.ErrNotExist) {
		return fmt.Errorf("write %s: %w", dir, serr)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			if rerr := os.Rename(old, dir); rerr != nil {
				return fmt.Errorf("write %s: %w (and restoring the old folder from %s: %v)", dir, err, old, rerr)
			}
		}
		return fmt.Errorf("write %s: %w", dir, err)
	}
	syncDir(parent)
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("write %s: removing the old folder: %w", dir, err)
		}
	}
	return nil
}

// syncDir makes renames in dir durable; best effort (not on Windows, where
// folders cannot be synced).
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// CheckReplace tells whether WriteDir may replace dir: nil when dir does
// not exist or is an empty folder; otherwise what replace(dir) returns (nil
// allows it; a nil replace refuses a non-empty folder). A file in dir's
// place is an error.
func CheckReplace(dir string, replace func(existing string) error) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s exists and is not a folder", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(1)
	f.Close()
	if len(names) == 0 && errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if replace == nil {
		return fmt.Errorf("%s exists and is not empty", dir)
	}
	return replace(dir)
}
