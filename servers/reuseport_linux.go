//go:build linux

package servers

import "golang.org/x/sys/unix"

const soReusePort = unix.SO_REUSEPORT
