package all

// Event loops that hand framed messages to a goroutine pool.
import (
	_ "archbench/servers/epollpool"
)
