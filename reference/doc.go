// Package reference holds glora's PyTorch cross-checks: make_fixtures.py
// writes testdata/ref/*.safetensors from PyTorch, and the tests in this
// directory (and in package optim) compare glora's results against them.
// It has no non-test code.
package reference
