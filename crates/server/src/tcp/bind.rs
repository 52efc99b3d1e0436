//! Binding the listening sockets before anything starts, so a bad address fails the start with a
//! clear error and a restarted listener never has to bind again.
//!
//! Each address gets one socket per worker Arbiter, all in one `SO_REUSEPORT` group: the kernel
//! spreads new connections over the workers' accept loops with no thundering herd and no
//! cross-thread hand-off. With port 0 the first socket picks the port and the others join it.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};

/// Sockets bound for every configured address, grouped by worker.
#[derive(Debug)]
pub struct BoundSockets {
    /// The addresses actually bound (port 0 resolved), in configuration order.
    pub addrs: Vec<SocketAddr>,
    /// `per_worker[w]` holds worker `w`'s socket for each address.
    pub per_worker: Vec<Vec<TcpListener>>,
}

/// Binds every address in `addrs` once per worker, with `backlog`.
pub fn bind_all(addrs: &[SocketAddr], workers: usize, backlog: u32) -> io::Result<BoundSockets> {
    let mut bound = Vec::with_capacity(addrs.len());
    let mut per_worker: Vec<Vec<TcpListener>> = (0..workers).map(|_| Vec::new()).collect();
    for &requested in addrs {
        let mut actual = requested;
        for sockets in per_worker.iter_mut() {
            let listener = bind_one(actual, backlog).map_err(|err| {
                io::Error::new(err.kind(), format!("cannot listen on {requested}: {err}"))
            })?;
            actual = listener.local_addr()?;
            sockets.push(listener);
        }
        bound.push(actual);
    }
    Ok(BoundSockets {
        addrs: bound,
        per_worker,
    })
}

/// Sockets for `inherited` listening sockets (socket activation) instead of binding: each
/// worker gets its own duplicate of each, all sharing the socket's one accept queue.
pub fn adopt_all(inherited: &[Arc<TcpListener>], workers: usize) -> io::Result<BoundSockets> {
    let mut addrs = Vec::with_capacity(inherited.len());
    let mut per_worker: Vec<Vec<TcpListener>> = (0..workers).map(|_| Vec::new()).collect();
    for listener in inherited {
        let addr = listener.local_addr()?;
        for sockets in per_worker.iter_mut() {
            let copy = listener.try_clone().map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!("cannot use the inherited socket {addr}: {err}"),
                )
            })?;
            copy.set_nonblocking(true)?;
            sockets.push(copy);
        }
        addrs.push(addr);
    }
    Ok(BoundSockets { addrs, per_worker })
}

fn bind_one(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // `[::]` must not also claim the IPv4 port, or binding `0.0.0.0` beside it fails.
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_is_shared_by_every_worker() {
        let bound = bind_all(&["127.0.0.1:0".parse().unwrap()], 3, 16).unwrap();
        let port = bound.addrs[0].port();
        assert_ne!(port, 0);
        for sockets in &bound.per_worker {
            assert_eq!(sockets[0].local_addr().unwrap().port(), port);
        }
    }

    #[test]
    fn inherited_sockets_are_shared_by_every_worker() {
        let passed = Arc::new(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = passed.local_addr().unwrap();
        let adopted = adopt_all(&[passed], 2).unwrap();
        assert_eq!(adopted.addrs, [addr]);
        for sockets in &adopted.per_worker {
            assert_eq!(sockets[0].local_addr().unwrap(), addr);
        }
    }

    #[test]
    fn a_taken_address_is_an_error_naming_it() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind_all(&[addr], 1, 16).unwrap_err();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}
