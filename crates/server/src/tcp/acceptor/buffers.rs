//! Buffers and the response encoder belong to the worker thread, not to the connection.
//!
//! A connection needs a read buffer, an encoder (with its `Date` cache) and a buffer for the
//! response head only while it works on a request, and a worker works on one request at a
//! time. Keeping them per thread means an idle keep-alive connection holds none of them, and a
//! busy one allocates none of them per request: a request takes them, and gives them back
//! when it is answered. A request that has to wait keeps what it took and gives it back later;
//! meanwhile the next request on the thread starts new ones.

use std::cell::{Cell, RefCell};

use bytes::BytesMut;
use web_server_http::{DateCache, Encoded, RequestInfo, Response, ResponseEncoder};

use super::io::READ_CHUNK;
use crate::coarse_time::CoarseWallClock;

/// Read buffers kept per thread, at most: a worker answers one request at a time, so a few
/// cover the requests that wait while others are answered; more would be memory nobody uses.
const SPARE_READ_BUFFERS: usize = 8;

/// A read buffer grown past this by a large request head or body is not kept.
const LARGEST_SPARE_READ_BUFFER: usize = 4 * READ_CHUNK;

/// A head buffer grown past this by a response with many fields is not kept.
const LARGEST_SPARE_HEAD_BUFFER: usize = 8 * 1024;

thread_local! {
    /// Empty read buffers whose allocations wait for the next request on this thread.
    static SPARE_READ: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    /// An empty head buffer, for the next response on this thread.
    static SPARE_HEAD: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    /// The thread's encoder and the `Server` value it was asked for; rebuilt when a connection
    /// asks for another (a reload changed it, or another service runs on this thread).
    static ENCODER: RefCell<Option<(Option<Box<str>>, ResponseEncoder)>> =
        const { RefCell::new(None) };
}

/// A read buffer for a request about to be read: a spare one when the thread has one.
pub(crate) fn take_read_buffer() -> BytesMut {
    SPARE_READ
        .with(|spare| spare.borrow_mut().pop())
        .unwrap_or_default()
}

/// Gives an emptied read buffer back to the thread. A buffer that still shares its allocation
/// with a request somebody keeps is kept too: the next `reserve` finds it shared and allocates
/// anew, so nothing is overwritten.
pub(crate) fn give_back_read_buffer(buf: BytesMut) {
    debug_assert!(buf.is_empty());
    if buf.capacity() == 0 || buf.capacity() > LARGEST_SPARE_READ_BUFFER {
        return;
    }
    SPARE_READ.with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < SPARE_READ_BUFFERS {
            spare.push(buf);
        }
    });
}

/// A head buffer for a response about to be encoded.
pub(crate) fn take_head_buffer() -> Vec<u8> {
    let buf = SPARE_HEAD.with(Cell::take);
    if buf.capacity() == 0 {
        Vec::with_capacity(256)
    } else {
        buf
    }
}

/// Gives a head buffer back to the thread once its head is written.
pub(crate) fn give_back_head_buffer(mut buf: Vec<u8>) {
    if buf.capacity() <= LARGEST_SPARE_HEAD_BUFFER {
        buf.clear();
        SPARE_HEAD.with(|spare| spare.set(buf));
    }
}

/// Encodes `response`'s head into `out` with the thread's encoder, whose `Server` value is made
/// `server` first. An invalid `Server` value (configuration validates it, so only an
/// embedder's options could hold one) omits the field rather than fail every response.
pub(crate) fn encode(
    server: Option<&str>,
    response: &Response,
    request: &RequestInfo,
    out: &mut Vec<u8>,
) -> Encoded {
    ENCODER.with(|encoder| {
        let mut encoder = encoder.borrow_mut();
        let (_, encoder) = match &mut *encoder {
            Some(current) if current.0.as_deref() == server => current,
            slot => slot.insert((
                server.map(Box::from),
                ResponseEncoder::with_date_cache(server, coarse_date()).unwrap_or_else(|_| {
                    ResponseEncoder::with_date_cache(None, coarse_date())
                        .expect("no Server header is valid")
                }),
            )),
        };
        encoder.encode(response, request, out)
    })
}

/// A `Date` cache on the coarse wall clock (see [`CoarseWallClock`]).
fn coarse_date() -> DateCache {
    DateCache::new(Box::new(CoarseWallClock))
}

#[cfg(test)]
mod tests {
    use super::*;
    use web_server_http::{Method, StatusCode, Version};

    fn info() -> RequestInfo {
        RequestInfo {
            method: Method::Get,
            version: Version::Http11,
            keep_alive: true,
        }
    }

    #[test]
    fn a_read_buffer_given_back_is_reused_without_allocating() {
        let mut buf = take_read_buffer();
        buf.reserve(READ_CHUNK);
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let head = buf.split().freeze();
        drop(head);
        let allocation = buf.as_ptr();
        give_back_read_buffer(buf);
        let again = take_read_buffer();
        assert_eq!(again.as_ptr(), allocation);
    }

    #[test]
    fn a_read_buffer_still_shared_with_a_request_is_not_overwritten() {
        let mut buf = take_read_buffer();
        buf.reserve(READ_CHUNK);
        buf.extend_from_slice(b"first");
        let kept = buf.split().freeze();
        give_back_read_buffer(buf);
        let mut again = take_read_buffer();
        again.reserve(READ_CHUNK);
        again.extend_from_slice(b"second");
        assert_eq!(&kept[..], b"first");
    }

    #[test]
    fn the_encoder_follows_the_server_value_asked_for() {
        let response = Response::text(StatusCode::OK, "x");
        let mut out = take_head_buffer();
        encode(Some("one"), &response, &info(), &mut out);
        assert!(out.windows(13).any(|w| w == b"Server: one\r\n"));
        out.clear();
        encode(None, &response, &info(), &mut out);
        assert!(!out.windows(7).any(|w| w == b"Server:"));
        give_back_head_buffer(out);
    }
}
