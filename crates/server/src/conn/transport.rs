//! What a connection needs of its byte stream: async reads and writes, and a way to wait until
//! the peer sends something without holding a read buffer (so idle connections stay small).
//! Plain TCP and TLS streams both provide it.

use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connection's byte stream.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + 'static {
    /// Resolves once a read may make progress (data, or the peer closing).
    fn readable(&mut self) -> impl Future<Output = io::Result<()>>;

    /// The plain TCP socket under the stream, when there is no other layer: the kernel may
    /// then send file content to it directly (`sendfile`), and closing needs no closing
    /// message. `None` for TLS, which encrypts every byte and ends with `close_notify`.
    fn plain_socket(&self) -> Option<&TcpStream> {
        None
    }
}

impl Transport for TcpStream {
    fn readable(&mut self) -> impl Future<Output = io::Result<()>> {
        TcpStream::readable(self)
    }

    fn plain_socket(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    fn readable(&mut self) -> impl Future<Output = io::Result<()>> {
        // rustls may already hold decrypted bytes (several requests arrived in one record);
        // then a read makes progress at once, whatever the socket says.
        let (socket, session) = self.get_ref();
        let buffered = !session.wants_read();
        async move {
            if buffered {
                Ok(())
            } else {
                socket.readable().await
            }
        }
    }
}
