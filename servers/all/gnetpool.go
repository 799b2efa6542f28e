package all

// gnet's event loops handing framed messages to a goroutine pool.
import (
	_ "archbench/servers/gnetpool"
)
