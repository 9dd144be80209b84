//go:build !linux

package engine

import "errors"

// newTableAdvisor: readahead hints need /proc/self/maps and Linux's
// madvise semantics; elsewhere the kernel's defaults stay.
func newTableAdvisor(string) (*tableAdvisor, error) {
	return nil, errors.ErrUnsupported
}
