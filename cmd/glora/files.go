package main

import (
	"encoding/json"
	"io"
	"os"

	"github.com/glora/glora/internal/atomicfile"
)

// writeJSONAtomic writes v as indented JSON to path atomically.
func writeJSONAtomic(path string, v any) error { return atomicfile.WriteJSON(path, v) }

// outFolder remembers whether a command's output folder existed before it
// started, so that a failure can remove a folder it created and left empty.
type outFolder struct {
	dir     string
	existed bool
}

func newOutFolder(dir string) outFolder {
	_, err := os.Stat(dir)
	return outFolder{dir: dir, existed: err == nil}
}

// cleanup removes the folder if this command created it and it is empty.
func (o outFolder) cleanup() {
	if o.existed {
		return
	}
	if ents, err := os.ReadDir(o.dir); err == nil && len(ents) == 0 {
		os.Remove(o.dir)
	}
}

// humanOut is where a command's human-readable text goes: stdout, or
// stderr when --json gives stdout to the JSON lines.
func humanOut(asJSON bool, stdout, stderr io.Writer) io.Writer {
	if asJSON {
		return stderr
	}
	return stdout
}

// jsonLine writes v as one line of JSON.
func jsonLine(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return string(b)
}
