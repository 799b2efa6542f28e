// Package all imports every archbench architecture (each registers itself)
// and sets their teaching order, the order of archs: from the simplest
// blocking design to the event-loop libraries. That order is the order of
// `archbench list`, of runs and of reports.
//
// Adding an architecture is its package (exporting and registering an
// Arch) and one line in archs, with its import. The order is written here,
// once, because Go initialises packages in import-path order and gofmt
// sorts import blocks: neither can carry it.
package all

import (
	"archbench/servers"
	"archbench/servers/epoll"
	"archbench/servers/epollpool"
	"archbench/servers/eviosrv"
	"archbench/servers/gnetpool"
	"archbench/servers/gnetsrv"
	"archbench/servers/goroutine"
	"archbench/servers/iouring"
	"archbench/servers/poll"
	"archbench/servers/reuseport"
	"archbench/servers/selectsrv"
	"archbench/servers/sequential"
	"archbench/servers/udploop"
	"archbench/servers/udpmmsg"
	"archbench/servers/udpreuseport"
	"archbench/servers/udpworkers"
	"archbench/servers/workerpool"
	"archbench/servers/xmlrpc"
)

// archs is every architecture, one line each, in teaching order.
var archs = []servers.Arch{
	sequential.Arch,
	goroutine.Arch,
	workerpool.Arch,
	reuseport.Arch,
	selectsrv.Arch,
	poll.Arch,
	epoll.Arch,
	epollpool.Arch,
	iouring.Arch,
	gnetsrv.Arch,
	gnetpool.Arch,
	eviosrv.Arch,
	xmlrpc.Arch,
	udploop.Arch,
	udpworkers.Arch,
	udpreuseport.Arch,
	udpmmsg.Arch,
}

func init() { servers.SetOrder(archs) }
