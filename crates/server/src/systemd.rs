//! systemd integration for the binary (Linux only; elsewhere every function does nothing):
//!
//! - readiness notifications (`sd_notify(3)`, with the `sd-notify` crate): `READY=1` once every
//!   listener accepts, `RELOADING=1` with `MONOTONIC_USEC` then `READY=1` around a SIGHUP reload
//!   (what `Type=notify-reload` expects), `STOPPING=1` when the drain starts. Nothing is sent
//!   when `NOTIFY_SOCKET` is unset, so the binary behaves the same outside systemd;
//! - socket activation (`sd_listen_fds(3)`, with the `listenfd` crate): listening sockets the
//!   service manager passes (`LISTEN_FDS`, `LISTEN_PID`) replace binding `server.bind`, or
//!   `tls.bind` for those named `https` or `tls` in `LISTEN_FDNAMES` (`FileDescriptorName=`), so
//!   connection attempts queue in the kernel while the server restarts.
//!
//! docs/deploy/web_server.service and web_server.socket use both.

use crate::config::InheritedListeners;

/// A state reported to the service manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// Every listener accepts connections (startup or reload finished).
    Ready,
    /// A configuration reload started; [`Notify::Ready`] follows when it ends, whatever its
    /// outcome (a rejected configuration leaves the old one running).
    Reloading,
    /// The drain started; the process exits when it ends.
    Stopping,
}

/// Tells the service manager `state`, when there is one (`NOTIFY_SOCKET` set). A failure to
/// send is logged, never fatal: the server serves whether or not systemd hears about it.
pub fn notify(state: Notify) {
    #[cfg(target_os = "linux")]
    {
        use sd_notify::NotifyState;
        let sent = match state {
            Notify::Ready => sd_notify::notify(&[NotifyState::Ready]),
            // systemd 253+ (`Type=notify-reload`) requires the reload's start time, to tell this
            // reload from an earlier one; older managers ignore the extra line.
            Notify::Reloading => NotifyState::monotonic_usec_now()
                .and_then(|now| sd_notify::notify(&[NotifyState::Reloading, now])),
            Notify::Stopping => sd_notify::notify(&[NotifyState::Stopping]),
        };
        if let Err(err) = sent {
            tracing::warn!(%err, ?state, "cannot notify the service manager");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = state;
}

/// The name in `LISTEN_FDNAMES` (`FileDescriptorName=` in the socket unit) that hands a
/// socket to the TLS listener; any other name (or none) goes to the plain listener.
pub const TLS_FD_NAMES: [&str; 2] = ["https", "tls"];

/// Claims the listening sockets passed by socket activation (none when `LISTEN_FDS` is unset
/// or `LISTEN_PID` names another process). Removes `LISTEN_FDS` and `LISTEN_PID` from the
/// environment, so call it first thing in `main`, before any thread starts. A passed
/// descriptor that is not a TCP listening socket is an error naming it.
pub fn take_listen_fds() -> Result<InheritedListeners, String> {
    #[cfg(target_os = "linux")]
    {
        // Read before `listenfd` consumes the protocol's variables (it ignores the names).
        let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
            .map(|names| names.split(':').map(str::to_owned).collect())
            .unwrap_or_default();
        let mut passed = listenfd::ListenFd::from_env();
        let mut inherited = InheritedListeners::default();
        for index in 0..passed.len() {
            let name = names.get(index).map_or("", String::as_str);
            let listener = passed
                .take_tcp_listener(index)
                .map_err(|err| {
                    format!(
                        "socket activation: descriptor {} ({name:?}) is not a TCP listening socket: {err}",
                        index + 3
                    )
                })?
                .ok_or_else(|| format!("socket activation: descriptor {} was taken twice", index + 3))?;
            let listener = std::sync::Arc::new(listener);
            if TLS_FD_NAMES.contains(&name) {
                inherited.tls.push(listener);
            } else {
                inherited.plain.push(listener);
            }
        }
        Ok(inherited)
    }
    #[cfg(not(target_os = "linux"))]
    Ok(InheritedListeners::default())
}
