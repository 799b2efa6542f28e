package all

// The hand-written event loops (archbench/servers/internal/evloop).
import (
	_ "archbench/servers/epoll"
	_ "archbench/servers/iouring"
	_ "archbench/servers/poll"
	_ "archbench/servers/select"
)
