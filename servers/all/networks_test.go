package all_test

import (
	"strings"
	"testing"

	"archbench/servers"
)

// TestNetworks: every architecture serves the networks it declares, and
// Build refuses any other with one line naming what it serves.
func TestNetworks(t *testing.T) {
	udp := 0
	for _, a := range servers.Archs() {
		for _, n := range []string{"tcp", "tcp6", "unix", "udp", "udp6"} {
			addr := "127.0.0.1:0"
			if n == "unix" {
				addr = t.TempDir() + "/s.sock"
			}
			_, err := a.Build(servers.Config{Network: n, Addr: addr})
			if a.Serves(n) {
				if err != nil {
					t.Errorf("%s serves %s but Build fails: %v", a.Name, n, err)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), "does not serve network "+n) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s on %s: Build = %v, want one line: does not serve network %s", a.Name, n, err, n)
			}
		}
		if a.Serves("udp") {
			udp++
		}
	}
	if udp < 6 {
		t.Errorf("%d architectures serve udp, want udp-loop, udp-workers, udp-reuseport, udp-mmsg, gnet and evio", udp)
	}
}

func TestConfigDatagram(t *testing.T) {
	for _, c := range []servers.Config{
		{Network: "udp", Framing: 1},
		{Network: "udp", Rcvbuf: -1},
		{Network: "udp6", Sndbuf: 2 << 30},
		{Network: "sctp"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: Validate passed", c)
		}
	}
}
