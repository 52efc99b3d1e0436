//! Exit reasons, and the panic hook that lets a supervisor report a panic once, with the
//! child's id and the panic message.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic;
use std::sync::Once;

use serde::Serialize;

/// Why a child stopped, as the `Reason` in OTP's `{'EXIT', Pid, Reason}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExitReason {
    /// The actor stopped by itself (`ctx.stop()`, or all its addresses were dropped).
    Normal,
    /// Its supervisor asked it to stop, and it did.
    Shutdown,
    /// It was killed (`brutal_kill`, a shutdown timeout, a chaos kill, or its Arbiter stopped).
    Killed,
    /// A handler or lifecycle callback panicked.
    Panic {
        /// The panic payload, when it was a string.
        message: String,
        /// `file:line:column` of the panic, when the hook saw it.
        location: Option<String>,
    },
    /// The actor (or a supervisor giving up) declared an abnormal exit with this cause.
    Error {
        /// The cause.
        message: String,
    },
}

impl ExitReason {
    /// An abnormal exit with the given cause.
    pub fn error(message: impl fmt::Display) -> Self {
        ExitReason::Error {
            message: message.to_string(),
        }
    }

    /// Anything but `Normal` and `Shutdown`: transient children restart on these.
    pub fn is_abnormal(&self) -> bool {
        !matches!(self, ExitReason::Normal | ExitReason::Shutdown)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::Panic {
                message,
                location: Some(at),
            } => write!(f, "panic at {at}: {message}"),
            ExitReason::Panic {
                message,
                location: None,
            } => write!(f, "panic: {message}"),
            ExitReason::Error { message } => write!(f, "error: {message}"),
        }
    }
}

thread_local! {
    /// Set while a supervised actor is being polled, so the hook knows the panic will be caught
    /// and reported by the supervisor (and must not also be printed by the default hook).
    static IN_SUPERVISED_POLL: Cell<bool> = const { Cell::new(false) };
    /// Where the last caught panic happened; the payload does not carry its location.
    static LAST_PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL_HOOK: Once = Once::new();

/// Installs (once per process) a panic hook that stays quiet for panics inside supervised actors,
/// which their supervisor logs with the child id, and defers to the previous hook for all others.
pub(crate) fn install_panic_hook() {
    INSTALL_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_SUPERVISED_POLL.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                LAST_PANIC_LOCATION.with(|slot| *slot.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `poll` marked as a supervised poll, so a panic inside it is left to the supervisor.
pub(crate) fn supervised<R>(poll: impl FnOnce() -> R) -> R {
    let outer = IN_SUPERVISED_POLL.with(|flag| flag.replace(true));
    let result = poll();
    IN_SUPERVISED_POLL.with(|flag| flag.set(outer));
    result
}

/// Turns a caught panic payload into an exit reason, with the location the hook recorded.
pub(crate) fn panic_reason(payload: Box<dyn std::any::Any + Send>) -> ExitReason {
    IN_SUPERVISED_POLL.with(|flag| flag.set(false));
    let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    };
    let location = LAST_PANIC_LOCATION.with(|slot| slot.borrow_mut().take());
    ExitReason::Panic { message, location }
}
