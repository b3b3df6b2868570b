//! The `io_error` file system: a FUSE pass-through over one directory of an environment, built
//! on the `fuser` crate (without libfuse), with a switch that makes it fail.
//!
//! It serves the directory it is mounted over: before mounting, its server opens the directory
//! (`O_PATH`) and then does every operation relative to that descriptor — lookups open each
//! entry `O_PATH` relative to its parent, files are reopened through `/proc/self/fd`. While the
//! switch says *pass*, programs see the directory as it is (SQLite included); while it says
//! *fail*, every operation under the mount answers EIO — lookups, stats, opens, and reads,
//! writes and fsyncs on descriptors opened before. Switching back makes everything work again;
//! nothing written is lost, since every write went to the directory below.
//!
//! So that reads and writes on open descriptors reach the server (and can fail), files are
//! opened with direct I/O and nothing is cached: entries and attributes have no time to live.
//! Shared memory maps of its files (SQLite's WAL index) work where the kernel allows them on
//! direct-I/O files (Linux 6.6 and later).
//!
//! Two ways to run it:
//! - pre-mounted ([`prepare`], then [`start`]): init mounts it over each `io_error` path of the
//!   environment's spec before the install steps run, passing through; the fault flips the
//!   switch through a Unix socket in the environment's state directory ([`switch`]);
//! - failing only ([`serve_failing`]): mounted when the fault starts over a path that was not
//!   pre-mounted, answering EIO to everything until the fault ends.
//!
//! Either way its process is named `shadowgate-eio` and lives in the environment's cgroup.

use std::{
    collections::HashMap,
    ffi::{CString, OsStr, OsString},
    fs::File,
    io::{BufRead, BufReader, Read, Write},
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
        unix::{
            ffi::OsStrExt,
            fs::{DirEntryExt, FileExt},
            net::{UnixListener, UnixStream},
        },
    },
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request,
    SessionACL, TimeOrNow, WriteFlags,
};

use crate::spec::inside;

/// The name of the file system's process, as `ps` shows it.
pub const PROCESS_NAME: &std::ffi::CStr = c"shadowgate-eio";

/// Why the file system could not be started or switched.
#[derive(Debug, thiserror::Error)]
pub enum IoFsError {
    #[error("io_error path `{path}`: {message}")]
    Path { path: String, message: String },
    #[error("io_error file system over `{path}`: {message}")]
    Start { path: String, message: String },
    #[error("io_error control socket {}: {message}", socket.display())]
    Control { socket: PathBuf, message: String },
}

/// Nothing is cached by the kernel: every lookup and stat reaches the server.
const TTL: Duration = Duration::ZERO;

struct Node {
    /// An `O_PATH` descriptor of the file or directory below the mount.
    fd: OwnedFd,
    /// (device, inode) below the mount: one node per file, whatever name it was found by.
    key: (u64, u64),
    lookups: u64,
}

struct DirEntry {
    ino: u64,
    kind: FileType,
    name: OsString,
}

#[derive(Default)]
struct Table {
    nodes: HashMap<u64, Node>,
    keys: HashMap<(u64, u64), u64>,
    next_ino: u64,
    files: HashMap<u64, Arc<File>>,
    dirs: HashMap<u64, (OwnedFd, Vec<DirEntry>)>,
    next_fh: u64,
}

/// The pass-through file system. With no root it can only fail.
pub struct PassThrough {
    failing: Arc<AtomicBool>,
    table: Mutex<Table>,
}

type Result<T> = std::result::Result<T, Errno>;

fn errno() -> Errno {
    Errno::from(std::io::Error::last_os_error())
}

/// Replies `$reply` with the error of a failed `Result`, or passes its value on.
macro_rules! tri {
    ($e:expr, $reply:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $reply.error(e),
        }
    };
}

fn check(rc: libc::c_int) -> Result<libc::c_int> {
    if rc < 0 { Err(errno()) } else { Ok(rc) }
}

fn cname(name: &OsStr) -> Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)
}

/// The path through which an `O_PATH` descriptor can be reopened or changed.
fn proc_path(fd: RawFd) -> CString {
    CString::new(format!("/proc/self/fd/{fd}")).unwrap_or_default()
}

fn fstat(fd: RawFd) -> Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid output buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a descriptor, an empty C string and a valid buffer.
    check(unsafe {
        libc::fstatat(fd, c"".as_ptr(), &mut st, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW)
    })?;
    Ok(st)
}

fn time(sec: i64, nsec: i64) -> SystemTime {
    let nsec = nsec.clamp(0, 999_999_999) as u32;
    if sec >= 0 {
        UNIX_EPOCH + Duration::new(sec as u64, nsec)
    } else {
        UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs()) + Duration::from_nanos(nsec.into())
    }
}

fn kind(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

/// The attributes the kernel is given: those of the file below, under the node id the kernel
/// knows it by (which is also the inode number programs see).
fn attr(nodeid: u64, st: &libc::stat) -> FileAttr {
    FileAttr {
        ino: INodeNo(nodeid),
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: time(st.st_atime, st.st_atime_nsec),
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        ctime: time(st.st_ctime, st.st_ctime_nsec),
        crtime: UNIX_EPOCH,
        kind: kind(st.st_mode),
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev as u32,
        blksize: st.st_blksize as u32,
        flags: 0,
    }
}

impl PassThrough {
    /// Serves the directory `root` (an `O_PATH` or directory descriptor); `failing` is the switch.
    pub fn new(root: OwnedFd, failing: Arc<AtomicBool>) -> Result<PassThrough> {
        let st = fstat(root.as_raw_fd())?;
        let mut table = Table { next_ino: 2, next_fh: 1, ..Table::default() };
        let key = (st.st_dev, st.st_ino);
        table.keys.insert(key, INodeNo::ROOT.0);
        table.nodes.insert(INodeNo::ROOT.0, Node { fd: root, key, lookups: u64::MAX / 2 });
        Ok(PassThrough { failing, table: Mutex::new(table) })
    }

    /// A file system that answers EIO to everything.
    pub fn failing_only() -> PassThrough {
        PassThrough {
            failing: Arc::new(AtomicBool::new(true)),
            table: Mutex::new(Table::default()),
        }
    }

    fn failing(&self) -> bool {
        self.failing.load(Ordering::SeqCst)
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the `O_PATH` descriptor of node `ino`.
    fn with_node<R>(&self, ino: INodeNo, f: impl FnOnce(RawFd) -> Result<R>) -> Result<R> {
        if self.failing() {
            return Err(Errno::EIO);
        }
        let table = self.table();
        let node = table.nodes.get(&ino.0).ok_or(Errno::ESTALE)?;
        f(node.fd.as_raw_fd())
    }

    fn with_file<R>(&self, fh: FileHandle, f: impl FnOnce(&File) -> Result<R>) -> Result<R> {
        if self.failing() {
            return Err(Errno::EIO);
        }
        let file = self.table().files.get(&fh.0).cloned().ok_or(Errno::EBADF)?;
        f(&file)
    }

    /// Looks `name` up in `parent` and counts one kernel reference to it.
    fn lookup_entry(&self, parent: INodeNo, name: &OsStr) -> Result<FileAttr> {
        let name = cname(name)?;
        let (fd, st) = self.with_node(parent, |dir| {
            // SAFETY: a directory descriptor and a C string.
            let fd = check(unsafe {
                libc::openat(dir, name.as_ptr(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            })?;
            // SAFETY: just opened, owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let st = fstat(fd.as_raw_fd())?;
            Ok((fd, st))
        })?;
        let key = (st.st_dev, st.st_ino);
        let mut table = self.table();
        let nodeid = match table.keys.get(&key).copied() {
            Some(n) => {
                if let Some(node) = table.nodes.get_mut(&n) {
                    node.lookups += 1;
                }
                n
            }
            None => {
                let n = table.next_ino;
                table.next_ino += 1;
                table.keys.insert(key, n);
                table.nodes.insert(n, Node { fd, key, lookups: 1 });
                n
            }
        };
        Ok(attr(nodeid, &st))
    }

    fn entry(&self, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.lookup_entry(parent, name) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    /// Makes the entry `name` in `parent` with `make` (a `*at` call given the directory and the
    /// name), gives it to the requesting user and answers with it.
    fn make_entry(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        reply: ReplyEntry,
        make: impl FnOnce(RawFd, &CString) -> libc::c_int,
    ) {
        let c = tri!(cname(name), reply);
        tri!(
            self.with_node(parent, |dir| {
                check(make(dir, &c))?;
                Self::chown_new(req, dir, &c);
                Ok(())
            }),
            reply
        );
        self.entry(parent, name, reply);
    }

    /// Gives a newly made entry to the requesting user (the server itself runs as root).
    fn chown_new(req: &Request, dir: RawFd, name: &CString) {
        if req.uid() != 0 || req.gid() != 0 {
            // SAFETY: a directory descriptor and a C string.
            unsafe {
                libc::fchownat(dir, name.as_ptr(), req.uid(), req.gid(), libc::AT_SYMLINK_NOFOLLOW)
            };
        }
    }

    fn add_file(&self, file: File) -> u64 {
        let mut table = self.table();
        let fh = table.next_fh;
        table.next_fh += 1;
        table.files.insert(fh, Arc::new(file));
        fh
    }
}

fn timespec(t: Option<TimeOrNow>) -> libc::timespec {
    match t {
        None => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        Some(TimeOrNow::Now) => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        Some(TimeOrNow::SpecificTime(t)) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
            Err(e) => {
                libc::timespec { tv_sec: -(e.duration().as_secs() as libc::time_t), tv_nsec: 0 }
            }
        },
    }
}

/// Reopens the file behind an `O_PATH` descriptor with `flags`.
fn reopen(fd: RawFd, flags: i32) -> Result<File> {
    let flags = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_NOFOLLOW)
        | libc::O_CLOEXEC;
    let path = proc_path(fd);
    // SAFETY: a C string path and flags; no mode is needed without O_CREAT.
    let fd = check(unsafe { libc::open(path.as_ptr(), flags) })?;
    // SAFETY: just opened, owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

impl Filesystem for PassThrough {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Lets shared memory maps work on direct-I/O files where the kernel supports it.
        let _ = config.add_capabilities(InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.entry(parent, name, reply);
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if ino == INodeNo::ROOT {
            return;
        }
        let mut table = self.table();
        let gone = match table.nodes.get_mut(&ino.0) {
            Some(node) => {
                node.lookups = node.lookups.saturating_sub(nlookup);
                node.lookups == 0
            }
            None => false,
        };
        if gone && let Some(node) = table.nodes.remove(&ino.0) {
            table.keys.remove(&node.key);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let st = match fh {
            Some(fh) if self.table().files.contains_key(&fh.0) => {
                self.with_file(fh, |f| fstat(f.as_raw_fd()))
            }
            _ => self.with_node(ino, fstat),
        };
        let st = tri!(st, reply);
        reply.attr(&TTL, &attr(ino.0, &st));
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let file = fh.and_then(|fh| self.table().files.get(&fh.0).cloned());
        let result = self.with_node(ino, |fd| {
            let path = proc_path(fd);
            if let Some(mode) = mode {
                // SAFETY: a C string path.
                check(unsafe { libc::chmod(path.as_ptr(), mode & 0o7777) })?;
            }
            if uid.is_some() || gid.is_some() {
                // SAFETY: a descriptor and an empty C string; u32::MAX leaves an id unchanged.
                check(unsafe {
                    libc::fchownat(
                        fd,
                        c"".as_ptr(),
                        uid.unwrap_or(u32::MAX),
                        gid.unwrap_or(u32::MAX),
                        libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
                    )
                })?;
            }
            if let Some(size) = size {
                match &file {
                    Some(f) => f.set_len(size).map_err(Errno::from)?,
                    None => reopen(fd, libc::O_WRONLY)?.set_len(size).map_err(Errno::from)?,
                }
            }
            if atime.is_some() || mtime.is_some() {
                let times = [timespec(atime), timespec(mtime)];
                // SAFETY: a C string path and two timespecs.
                check(unsafe {
                    libc::utimensat(libc::AT_FDCWD, path.as_ptr(), times.as_ptr(), 0)
                })?;
            }
            fstat(fd)
        });
        let st = tri!(result, reply);
        reply.attr(&TTL, &attr(ino.0, &st));
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let target = self.with_node(ino, |fd| {
            let mut buf = vec![0u8; libc::PATH_MAX as usize];
            // SAFETY: a descriptor, an empty C string and a buffer of the length passed.
            let n =
                unsafe { libc::readlinkat(fd, c"".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                return Err(errno());
            }
            buf.truncate(n as usize);
            Ok(buf)
        });
        let target = tri!(target, reply);
        reply.data(&target);
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        // SAFETY: a directory descriptor and a C string.
        self.make_entry(req, parent, name, reply, |dir, c| unsafe {
            libc::mknodat(dir, c.as_ptr(), mode, rdev.into())
        });
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        // SAFETY: a directory descriptor and a C string.
        self.make_entry(req, parent, name, reply, |dir, c| unsafe {
            libc::mkdirat(dir, c.as_ptr(), mode)
        });
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let c = tri!(cname(name), reply);
        // SAFETY: a directory descriptor and a C string.
        tri!(
            self.with_node(parent, |dir| check(unsafe { libc::unlinkat(dir, c.as_ptr(), 0) })),
            reply
        );
        reply.ok();
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let c = tri!(cname(name), reply);
        tri!(
            self.with_node(parent, |dir| {
                // SAFETY: a directory descriptor and a C string.
                check(unsafe { libc::unlinkat(dir, c.as_ptr(), libc::AT_REMOVEDIR) })
            }),
            reply
        );
        reply.ok();
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let t = tri!(cname(target.as_os_str()), reply);
        // SAFETY: two C strings and a directory descriptor.
        self.make_entry(req, parent, link_name, reply, |dir, c| unsafe {
            libc::symlinkat(t.as_ptr(), dir, c.as_ptr())
        });
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let from = tri!(cname(name), reply);
        let to = tri!(cname(newname), reply);
        let target = tri!(self.with_node(newparent, Ok), reply);
        tri!(
            self.with_node(parent, |dir| {
                // SAFETY: two directory descriptors (requests are served one at a time, so no
                // forget closes `target` meanwhile), two C strings and flags.
                check(unsafe {
                    libc::renameat2(dir, from.as_ptr(), target, to.as_ptr(), flags.bits())
                })
            }),
            reply
        );
        reply.ok();
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let to = tri!(cname(newname), reply);
        let source = tri!(self.with_node(ino, |fd| Ok(proc_path(fd))), reply);
        tri!(
            self.with_node(newparent, |dir| {
                // SAFETY: C strings and a directory descriptor.
                check(unsafe {
                    libc::linkat(
                        libc::AT_FDCWD,
                        source.as_ptr(),
                        dir,
                        to.as_ptr(),
                        libc::AT_SYMLINK_FOLLOW,
                    )
                })
            }),
            reply
        );
        self.entry(newparent, newname, reply);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let file = tri!(self.with_node(ino, |fd| reopen(fd, flags.0)), reply);
        let fh = self.add_file(file);
        reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let data = self.with_file(fh, |f| {
            let mut buf = vec![0u8; size as usize];
            let mut done = 0;
            while done < buf.len() {
                match f.read_at(&mut buf[done..], offset + done as u64) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Errno::from(e)),
                }
            }
            buf.truncate(done);
            Ok(buf)
        });
        let data = tri!(data, reply);
        reply.data(&data);
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        tri!(self.with_file(fh, |f| f.write_all_at(data, offset).map_err(Errno::from)), reply);
        reply.written(data.len() as u32);
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        tri!(self.with_file(fh, |_| Ok(())), reply);
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        // Always, failing or not: the kernel has closed its side.
        self.table().files.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        tri!(
            self.with_file(fh, |f| if datasync { f.sync_data() } else { f.sync_all() }
                .map_err(Errno::from)),
            reply
        );
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let dir =
            tri!(self.with_node(ino, |fd| reopen(fd, libc::O_RDONLY | libc::O_DIRECTORY)), reply);
        let mut table = self.table();
        let fh = table.next_fh;
        table.next_fh += 1;
        table.dirs.insert(fh, (OwnedFd::from(dir), Vec::new()));
        reply.opened(FileHandle(fh), FopenFlags::empty());
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if self.failing() {
            return reply.error(Errno::EIO);
        }
        let mut table = self.table();
        let Some((fd, entries)) = table.dirs.get_mut(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        // The listing is read at the start (offset 0) and served from memory after.
        if offset == 0 {
            let list = match std::fs::read_dir(Path::new(OsStr::from_bytes(
                proc_path(fd.as_raw_fd()).as_bytes(),
            ))) {
                Ok(list) => list,
                Err(e) => return reply.error(Errno::from(e)),
            };
            entries.clear();
            entries.push(DirEntry { ino: ino.0, kind: FileType::Directory, name: ".".into() });
            entries.push(DirEntry { ino: 1, kind: FileType::Directory, name: "..".into() });
            for e in list.flatten() {
                let kind = e
                    .file_type()
                    .ok()
                    .and_then(FileType::from_std)
                    .unwrap_or(FileType::RegularFile);
                entries.push(DirEntry { ino: e.ino(), kind, name: e.file_name() });
            }
        }
        for (i, e) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(e.ino), (i + 1) as u64, e.kind, &e.name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.table().dirs.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        tri!(
            self.with_node(ino, |fd| reopen(fd, libc::O_RDONLY | libc::O_DIRECTORY)?
                .sync_all()
                .map_err(Errno::from)),
            reply
        );
        reply.ok();
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        let st = self.with_node(ino, |fd| {
            // SAFETY: a zeroed statvfs is a valid output buffer.
            let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
            // SAFETY: a descriptor and a valid buffer.
            check(unsafe { libc::fstatvfs(fd, &mut st) })?;
            Ok(st)
        });
        let st = tri!(st, reply);
        reply.statfs(
            st.f_blocks,
            st.f_bfree,
            st.f_bavail,
            st.f_files,
            st.f_ffree,
            st.f_bsize as u32,
            st.f_namemax as u32,
            st.f_frsize as u32,
        );
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        tri!(self.with_node(ino, |_| Ok(())), reply);
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let c = tri!(cname(name), reply);
        let file = tri!(
            self.with_node(parent, |dir| {
                let flags =
                    flags & !(libc::O_NOCTTY | libc::O_NOFOLLOW) | libc::O_CREAT | libc::O_CLOEXEC;
                // SAFETY: a directory descriptor, a C string, flags and a mode.
                let fd = check(unsafe { libc::openat(dir, c.as_ptr(), flags, mode) })?;
                // SAFETY: just opened, owned by nobody else.
                let file = unsafe { File::from_raw_fd(fd) };
                Self::chown_new(req, dir, &c);
                Ok(file)
            }),
            reply
        );
        let a = tri!(self.lookup_entry(parent, name), reply);
        let fh = self.add_file(file);
        reply.created(&TTL, &a, Generation(0), FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        tri!(
            self.with_file(fh, |f| {
                // SAFETY: an open descriptor and plain integers.
                check(unsafe {
                    libc::fallocate(
                        f.as_raw_fd(),
                        mode,
                        offset as libc::off_t,
                        length as libc::off_t,
                    )
                })
            }),
            reply
        );
        reply.ok();
    }
}

/// What init holds for one pre-mounted file system between opening it (while the host's file
/// system is still visible) and starting it (once the environment's root is built).
pub struct Prepared {
    path: String,
    fuse: OwnedFd,
    control: UnixListener,
}

impl Prepared {
    /// The path inside the environment it will be mounted over.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// Opens `/dev/fuse` and binds the control socket at `socket` for the file system that will
/// be mounted over `path`. Called by init before it pivots into the environment's root.
pub fn prepare(path: &str, socket: &Path) -> std::result::Result<Prepared, IoFsError> {
    let err = |message: String| IoFsError::Start { path: path.to_string(), message };
    let bad = |message: &str| IoFsError::Path { path: path.to_string(), message: message.into() };
    if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
        return Err(bad("must be an absolute path without `..`"));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty()
        || ["/proc", "/sys", "/dev"]
            .iter()
            .any(|d| trimmed == *d || trimmed.starts_with(&format!("{d}/")))
    {
        return Err(bad(
            "must be a directory of the application's files, not the root or a directory of \
             /proc, /sys or /dev",
        ));
    }
    let fuse = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(|e| err(format!("open /dev/fuse: {e}")))?;
    let _ = std::fs::remove_file(socket);
    let control = UnixListener::bind(socket)
        .map_err(|e| err(format!("bind the control socket {}: {e}", socket.display())))?;
    Ok(Prepared { path: path.to_string(), fuse: fuse.into(), control })
}

/// Whether a missing `path` is created at start: it is under the environment's writable
/// data or temporary directory, where nothing exists before the application runs.
pub fn created_at_start(path: &str) -> bool {
    [inside::DATA_DIR, inside::TMP_DIR]
        .iter()
        .any(|dir| path == *dir || path.starts_with(&format!("{dir}/")))
}

/// Mounts the prepared file system over its path (in the caller's mount namespace), passing
/// through, and starts its server as a child process. Returns the child's pid once the mount
/// is in place. Called by init (a single-threaded process) after it built the root.
pub fn start(prepared: Prepared) -> std::result::Result<i32, IoFsError> {
    let Prepared { path, fuse, control } = prepared;
    let path_err = |message: String| IoFsError::Path { path: path.clone(), message };
    let p = Path::new(&path);
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(path_err(
                "is not a directory inside the environment; io_error covers a directory".into(),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && created_at_start(&path) => {
            std::fs::create_dir_all(p).map_err(|e| path_err(format!("create it: {e}")))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(path_err(format!(
                "does not exist inside the environment when it starts (its file system is \
                 mounted before the install steps run); use a directory of the release, or one \
                 under {} or {}, which is created",
                inside::DATA_DIR,
                inside::TMP_DIR
            )));
        }
        Err(e) => return Err(path_err(format!("stat: {e}"))),
    }
    let root = open_dir(p).map_err(|e| path_err(format!("open: {e}")))?;
    let cpath =
        CString::new(path.as_bytes()).map_err(|_| path_err("contains a NUL byte".into()))?;
    let (report_read, report_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| IoFsError::Start { path: path.clone(), message: format!("pipe: {e}") })?;
    // SAFETY: init is single-threaded, so the child may run ordinary code; it never returns.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(IoFsError::Start { path, message: format!("fork: {e}") }),
        Ok(nix::unistd::ForkResult::Child) => {
            drop(report_read);
            // Hold none of init's other descriptors (its status pipe, its logs).
            let mut keep =
                [fuse.as_raw_fd(), root.as_raw_fd(), control.as_raw_fd(), report_write.as_raw_fd()];
            crate::faults::close_all_but(&mut keep);
            // SAFETY: prctl with a valid C string; umask takes a plain mode.
            unsafe {
                libc::prctl(libc::PR_SET_NAME, PROCESS_NAME.as_ptr() as libc::c_ulong, 0, 0, 0);
                libc::umask(0);
            }
            // Out of the OOM killer's choices: the application dies, not its file system.
            let _ = std::fs::write("/proc/self/oom_score_adj", "-1000");
            let mut report = File::from(report_write);
            if let Err(e) = mount_fuse(fuse.as_raw_fd(), &cpath) {
                let _ = report.write_all(format!("mount it: {e}").as_bytes());
                std::process::exit(1);
            }
            let _ = report.write_all(b"ok");
            drop(report);
            let failing = Arc::new(AtomicBool::new(false));
            let code = match serve(root, fuse, control, failing) {
                Ok(()) => 0,
                Err(_) => 1,
            };
            std::process::exit(code)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(report_write);
            drop((fuse, root, control));
            let mut answer = String::new();
            let _ = File::from(report_read).read_to_string(&mut answer);
            if answer == "ok" {
                return Ok(child.as_raw());
            }
            let _ = nix::sys::wait::waitpid(child, None);
            Err(IoFsError::Start {
                path,
                message: if answer.is_empty() { "its server died".into() } else { answer },
            })
        }
    }
}

/// Mounts the FUSE connection `fuse` over the directory `path` (as root, in the caller's mount
/// namespace). Requests wait in the kernel until the server answers the INIT request.
fn mount_fuse(fuse: RawFd, path: &std::ffi::CStr) -> std::io::Result<()> {
    let opts = CString::new(format!(
        "fd={fuse},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions"
    ))
    .map_err(std::io::Error::other)?;
    // SAFETY: C strings for source, target, type and options.
    let rc = unsafe {
        libc::mount(
            c"shadowgate-eio".as_ptr(),
            path.as_ptr(),
            c"fuse.shadowgate-eio".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            opts.as_ptr().cast(),
        )
    };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Opens the directory at `path` itself (not what a symbolic link there points to).
fn open_dir(path: &Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)?;
    Ok(dir.into())
}

/// Serves the mounted file system over `root` on `fuse` until it is unmounted, taking
/// `fail` / `pass` commands on `control` meanwhile.
fn serve(
    root: OwnedFd,
    fuse: OwnedFd,
    control: UnixListener,
    failing: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let fs = PassThrough::new(root, failing.clone())
        .map_err(|e| std::io::Error::from_raw_os_error(e.code()))?;
    let session = fuser::Session::from_fd(fs, fuse, SessionACL::All, Config::default())?;
    std::thread::Builder::new()
        .name("shadowgate-eio-control".into())
        .spawn(move || control_loop(&control, &failing))?;
    session.run()
}

/// Answers each connection's commands: `fail` and `pass` flip the switch and answer `ok fail` /
/// `ok pass` once it is flipped (so every request read after the answer sees it); `state`
/// answers the current position.
fn control_loop(control: &UnixListener, failing: &AtomicBool) {
    for stream in control.incoming() {
        let Ok(stream) = stream else { continue };
        let Ok(writer) = stream.try_clone() else { continue };
        let mut writer = writer;
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            match line.trim() {
                "fail" => failing.store(true, Ordering::SeqCst),
                "pass" => failing.store(false, Ordering::SeqCst),
                "state" => {}
                other => {
                    let _ = writeln!(writer, "error: unknown command `{other}`");
                    continue;
                }
            }
            let state = if failing.load(Ordering::SeqCst) { "fail" } else { "pass" };
            if writeln!(writer, "ok {state}").is_err() {
                break;
            }
        }
    }
}

/// Flips the switch of the pre-mounted file system whose control socket is `socket`: failing
/// (every operation answers EIO) or passing through. Returns once it is in effect.
pub fn switch(socket: &Path, failing: bool) -> std::result::Result<(), IoFsError> {
    let err = |message: String| IoFsError::Control { socket: socket.to_path_buf(), message };
    let mut stream = UnixStream::connect(socket).map_err(|e| err(format!("connect: {e}")))?;
    let limit = Some(Duration::from_secs(10));
    stream.set_read_timeout(limit).map_err(|e| err(e.to_string()))?;
    stream.set_write_timeout(limit).map_err(|e| err(e.to_string()))?;
    let command = if failing { "fail" } else { "pass" };
    writeln!(stream, "{command}").map_err(|e| err(format!("send: {e}")))?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(|e| err(format!("read: {e}")))?;
    if answer.trim() == format!("ok {command}") {
        Ok(())
    } else if answer.is_empty() {
        Err(err("the file system's server closed the connection (did it die?)".into()))
    } else {
        Err(err(format!("answered `{}`", answer.trim())))
    }
}

/// The failing-only file system for a fault on a path that was not pre-mounted: serves `fuse`
/// (already mounted) answering EIO until `control` is closed or readable, then returns. For a
/// process forked from a multi-threaded one: it only allocates (the C library's allocator is
/// safe to use after fork) and starts threads of its own.
///
/// # Safety
/// `fuse` must be an open descriptor of /dev/fuse that the caller owns and hands over.
pub(crate) unsafe fn serve_failing(fuse: RawFd, control: RawFd) {
    // SAFETY: the caller hands over its descriptor of /dev/fuse.
    let fuse = unsafe { OwnedFd::from_raw_fd(fuse) };
    let session = match fuser::Session::from_fd(
        PassThrough::failing_only(),
        fuse,
        SessionACL::All,
        Config::default(),
    ) {
        Ok(s) => s,
        Err(_) => return,
    };
    if std::thread::Builder::new().spawn(move || session.run()).is_err() {
        return;
    }
    let mut fds = [libc::pollfd { fd: control, events: libc::POLLIN, revents: 0 }];
    // SAFETY: one valid pollfd.
    while unsafe { libc::poll(fds.as_mut_ptr(), 1, -1) } < 0
        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
    {}
}

#[cfg(test)]
mod tests {
    //! These mount FUSE file systems, so they need root and /dev/fuse (as CI has); each one
    //! works in a private mount namespace of its own thread, so nothing shows on the host.

    use std::{
        fs,
        io::{Read, Seek, SeekFrom, Write},
        os::unix::fs::{MetadataExt, PermissionsExt},
    };

    use shadowgate_store::Store;

    use super::*;

    /// The pass-through file system mounted over a directory, with its switch.
    struct Mounted {
        dir: tempfile::TempDir,
        socket: PathBuf,
    }

    impl Mounted {
        fn path(&self) -> &Path {
            self.dir.path()
        }
    }

    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
        }
    }

    /// Mounts the file system over a new temporary directory that already holds a file.
    fn mount_over_new_dir() -> Mounted {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test mounts a FUSE file system: run it as root (as CI does)"
        );
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("a mount namespace");
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .expect("make the mounts private");
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("before"), "there before the mount").unwrap();
        let root = open_dir(dir.path()).unwrap();
        let fuse: OwnedFd =
            fs::OpenOptions::new().read(true).write(true).open("/dev/fuse").unwrap().into();
        let cpath = CString::new(dir.path().as_os_str().as_bytes()).unwrap();
        mount_fuse(fuse.as_raw_fd(), &cpath).expect("mount the file system");
        let socket = std::env::temp_dir().join(format!(
            "shadowgate-iofs-test-{}-{:?}.sock",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_file(&socket);
        let control = UnixListener::bind(&socket).unwrap();
        std::thread::spawn(move || {
            serve(root, fuse, control, Arc::new(AtomicBool::new(false))).unwrap();
        });
        let kind = nix::sys::statfs::statfs(dir.path()).unwrap().filesystem_type();
        assert_eq!(kind, nix::sys::statfs::FUSE_SUPER_MAGIC, "the directory is a FUSE mount");
        Mounted { dir, socket }
    }

    fn code<T>(r: std::io::Result<T>) -> String {
        match r {
            Ok(_) => "ok".into(),
            Err(e) => match e.raw_os_error() {
                Some(n) => nix::errno::Errno::from_raw(n).to_string(),
                None => e.to_string(),
            },
        }
    }

    /// A series of ordinary operations in `dir`; what each gave, as text.
    fn exercise(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut note = |what: &str, result: String| out.push(format!("{what}: {result}"));
        let p = |name: &str| dir.join(name);

        note("write a", code(fs::write(p("a"), "hello world")));
        note("read a", fs::read_to_string(p("a")).unwrap_or_else(|e| e.to_string()));
        let mut f = fs::OpenOptions::new().append(true).open(p("a")).unwrap();
        note("append", code(f.write_all(b", again")));
        note("fsync", code(f.sync_all()));
        note("fdatasync", code(f.sync_data()));
        drop(f);
        note("size", format!("{:?}", fs::metadata(p("a")).map(|m| m.len()).ok()));
        let f = fs::OpenOptions::new().write(true).open(p("a")).unwrap();
        note("truncate", code(f.set_len(5)));
        drop(f);
        note("after truncate", fs::read_to_string(p("a")).unwrap_or_default());
        note(
            "truncate on open",
            code(fs::File::create(p("a")).and_then(|mut f| f.write_all(b"x"))),
        );
        note("after create", fs::read_to_string(p("a")).unwrap_or_default());
        let mut f = fs::OpenOptions::new().read(true).write(true).open(p("a")).unwrap();
        note("seek write", code(f.seek(SeekFrom::Start(4)).and_then(|_| f.write_all(b"yz"))));
        let mut buf = Vec::new();
        note("seek read", code(f.seek(SeekFrom::Start(0)).and_then(|_| f.read_to_end(&mut buf))));
        note("hole", format!("{buf:?}"));
        drop(f);
        note("rename", code(fs::rename(p("a"), p("b"))));
        note("old name", code(fs::metadata(p("a"))));
        note("new name", fs::read(p("b")).map(|b| format!("{b:?}")).unwrap_or_default());
        note("mkdir", code(fs::create_dir(p("d"))));
        note("mkdir again", code(fs::create_dir(p("d"))));
        note("create in d", code(fs::write(p("d/e"), "e")));
        note("rmdir non-empty", code(fs::remove_dir(p("d"))));
        note("rename over", code(fs::rename(p("d/e"), p("b"))));
        note("replaced", fs::read_to_string(p("b")).unwrap_or_default());
        note("open missing", code(fs::File::open(p("missing"))));
        note("unlink missing", code(fs::remove_file(p("missing"))));
        note("rmdir", code(fs::remove_dir(p("d"))));
        note("symlink", code(std::os::unix::fs::symlink("b", p("link"))));
        note("readlink", format!("{:?}", fs::read_link(p("link")).ok()));
        note("through link", fs::read_to_string(p("link")).unwrap_or_default());
        note("hard link", code(fs::hard_link(p("b"), p("c"))));
        note("nlink", format!("{:?}", fs::metadata(p("b")).map(|m| m.nlink()).ok()));
        note("chmod", code(fs::set_permissions(p("c"), fs::Permissions::from_mode(0o600))));
        note("mode", format!("{:o}", fs::metadata(p("b")).map(|m| m.mode() & 0o7777).unwrap_or(0)));
        note("unlink", code(fs::remove_file(p("c"))));
        note("nlink after", format!("{:?}", fs::metadata(p("b")).map(|m| m.nlink()).ok()));
        note("excl", code(fs::OpenOptions::new().write(true).create_new(true).open(p("b"))));
        note(
            "nested",
            code(fs::create_dir_all(p("x/y/z")).and_then(|_| fs::write(p("x/y/z/f"), "deep"))),
        );
        note("remove tree", code(fs::remove_dir_all(p("x"))));
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|it| it.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        note("readdir", names.join(","));
        out
    }

    /// The names and contents of the files in `dir` (one level, sorted).
    fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn pass_through_gives_the_same_results_as_the_directory_below() {
        let plain = tempfile::tempdir().unwrap();
        fs::write(plain.path().join("before"), "there before the mount").unwrap();
        let expected = exercise(plain.path());

        let mounted = mount_over_new_dir();
        assert_eq!(
            fs::read_to_string(mounted.path().join("before")).unwrap(),
            "there before the mount",
            "what was there before the mount is served"
        );
        let through = exercise(mounted.path());
        assert_eq!(through, expected);
        let statfs = nix::sys::statvfs::statvfs(mounted.path()).unwrap();
        assert!(statfs.blocks() > 0, "statfs reports the file system below");

        // SQLite (WAL, fsync on commit) works on it, and its file is sound after a reopen.
        let db = mounted.path().join("store.db");
        let store = shadowgate_store::SqliteStore::open(&db).unwrap();
        for i in 0..50 {
            store
                .append_event(&shadowgate_store::NewEvent {
                    env_id: None,
                    run_id: None,
                    kind: "test".into(),
                    at_ms: i,
                    end_ms: None,
                    message: format!("event {i}"),
                    data: serde_json::json!({}),
                })
                .unwrap();
        }
        drop(store);
        let store = shadowgate_store::SqliteStore::open(&db).unwrap();
        store.integrity_check().unwrap();
        assert_eq!(store.events(&Default::default()).unwrap().len(), 50);
        drop(store);

        // Everything landed in the directory below, as on the plain directory.
        let mounted_tree = tree(mounted.path());
        let path = mounted.path().to_path_buf();
        nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH).unwrap();
        let below: Vec<(String, Vec<u8>)> =
            tree(&path).into_iter().filter(|(n, _)| !n.starts_with("store.db")).collect();
        let without_db: Vec<(String, Vec<u8>)> =
            mounted_tree.into_iter().filter(|(n, _)| !n.starts_with("store.db")).collect();
        assert_eq!(below, tree(plain.path()));
        assert_eq!(without_db, below);
    }

    #[test]
    fn failing_answers_eio_even_on_open_descriptors_and_passing_again_loses_nothing() {
        let mounted = mount_over_new_dir();
        let path = mounted.path().join("table");
        let f = fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap();
        f.write_all_at(b"kept", 0).unwrap();
        f.sync_all().unwrap();
        let mut buf = [0u8; 4];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"kept");

        switch(&mounted.socket, true).unwrap();
        let eio = |r: std::io::Result<()>| {
            assert_eq!(r.map_err(|e| e.raw_os_error()), Err(Some(libc::EIO)));
        };
        eio(f.read_exact_at(&mut buf, 0));
        eio(f.write_all_at(b"lost", 0));
        eio(f.sync_all());
        eio(f.metadata().map(|_| ()));
        eio(fs::File::open(&path).map(|_| ()));
        eio(fs::metadata(&path).map(|_| ()));
        eio(fs::write(mounted.path().join("new"), "x"));
        eio(fs::read_dir(mounted.path()).map(|_| ()));
        eio(fs::create_dir(mounted.path().join("dir")));
        // Switching twice is harmless.
        switch(&mounted.socket, true).unwrap();

        switch(&mounted.socket, false).unwrap();
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"kept", "the data written before is intact");
        f.write_all_at(b"more", 4).unwrap();
        f.sync_all().unwrap();
        drop(f);
        assert_eq!(fs::read_to_string(&path).unwrap(), "keptmore");
        assert!(!mounted.path().join("new").exists());
    }

    #[test]
    fn a_bad_command_on_the_control_socket_is_answered_and_changes_nothing() {
        let mounted = mount_over_new_dir();
        let mut stream = UnixStream::connect(&mounted.socket).unwrap();
        writeln!(stream, "explode").unwrap();
        let mut answer = String::new();
        BufReader::new(&stream).read_line(&mut answer).unwrap();
        assert!(answer.starts_with("error: unknown command `explode`"), "{answer}");
        assert_eq!(
            fs::read_to_string(mounted.path().join("before")).unwrap(),
            "there before the mount"
        );
        let missing = std::env::temp_dir().join("shadowgate-no-such-control.sock");
        let err = switch(&missing, true).unwrap_err().to_string();
        assert!(
            err.contains("shadowgate-no-such-control.sock") && err.contains("connect"),
            "{err}"
        );
    }

    #[test]
    fn paths_are_checked_and_only_missing_ones_in_writable_directories_are_created() {
        assert!(created_at_start("/shadowgate/data/db"));
        assert!(created_at_start("/tmp"));
        assert!(!created_at_start("/shadowgate/database"));
        assert!(!created_at_start("/no/such/dir"));
        let err = match prepare("relative/path", Path::new("/nonexistent/control.sock")) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a relative path was accepted"),
        };
        assert!(err.contains("`relative/path`") && err.contains("absolute"), "{err}");
        for path in ["/", "/proc/1", "/dev", "/shadowgate/../etc"] {
            assert!(prepare(path, Path::new("/nonexistent/control.sock")).is_err(), "{path}");
        }
    }
}
