// Package atomicdir writes a whole folder atomically: the files are built in
// a temporary sibling folder, synced, and the folder is renamed into place
// (an existing folder is moved aside first and removed only after the swap),
// so a reader sees the old folder or the new one, never a mix.
//
// A small local helper until a shared internal/atomicfile package lands;
// it then can be folded into that.
package atomicdir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write builds dir's new contents with fill, which writes files into the
// temporary folder it is given, then swaps that folder in for dir. When
// dir exists, replace decides whether it may be replaced (nil error: yes);
// a nil replace refuses any existing non-empty folder. On any error the
// temporary folder is removed and dir is left as it was.
func Write(dir string, fill func(tmp string) error, replace func(existing string) error) (err error) {
	dir = filepath.Clean(dir)
	exists := false
	if st, serr := os.Stat(dir); serr == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s exists and is not a folder", dir)
		}
		empty, eerr := isEmpty(dir)
		if eerr != nil {
			return eerr
		}
		if !empty {
			if replace == nil {
				return fmt.Errorf("%s exists and is not empty", dir)
			}
			if rerr := replace(dir); rerr != nil {
				return rerr
			}
		}
		exists = true
	} else if !errors.Is(serr, os.ErrNotExist) {
		return serr
	}
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err = fill(tmp); err != nil {
		return err
	}
	if err = os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	syncDir(tmp)
	if !exists {
		if err = os.Rename(tmp, dir); err != nil {
			return err
		}
		syncDir(parent)
		return nil
	}
	old, err := os.MkdirTemp(parent, "."+base+".old*")
	if err != nil {
		return err
	}
	if err = os.Remove(old); err != nil { // only its unique name is wanted
		return err
	}
	if err = os.Rename(dir, old); err != nil {
		return err
	}
	if err = os.Rename(tmp, dir); err != nil {
		if rerr := os.Rename(old, dir); rerr != nil {
			return fmt.Errorf("%w (and restoring %s from %s failed: %v)", err, dir, old, rerr)
		}
		return err
	}
	syncDir(parent)
	return os.RemoveAll(old)
}

// WriteFile writes data to path inside a folder being filled, synced.
func WriteFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func isEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return false, nil
	}
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

// syncDir makes renames inside dir durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
