package all

import (
	_ "archbench/servers/goroutine"
	_ "archbench/servers/reuseport"
	_ "archbench/servers/sequential"
	_ "archbench/servers/workerpool"
)
