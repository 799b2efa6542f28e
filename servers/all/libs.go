package all

import (
	_ "archbench/servers/eviosrv"
	_ "archbench/servers/gnetsrv"
)
