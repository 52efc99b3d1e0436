//! The TCP layer: binding, back-pressure, the listener (the pool of accept loops) and the
//! acceptor supervisor partitions that own the connection actors.

pub mod acceptor_sup;
pub mod bind;
pub mod gate;
pub mod listener;
