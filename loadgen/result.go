package loadgen

import "time"

// SchemaVersion is the version of Result's JSON form; it changes only when a
// field changes meaning or goes away (adding fields keeps the version).
const SchemaVersion = 1

// Error kinds, the keys of Result.Errors.
const (
	ErrConnect   = "connect"    // a connect failed otherwise (out of descriptors or ports, a full unix backlog)
	ErrRead      = "read"       // a read failed otherwise, or the server closed a connection with nothing in flight
	ErrWrite     = "write"      // a write failed otherwise
	ErrTimeout   = "timeout"    // no reply (progress) within Config.Timeout
	ErrShortRead = "short_read" // the server closed cleanly before the full reply
	ErrMismatch  = "mismatch"   // a reply byte differs from the transform

	ErrResolve        = "resolve"         // the host did not resolve (no such host; temporary failure)
	ErrNoAddress      = "no_address"      // the host has no address of the requested family
	ErrRefused        = "refused"         // connection refused (for unix: no socket file)
	ErrUnreachable    = "unreachable"     // no route to the network or host, or it is down
	ErrConnectTimeout = "connect_timeout" // a connect got no answer within Config.Timeout
	ErrReset          = "reset"           // the server reset the connection (or a write met its close)
)

// Result is one load run, measured after the warm-up. Its JSON form is the
// stable schema documented in loadgen/doc.go.
type Result struct {
	Schema int    `json:"schema"`
	Config Config `json:"config"`

	Start   time.Time `json:"start"`
	Elapsed float64   `json:"elapsed_s"` // measured seconds

	Requests int64 `json:"requests"` // replies received and verified
	// WarmupRequests counts the replies verified during the warm-up, which
	// are not measured: with Requests, every reply the server gave, for
	// figures taken over the server's whole life (system calls per message).
	WarmupRequests int64            `json:"warmup_requests"`
	Errors         map[string]int64 `json:"errors"`     // by kind; every kind present, zero or not
	Mismatches     int64            `json:"mismatches"` // = Errors["mismatch"], kept on top for scripts

	// Unsent counts open-loop messages whose scheduled time came (after the
	// warm-up) while their connection was down or had its send queue full:
	// never sent. Each is also in Latency at its age when the run ended,
	// from its intended time (a lower bound), so a server that closes
	// connections cannot look fast.
	Unsent int64 `json:"unsent"`
	// Abandoned counts messages in flight on a connection dropped for an
	// error (their replies are never awaited); the error itself is counted
	// once in Errors. Each is also in Latency at its age when given up (a
	// lower bound of its latency), so a server that drops or starves
	// connections cannot look fast.
	Abandoned int64 `json:"abandoned"`
	// Unanswered counts messages still in flight when the run ended (sent
	// before its end). Each is also in Latency at its age then (a lower
	// bound), in the closed and the open loop, so a server that stops
	// answering, or never answers some connections, cannot look fast:
	// Latency.Count = Requests + Abandoned + Unanswered + Unsent (in a churn run,
	// Requests + the errors + Unanswered).
	Unanswered int64 `json:"unanswered"`
	// Connects counts connections established (the initial ones and every
	// replacement).
	Connects int64 `json:"connects"`
	// ConnsServed counts the connection slots (of Config.Conns; a slot is a
	// connection and its replacements, in a churn run a client) that got at
	// least one verified reply in the measured window.
	ConnsServed int `json:"conns_served"`
	// Fairness is how evenly the measured replies were spread over the
	// slots (see Fairness). Nil only in results written before it existed,
	// whose conns_served is 0 and whose closed-loop latency leaves out the
	// messages never answered.
	Fairness *Fairness `json:"fairness,omitempty"`

	RPS       float64 `json:"rps"`        // achieved verified messages per second
	TargetRPS float64 `json:"target_rps"` // Config.Rate; 0 for a closed loop
	MBps      float64 `json:"mb_per_s"`   // payload megabytes (1e6) per second, one direction

	// WireOut and WireIn are the bytes on the wire per verified message,
	// each way: what the client wrote and read above TCP (framing, and for
	// XML-RPC the HTTP headers and the XML; TCP/IP headers not counted).
	// For the byte protocol they follow from the messages; for XML-RPC
	// they are counted over the measured exchanges (a multicall request's
	// bytes shared by its calls). 0 in results written before they existed.
	WireOut float64 `json:"wire_out_per_msg,omitempty"`
	WireIn  float64 `json:"wire_in_per_msg,omitempty"`

	Latency LatencyUS `json:"latency_us"`
	// SendLag summarises how late the open loop sent messages against its
	// schedule (0 for a closed loop): the generator's own shortfall.
	SendLag LatencyUS `json:"send_lag_us"`

	Series []Second `json:"series"` // one entry per measured second

	// Histogram is the merged latency histogram, encoded so that .hgrm and
	// later merges can be made from the JSON alone.
	Histogram []byte `json:"histogram,omitempty"`

	// Side is what the slow and idle connections beside the load saw
	// (Config.SlowConns, Config.IdleConns); nil without them. Their
	// errors are counted here, not in Errors.
	Side *SideResult `json:"side,omitempty"`

	// Target is what Config.Addr resolved to and which address worked,
	// with the resolve and connect times (see Target). Nil only in results
	// written before it existed.
	Target *Target `json:"target,omitempty"`
}

// LatencyUS is a latency summary in microseconds.
type LatencyUS struct {
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	P9999 float64 `json:"p9999"`
	Max   float64 `json:"max"`
	Count int64   `json:"count"`
}

// Second is one second of the measured run.
type Second struct {
	T        int     `json:"t"` // seconds since the measured start
	Requests int64   `json:"requests"`
	RPS      float64 `json:"rps"`
	P99      float64 `json:"p99_us"`
	Errors   int64   `json:"errors"`
}
