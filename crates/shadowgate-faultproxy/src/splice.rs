//! Zero-copy forwarding for directions without toxics, through a kernel pipe with `splice(2)`.
//!
//! Most traffic through a fault proxy meets no toxic most of the time, and then the proxy
//! should cost as little as a proxy can. Reading into user space and writing back out copies
//! every byte twice; splicing from one socket into a pipe and from the pipe into the other
//! socket moves page references instead, which roughly halves the proxy's CPU per byte.

use std::{
    io,
    os::fd::{AsFd, OwnedFd},
};

use nix::{
    fcntl::{FcntlArg, OFlag, SpliceFFlags, fcntl, splice},
    unistd::pipe2,
};

/// The pipe size asked for: larger pipes mean fewer system calls per byte. The kernel may
/// grant less (non-root processes are capped by `/proc/sys/fs/pipe-max-size`).
const PIPE_BYTES: i32 = 1024 * 1024;

/// A pipe between a source socket and a destination socket, and how much it holds.
#[derive(Debug)]
pub(crate) struct SplicePipe {
    read_end: OwnedFd,
    write_end: OwnedFd,
    capacity: usize,
    held: usize,
}

impl SplicePipe {
    pub(crate) fn new() -> io::Result<SplicePipe> {
        let (read_end, write_end) = pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        // A bigger pipe is an optimisation; the default 64 KiB works too.
        let capacity = fcntl(&write_end, FcntlArg::F_SETPIPE_SZ(PIPE_BYTES))
            .or_else(|_| fcntl(&write_end, FcntlArg::F_GETPIPE_SZ))?;
        let capacity = usize::try_from(capacity).unwrap_or(64 * 1024);
        Ok(SplicePipe { read_end, write_end, capacity, held: 0 })
    }

    /// Bytes in the pipe, not yet written to the destination.
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Moves what the source has (up to the pipe's capacity) into the pipe. Returns the bytes
    /// moved; 0 means the source has ended. Call it only when the pipe is empty, so that
    /// `WouldBlock` can only mean that the source has nothing to read.
    pub(crate) fn fill_from(&mut self, source: impl AsFd) -> io::Result<usize> {
        let room = self.capacity - self.held;
        let moved = splice(source, None, &self.write_end, None, room, flags())?;
        self.held += moved;
        Ok(moved)
    }

    /// Moves what the pipe holds into the destination, as much as it accepts.
    pub(crate) fn drain_into(&mut self, destination: impl AsFd) -> io::Result<usize> {
        let moved = splice(&self.read_end, None, destination, None, self.held, flags())?;
        self.held -= moved;
        Ok(moved)
    }
}

fn flags() -> SpliceFFlags {
    SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK
}
