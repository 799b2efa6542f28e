package uring

// The io_uring user API, transcribed from the kernel's UAPI header
// include/uapi/linux/io_uring.h (/usr/include/linux/io_uring.h on this
// machine): only what this package and its users need. golang.org/x/sys
// has the three system call numbers (unix.SYS_IO_URING_SETUP, _ENTER,
// _REGISTER) but none of the structures or flags.

// Op is an SQE opcode (enum io_uring_op).
type Op uint8

// Opcodes, in the order of enum io_uring_op.
const (
	OpNop         Op = 0  // IORING_OP_NOP
	OpPollAdd     Op = 6  // IORING_OP_POLL_ADD
	OpTimeout     Op = 11 // IORING_OP_TIMEOUT
	OpAccept      Op = 13 // IORING_OP_ACCEPT
	OpAsyncCancel Op = 14 // IORING_OP_ASYNC_CANCEL
	OpClose       Op = 19 // IORING_OP_CLOSE
	OpRead        Op = 22 // IORING_OP_READ
	OpWrite       Op = 23 // IORING_OP_WRITE
	OpSend        Op = 26 // IORING_OP_SEND
	OpRecv        Op = 27 // IORING_OP_RECV
	OpShutdown    Op = 34 // IORING_OP_SHUTDOWN
	OpMsgRing     Op = 40 // IORING_OP_MSG_RING
	OpSendZC      Op = 47 // IORING_OP_SEND_ZC
)

var opNames = map[Op]string{
	OpNop: "nop", OpPollAdd: "poll_add", OpTimeout: "timeout", OpAccept: "accept",
	OpAsyncCancel: "async_cancel", OpClose: "close", OpRead: "read", OpWrite: "write",
	OpSend: "send", OpRecv: "recv", OpShutdown: "shutdown", OpMsgRing: "msg_ring",
	OpSendZC: "send_zc",
}

// SQE flags (sqe->flags, IOSQE_*).
const (
	SQEIOLink       uint8 = 1 << 2 // IOSQE_IO_LINK
	SQEBufferSelect uint8 = 1 << 5 // IOSQE_BUFFER_SELECT
	SQECQESkip      uint8 = 1 << 6 // IOSQE_CQE_SKIP_SUCCESS
)

// SetupFlags are io_uring_params.flags (IORING_SETUP_*).
type SetupFlags uint32

// Setup flags.
const (
	SetupCQSize       SetupFlags = 1 << 3  // IORING_SETUP_CQSIZE
	SetupClamp        SetupFlags = 1 << 4  // IORING_SETUP_CLAMP
	SetupSubmitAll    SetupFlags = 1 << 7  // IORING_SETUP_SUBMIT_ALL
	SetupCoopTaskrun  SetupFlags = 1 << 8  // IORING_SETUP_COOP_TASKRUN
	SetupTaskrunFlag  SetupFlags = 1 << 9  // IORING_SETUP_TASKRUN_FLAG
	SetupSingleIssuer SetupFlags = 1 << 12 // IORING_SETUP_SINGLE_ISSUER
	SetupDeferTaskrun SetupFlags = 1 << 13 // IORING_SETUP_DEFER_TASKRUN
)

var setupNames = []string{
	3: "cqsize", 4: "clamp", 7: "submit_all", 8: "coop_taskrun", 9: "taskrun_flag",
	12: "single_issuer", 13: "defer_taskrun",
}

// Features are io_uring_params.features (IORING_FEAT_*), what the kernel
// says it does.
type Features uint32

// Feature flags.
const (
	FeatSingleMmap     Features = 1 << 0  // IORING_FEAT_SINGLE_MMAP: one mmap for SQ and CQ rings
	FeatNoDrop         Features = 1 << 1  // IORING_FEAT_NODROP: CQ overflow is kept, not dropped
	FeatSubmitStable   Features = 1 << 2  // IORING_FEAT_SUBMIT_STABLE
	FeatRWCurPos       Features = 1 << 3  // IORING_FEAT_RW_CUR_POS
	FeatCurPersonality Features = 1 << 4  // IORING_FEAT_CUR_PERSONALITY
	FeatFastPoll       Features = 1 << 5  // IORING_FEAT_FAST_POLL: socket I/O waits by internal poll, not a worker thread
	FeatPoll32Bits     Features = 1 << 6  // IORING_FEAT_POLL_32BITS
	FeatSQPollNonfixed Features = 1 << 7  // IORING_FEAT_SQPOLL_NONFIXED
	FeatExtArg         Features = 1 << 8  // IORING_FEAT_EXT_ARG: io_uring_enter takes a timeout
	FeatNativeWorkers  Features = 1 << 9  // IORING_FEAT_NATIVE_WORKERS
	FeatRsrcTags       Features = 1 << 10 // IORING_FEAT_RSRC_TAGS
	FeatCQESkip        Features = 1 << 11 // IORING_FEAT_CQE_SKIP
	FeatLinkedFile     Features = 1 << 12 // IORING_FEAT_LINKED_FILE
	// Newer than the header on this machine; from upstream
	// include/uapi/linux/io_uring.h.
	FeatRegRegRing     Features = 1 << 13 // IORING_FEAT_REG_REG_RING (6.3)
	FeatRecvSendBundle Features = 1 << 14 // IORING_FEAT_RECVSEND_BUNDLE (6.10)
	FeatMinTimeout     Features = 1 << 15 // IORING_FEAT_MIN_TIMEOUT (6.12)
	FeatRWAttr         Features = 1 << 16 // IORING_FEAT_RW_ATTR (6.14)
	FeatNoIOWait       Features = 1 << 17 // IORING_FEAT_NO_IOWAIT (6.15)
)

var featNames = []string{
	"single_mmap", "nodrop", "submit_stable", "rw_cur_pos", "cur_personality",
	"fast_poll", "poll_32bits", "sqpoll_nonfixed", "ext_arg", "native_workers",
	"rsrc_tags", "cqe_skip", "linked_file", "reg_reg_ring", "recvsend_bundle",
	"min_timeout", "rw_attr", "no_iowait",
}

// io_uring_enter(2) flags (IORING_ENTER_*).
const (
	enterGetEvents uint32 = 1 << 0 // IORING_ENTER_GETEVENTS
	enterExtArg    uint32 = 1 << 3 // IORING_ENTER_EXT_ARG
)

// SQ ring flags (sq_ring->flags, IORING_SQ_*).
const (
	sqCQOverflow uint32 = 1 << 1 // IORING_SQ_CQ_OVERFLOW
	sqTaskrun    uint32 = 1 << 2 // IORING_SQ_TASKRUN
)

// CQE flags (cqe->flags, IORING_CQE_F_*).
const (
	CQEFBuffer       uint32 = 1 << 0 // IORING_CQE_F_BUFFER: the upper 16 bits are a provided buffer's ID
	CQEFMore         uint32 = 1 << 1 // IORING_CQE_F_MORE: the multishot request stays armed
	CQEFSockNonempty uint32 = 1 << 2 // IORING_CQE_F_SOCK_NONEMPTY
	CQEBufferShift          = 16     // IORING_CQE_BUFFER_SHIFT
)

// Per-opcode flags.
const (
	AcceptMultishot uint16 = 1 << 0 // IORING_ACCEPT_MULTISHOT, in sqe->ioprio
	RecvMultishot   uint16 = 1 << 1 // IORING_RECV_MULTISHOT, in sqe->ioprio

	CancelAll uint32 = 1 << 0 // IORING_ASYNC_CANCEL_ALL: every match, not the first
	CancelFD  uint32 = 1 << 1 // IORING_ASYNC_CANCEL_FD: match sqe->fd, not user_data
	CancelAny uint32 = 1 << 2 // IORING_ASYNC_CANCEL_ANY: match every request
)

// mmap offsets (IORING_OFF_*).
const (
	offSQRing int64 = 0          // IORING_OFF_SQ_RING
	offCQRing int64 = 0x8000000  // IORING_OFF_CQ_RING
	offSQEs   int64 = 0x10000000 // IORING_OFF_SQES
)

// io_uring_register(2) opcodes (IORING_REGISTER_*).
const (
	registerProbe      = 8     // IORING_REGISTER_PROBE
	registerPbufRing   = 22    // IORING_REGISTER_PBUF_RING
	unregisterPbufRing = 23    // IORING_UNREGISTER_PBUF_RING
	probeOpSupported   = 1     // IO_URING_OP_SUPPORTED, in io_uring_probe_op.flags
	maxEntries         = 32768 // IORING_MAX_ENTRIES (io_uring/io_uring.h in the kernel tree)
	probeOpsLen        = 256   // the probe has room for every 8-bit opcode
)

// SQE is struct io_uring_sqe (64 bytes), with the unions flattened to the
// members used here.
type SQE struct {
	Opcode      Op
	Flags       uint8
	IOPrio      uint16
	FD          int32
	Off         uint64 // off / addr2
	Addr        uint64 // addr: a buffer, or the user_data to cancel
	Len         uint32
	OpFlags     uint32 // msg_flags, accept_flags, cancel_flags, timeout_flags ...
	UserData    uint64
	BufGroup    uint16 // buf_index / buf_group
	Personality uint16
	FileIndex   uint32 // splice_fd_in / file_index
	Addr3       uint64
	_           uint64
}

// CQE is struct io_uring_cqe (16 bytes; this package never sets
// IORING_SETUP_CQE32).
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// sqringOffsets is struct io_sqring_offsets.
type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqringOffsets is struct io_cqring_offsets.
type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// Params is struct io_uring_params, filled in by io_uring_setup(2).
type Params struct {
	SQEntries    uint32
	CQEntries    uint32
	Flags        SetupFlags
	SQThreadCPU  uint32
	SQThreadIdle uint32
	Features     Features
	WQFD         uint32
	resv         [3]uint32
	sqOff        sqringOffsets
	cqOff        cqringOffsets
}

// getEventsArg is struct io_uring_getevents_arg, the IORING_ENTER_EXT_ARG
// argument.
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWaitUs uint32 // pad in older headers
	ts        uint64 // pointer to a struct __kernel_timespec
}

// kernelTimespec is struct __kernel_timespec.
type kernelTimespec struct {
	sec, nsec int64
}

// probeOp is struct io_uring_probe_op.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

// probe is struct io_uring_probe with room for every opcode.
type probe struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [probeOpsLen]probeOp
}

// bufEntry is struct io_uring_buf. The ring's tail is overlaid on the
// resv field of entry 0 (struct io_uring_buf_ring).
type bufEntry struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// bufReg is struct io_uring_buf_reg, the argument of
// IORING_(UN)REGISTER_PBUF_RING.
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16 // pad in older headers
	resv        [3]uint64
}
