//go:build !unix

package servers

import "errors"

// setReusePort: SO_REUSEPORT exists only on unix systems.
func setReusePort(uintptr) error { return errors.ErrUnsupported }
