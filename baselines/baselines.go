package baselines

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"archbench/protocol"
)

//go:embed c-epoll/server.c c-epoll/upper_table.h python/*.py
var sources embed.FS

// ErrUnavailable: a baseline cannot run on this machine (no C compiler, no
// python3); the error says which and why.
var ErrUnavailable = errors.New("baselines: unavailable here")

// Baseline is a server shipped with archbench as an external program.
type Baseline struct {
	Name    string
	Summary string
	// Sequential baselines serve one client at a time.
	Sequential bool
	// Framings are the framings it serves: raw only, for every baseline.
	Framings []protocol.Framing
	// dir is its source folder in sources; tool is the program it needs
	// (cc or python3); script is the Python file it runs.
	dir, tool, script string
}

var all = []Baseline{
	{Name: "c-epoll", Summary: "C, one thread, one level-triggered epoll loop, non-blocking sockets: the machine's limit",
		dir: "c-epoll", tool: "cc"},
	{Name: "py-sequential", Summary: "Python 3, the textbook's sequential server: one client at a time", Sequential: true,
		dir: "python", tool: "python3", script: "py_sequential.py"},
	{Name: "py-threads", Summary: "Python 3, the textbook's thread per connection",
		dir: "python", tool: "python3", script: "py_threads.py"},
	{Name: "py-pool", Summary: "Python 3, the textbook's 4 threads sharing the listening socket",
		dir: "python", tool: "python3", script: "py_pool.py"},
	{Name: "py-poll", Summary: "Python 3, the textbook's select.poll multiplexed loop",
		dir: "python", tool: "python3", script: "py_poll.py"},
}

func init() {
	for i := range all {
		all[i].Framings = []protocol.Framing{protocol.Raw}
	}
}

// All lists the baselines.
func All() []Baseline { return slices.Clone(all) }

// Lookup returns the baseline called name.
func Lookup(name string) (Baseline, bool) {
	i := slices.IndexFunc(all, func(b Baseline) bool { return b.Name == name })
	if i < 0 {
		return Baseline{}, false
	}
	return all[i], true
}

// Is reports whether name is a baseline.
func Is(name string) bool {
	_, ok := Lookup(name)
	return ok
}

// CacheDir is where baselines are built: the user's cache folder (e.g.
// ~/.cache/archbench/baselines), or the system's temporary folder.
func CacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "archbench", "baselines")
	}
	return filepath.Join(os.TempDir(), "archbench-baselines")
}

var prepareMu sync.Mutex

// Command prepares b in cache (writes its sources into a folder named by
// their hash; compiles the C one with cc -O2 once) and returns the command
// that runs it, with {host} and {port} for the runner to fill in. Without
// the tool it needs, the error wraps ErrUnavailable and says so in a line.
func (b Baseline) Command(cache string) (string, error) {
	prepareMu.Lock()
	defer prepareMu.Unlock()
	tool, err := exec.LookPath(b.tool)
	if err != nil {
		return "", fmt.Errorf("%w: %s needs %s, which is not on PATH", ErrUnavailable, b.Name, b.tool)
	}
	dir, err := b.unpack(cache)
	if err != nil {
		return "", err
	}
	if b.script != "" {
		return fmt.Sprintf("exec %s %s {host} {port}", shellQuote(tool), shellQuote(filepath.Join(dir, b.script))), nil
	}
	bin := filepath.Join(dir, "server")
	if _, err := os.Stat(bin); err != nil {
		// Compile to a name of this process's own, then rename: another
		// archbench building the same source at once never sees half a file.
		tmp, err := os.CreateTemp(dir, "server-*.tmp")
		if err != nil {
			return "", fmt.Errorf("baselines: %w", err)
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		out, err := exec.Command(tool, "-O2", "-o", tmp.Name(), filepath.Join(dir, "server.c")).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%w: %s: %s -O2 server.c: %v: %s", ErrUnavailable, b.Name, b.tool, err,
				strings.Join(strings.Fields(string(out)), " "))
		}
		if err := os.Rename(tmp.Name(), bin); err != nil {
			return "", fmt.Errorf("baselines: %w", err)
		}
	}
	return fmt.Sprintf("exec %s {host} {port}", shellQuote(bin)), nil
}

// unpack writes b's source folder under cache, in a folder named by the
// hash of its files, and returns that folder.
func (b Baseline) unpack(cache string) (string, error) {
	ents, err := fs.ReadDir(sources, b.dir)
	if err != nil {
		return "", fmt.Errorf("baselines: %w", err)
	}
	h := sha256.New()
	files := map[string][]byte{}
	for _, e := range ents {
		data, err := fs.ReadFile(sources, b.dir+"/"+e.Name())
		if err != nil {
			return "", fmt.Errorf("baselines: %w", err)
		}
		files[e.Name()] = data
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(data))
		h.Write(data)
	}
	dir := filepath.Join(cache, b.dir+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("baselines: cache folder: %w", err)
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if old, err := os.ReadFile(p); err == nil && string(old) == string(data) {
			continue
		}
		tmp, err := os.CreateTemp(dir, name+"-*.tmp")
		if err != nil {
			return "", fmt.Errorf("baselines: %w", err)
		}
		_, werr := tmp.Write(data)
		if err := errors.Join(werr, tmp.Close(), os.Rename(tmp.Name(), p)); err != nil {
			os.Remove(tmp.Name())
			return "", fmt.Errorf("baselines: %w", err)
		}
	}
	return dir, nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
