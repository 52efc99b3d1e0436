//! Sans-io HTTP/1.1 for `web_server`: bytes in, requests out; responses in, bytes out.
//!
//! Nothing here touches a socket or an async runtime, so every rule can be unit-tested,
//! property-tested and fuzzed on its own. Strict where RFC 9110/9112 say MUST; tolerant only
//! where they allow it.
//!
//! # Layout
//!
//! - [`limits`]: the size limits, with the status each one maps to.
//! - [`error`]: every parse error, its status code and whether it forces the connection closed.
//! - [`parser`]: incremental request-head parsing on `httparse`, framing decisions.
//! - [`body`]: `Content-Length` and chunked content decoding.
//! - [`request`]: the parsed request, its fields read from the received bytes without copying.
//! - [`method`], [`version`], [`status`]: the protocol's small vocabularies.
//! - [`target`]: request-target forms and `Host` syntax.
//! - [`response`]: response building and head serialisation, chunk framing.
//! - [`router`]: method and path-pattern routing, static mounts, 404/405/OPTIONS.
//! - [`date`]: the once-per-second `Date` cache with an injectable clock.
//! - [`static_files`]: document-root serving, split into path resolution, conditional requests,
//!   ranges, content negotiation, MIME types, the pure decision, the file-system reads and the
//!   description of large content the server streams itself.
//! - `syntax` (private): character classes and list parsing shared by all of the above.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod body;
pub mod date;
pub mod error;
pub mod forwarded;
pub mod limits;
pub mod method;
pub mod parser;
pub mod proxy_protocol;
pub mod request;
pub mod response;
pub mod router;
mod spare;
pub mod static_files;
pub mod status;
mod syntax;
pub mod target;
pub mod version;

pub use body::{BodyDecoder, BodyFraming, DecodeStep};
pub use date::{Clock, DateCache, SystemClock};
pub use error::{ParseError, ParseErrorKind, Resume};
pub use forwarded::{Cidr, Client, TrustedProxies};
pub use limits::Limits;
pub use method::Method;
pub use parser::{parse_request, Parsed, RequestParser};
pub use request::{Request, RequestHead};
pub use response::{
    Body, Encoded, HeaderError, RequestInfo, Response, ResponseEncoder, ResponseFraming,
};
pub use router::{Handler, MethodSet, Params, Route, RouteError, Router};
pub use static_files::{CachedFile, NotCacheable, Prepared, StaticFiles, StaticOptions};
pub use status::StatusCode;
pub use target::TargetForm;
pub use version::Version;
