package all

import (
	_ "archbench/servers/evio"
	_ "archbench/servers/gnet"
)
