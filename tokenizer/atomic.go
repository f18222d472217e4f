package tokenizer

import (
	"fmt"

	"github.com/glora/glora/internal/atomicfile"
)

// writeFileAtomic writes data to path so that a reader sees the old file or
// the new one, never half of one (internal/atomicfile).
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteBytes(path, data); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	return nil
}
