//go:build !linux

package servers

const soReusePort = 0xf // SO_REUSEPORT on most BSDs and Linux
