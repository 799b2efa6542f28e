// Package loopgroup is what the hand-written event-loop servers (evloop:
// select, poll, epoll, epoll-pool; iouring) share around their loops, so
// that it is written once: the life cycle of a group of loops, and each
// loop's timers.
//
// A Group owns the group's state (idle, running, stopped), the shared
// listener, the stopping and force flags, and two counts: the loops still
// running (the last one to exit closes Exited) and the loops still holding
// the listener (the last one to release it closes it). The server embeds a
// Group next to its servers.Core and passes Init the hooks for what differs
// between architectures: how to wake every loop, and what to stop once the
// last loop has exited (evloop's Pool).
//
// Who calls what, in which goroutine:
//   - the server's Start calls Group.Start, whose launch callback runs under
//     the group's lock and starts the loops with Group.Go (one goroutine
//     each); Go calls the loop's function and then, as the goroutine's last
//     act, counts the loop out;
//   - the server's Shutdown and Addr are Group.Shutdown and Group.Addr, on
//     the caller's goroutine;
//   - a loop reads Stopping and Forced at each turn, calls ReleaseListener
//     once when it stops accepting, and Fail when it dies of an error;
//   - Hooks.Wake may run on any goroutine (Shutdown's, a failing loop's);
//     Hooks.Stopped runs on the last loop's goroutine.
//
// A Schedule is one loop's timers: when accepting resumes after an accept
// error (servers.Backoff) and when the next idle sweep is due. It is a
// plain value that only its loop touches. Peer formats a socket address for
// a loop's log lines.
package loopgroup
