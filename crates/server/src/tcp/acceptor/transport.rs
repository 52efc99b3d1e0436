//! What a connection needs of its byte stream: async reads and writes, and a way to wait until
//! the peer sends something without holding a read buffer (so idle connections stay small).
//! Plain TCP and TLS streams both provide it.

use std::io;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connection's byte stream.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + 'static {
    /// Ready once a read may make progress (data, or the peer closing). A poll function, not
    /// a future: waiting this way keeps nothing but the socket's own waker slot, where a
    /// readiness future would keep a waiter in every idle connection's future.
    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// The plain TCP socket under the stream, when there is no other layer: the kernel may
    /// then send file content to it directly (`sendfile`), and closing needs no closing
    /// message. `None` for TLS, which encrypts every byte and ends with `close_notify`.
    fn plain_socket(&self) -> Option<&TcpStream> {
        None
    }
}

impl Transport for TcpStream {
    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_read_ready(cx)
    }

    fn plain_socket(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // rustls may already hold decrypted bytes (several requests arrived in one record);
        // then a read makes progress at once, whatever the socket says.
        let (socket, session) = self.get_ref();
        if session.wants_read() {
            socket.poll_read_ready(cx)
        } else {
            Poll::Ready(Ok(()))
        }
    }
}
