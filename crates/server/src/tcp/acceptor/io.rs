//! Socket reads and writes with the connection's timeouts. Every wait is bounded: a read by a
//! deadline the caller chooses, a write by "no progress for `send_timeout`".

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::BorrowedFd;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rustix::net::SendFlags;
use tokio::io::Interest;
use tokio::net::TcpStream;

use super::transport::Transport;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// Bytes read from the socket per call, at most: enough for a typical request head, small
/// enough that an idle connection that has just been handed one costs little.
pub(crate) const READ_CHUNK: usize = 4096;

/// What one bounded read produced.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    /// Some bytes were appended to the buffer.
    Data,
    /// The peer closed its side.
    Eof,
    /// The deadline passed first.
    TimedOut,
    /// The socket failed (reset, …).
    Failed,
}

/// Makes room for a read of up to [`READ_CHUNK`] bytes.
fn reserve_chunk(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
}

/// Appends at most [`READ_CHUNK`] bytes to `buf`, waiting until `deadline` at the latest.
pub(crate) async fn read_some<T: AsyncRead + Unpin>(
    io: &mut T,
    buf: &mut BytesMut,
    deadline: Instant,
) -> ReadOutcome {
    reserve_chunk(buf);
    match tokio::time::timeout_at(deadline, io.read_buf(buf)).await {
        Err(_) => ReadOutcome::TimedOut,
        Ok(Ok(0)) => ReadOutcome::Eof,
        Ok(Ok(_)) => ReadOutcome::Data,
        Ok(Err(_)) => ReadOutcome::Failed,
    }
}

/// Appends what a stream that was just reported readable holds, without waiting: `None` when
/// it holds nothing after all (the readiness was stale, or TLS needs more of a record).
///
/// One poll with a waker that does nothing: the caller waits for readiness again before it
/// polls anew, and that wait registers its own waker. A short read clears the socket's
/// readiness, so the next wait does not start with a read that finds nothing.
pub(crate) fn read_ready<T: AsyncRead + Unpin>(
    io: &mut T,
    buf: &mut BytesMut,
) -> Option<ReadOutcome> {
    reserve_chunk(buf);
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(io.read_buf(buf)).poll(&mut cx) {
        Poll::Pending => None,
        Poll::Ready(Ok(0)) => Some(ReadOutcome::Eof),
        Poll::Ready(Ok(_)) => Some(ReadOutcome::Data),
        Poll::Ready(Err(_)) => Some(ReadOutcome::Failed),
    }
}

/// Writes `head` then `body` completely, with vectored writes; fails with `TimedOut` when a
/// single write makes no progress for `stall` (a peer that stopped reading).
pub(crate) async fn write_all<T: AsyncWrite + Unpin>(
    io: &mut T,
    head: &[u8],
    body: &[u8],
    stall: Duration,
) -> io::Result<()> {
    let (mut head, mut body) = (head, body);
    while !head.is_empty() || !body.is_empty() {
        let slices = [IoSlice::new(head), IoSlice::new(body)];
        let written = match tokio::time::timeout(stall, io.write_vectored(&slices)).await {
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "send timeout")),
            Ok(result) => result?,
        };
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_head = written.min(head.len());
        head = &head[from_head..];
        body = &body[written - from_head..];
    }
    Ok(())
}

/// The head of a file response is sent with `MSG_MORE` on Linux (see below); other systems send
/// it plainly (Rust ignores `SIGPIPE`, so `MSG_NOSIGNAL` is not needed for safety there).
#[cfg(target_os = "linux")]
const HEAD_FLAGS: SendFlags = SendFlags::MORE.union(SendFlags::NOSIGNAL);
#[cfg(not(target_os = "linux"))]
const HEAD_FLAGS: SendFlags = SendFlags::empty();

/// Sends up to `left` bytes of `file` from `offset` (advanced by what was sent) with Linux's
/// `sendfile`.
#[cfg(target_os = "linux")]
fn send_file_chunk(
    socket: &TcpStream,
    file: BorrowedFd<'_>,
    offset: &mut u64,
    left: usize,
) -> io::Result<usize> {
    Ok(rustix::fs::sendfile(socket, file, Some(offset), left)?)
}

/// The portable stand-in for `sendfile`: reads a chunk at `offset` and sends what the socket
/// takes (what it does not take is read again next time).
#[cfg(not(target_os = "linux"))]
fn send_file_chunk(
    socket: &TcpStream,
    file: BorrowedFd<'_>,
    offset: &mut u64,
    left: usize,
) -> io::Result<usize> {
    let mut chunk = vec![0u8; left.min(64 * 1024)];
    let read = rustix::io::pread(file, &mut chunk, *offset)?;
    if read == 0 {
        return Ok(0);
    }
    let sent = rustix::net::send(socket, &chunk[..read], SendFlags::empty())?;
    *offset += sent as u64;
    Ok(sent)
}

/// Writes `head`, then `len` bytes of `file` from `offset` with `sendfile`: the kernel hands
/// the file's pages to TCP without copying them through this process. The head goes with
/// `MSG_MORE`, so head and the first body bytes still leave in full packets. Fails with
/// `TimedOut` when a single write makes no progress for `stall`, as [`write_all`] does.
pub(crate) async fn write_head_and_send_file(
    socket: &TcpStream,
    head: &[u8],
    (file, offset, len): (BorrowedFd<'_>, u64, usize),
    stall: Duration,
) -> io::Result<()> {
    let mut head = head;
    while !head.is_empty() {
        let send = socket.async_io(Interest::WRITABLE, || {
            Ok(rustix::net::send(socket, head, HEAD_FLAGS)?)
        });
        let written = match tokio::time::timeout(stall, send).await {
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "send timeout")),
            Ok(result) => result?,
        };
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        head = &head[written..];
    }
    let (mut offset, mut left) = (offset, len);
    while left > 0 {
        let send = socket.async_io(Interest::WRITABLE, || {
            send_file_chunk(socket, file, &mut offset, left)
        });
        let written = match tokio::time::timeout(stall, send).await {
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "send timeout")),
            Ok(result) => result?,
        };
        if written == 0 {
            // The source ended early; the head promised more, so the caller closes.
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= written;
    }
    Ok(())
}

/// Whether the connection may close without lingering. `quick` says the client asked for the
/// close and nothing of its is buffered: then, on plain TCP with nothing more received, the
/// socket is just closed (the kernel sends FIN after the response), as nginx does for such
/// clients; two system calls and a wake-up fewer per connection than [`linger_close`].
/// Otherwise, and always for TLS (which ends with `close_notify`), it lingers.
pub(crate) fn closes_at_once<T: Transport>(io: &T, quick: bool) -> bool {
    let (true, Some(socket)) = (quick, io.plain_socket()) else {
        return false;
    };
    let mut probe = [0u8; 1];
    match socket.try_read(&mut probe) {
        Err(err) => err.kind() == io::ErrorKind::WouldBlock,
        Ok(0) => true,
        // More bytes: drain them as usual.
        Ok(_) => false,
    }
}

/// Closes politely: sends FIN, then drains what the peer still sends for a short, bounded
/// while, so that unread request bytes do not turn the close into a reset that could destroy
/// the response still in flight (nginx's lingering close).
pub(crate) async fn linger_close<T: AsyncRead + AsyncWrite + Unpin>(io: &mut T) {
    const LINGER: Duration = Duration::from_millis(500);
    const LINGER_BYTES: usize = 64 * 1024;
    let deadline = Instant::now() + LINGER;
    // Bounded too: a TLS shutdown first writes the records still sealed and its
    // `close_notify`, which a peer that stopped reading (the reason for many a close, e.g. the
    // send timeout) never takes; unbounded, such a connection was held for ever.
    match tokio::time::timeout_at(deadline, io.shutdown()).await {
        Ok(Ok(())) => {}
        _ => return,
    }
    // On the heap, and only now: an array here would be part of every connection's future,
    // idle ones included, for the connection's whole life.
    let mut scratch = vec![0u8; 2048];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, io.read(&mut scratch)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => return,
        }
    }
}
