//! Routing by method and path pattern: `/users/:id` parameters, `/assets/*path` tails,
//! static-directory mounts, 404, 405 with `Allow`, OPTIONS answered with `Allow`, and HEAD
//! served by GET handlers.
//!
//! Lookup walks the registered patterns once, comparing segments of the still-encoded path in
//! place: no allocation on the request path. Among matching patterns the most specific wins
//! (literal over `:param` over `*tail`, segment by segment), independent of registration order.

use crate::method::Method;
use crate::request::Request;
use crate::response::Response;
use crate::static_files::{Prepared, StaticFiles};
use crate::status::StatusCode;
use crate::syntax::is_pchar;
use percent_encoding::percent_decode_str;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A request handler: a plain function of the request and its path parameters. `Send + Sync` so
/// the server can share one router between threads.
pub type Handler = dyn Fn(&Request, &Params<'_>) -> Response + Send + Sync;

/// Most named parameters a pattern may have; they are kept in a fixed array to avoid allocating.
pub const MAX_PARAMS: usize = 8;

/// Path parameters captured by a match, as `(name, still-encoded value)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params<'a> {
    /// Captured pairs; only the first `len` are meaningful.
    entries: [(&'a str, &'a str); MAX_PARAMS],
    /// Number of captured pairs.
    len: usize,
}

impl<'a> Params<'a> {
    const EMPTY: Params<'static> = Params {
        entries: [("", ""); MAX_PARAMS],
        len: 0,
    };

    fn push(&mut self, name: &'a str, value: &'a str) {
        self.entries[self.len] = (name, value);
        self.len += 1;
    }

    /// The raw (percent-encoded) value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }

    /// The percent-decoded value of `name`; invalid UTF-8 is replaced with U+FFFD.
    pub fn decoded(&self, name: &str) -> Option<Cow<'a, str>> {
        self.get(name)
            .map(|value| percent_decode_str(value).decode_utf8_lossy())
    }

    /// All captured `(name, raw value)` pairs in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.entries[..self.len].iter().copied()
    }

    /// Number of captured parameters.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A set of methods, as listed in `Allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MethodSet(u16);

impl MethodSet {
    /// The empty set.
    pub const EMPTY: MethodSet = MethodSet(0);

    /// This set with `method` added.
    pub const fn with(self, method: Method) -> MethodSet {
        MethodSet(self.0 | 1 << method.index())
    }

    /// Whether `method` is in the set.
    pub const fn contains(self, method: Method) -> bool {
        self.0 & (1 << method.index()) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union of two sets.
    pub const fn union(self, other: MethodSet) -> MethodSet {
        MethodSet(self.0 | other.0)
    }

    /// The methods a resource allows given its handlers: HEAD wherever GET is (RFC 9110 §9.3.2)
    /// and OPTIONS always, since the router answers it.
    fn implied(self) -> MethodSet {
        let with_head = if self.contains(Method::Get) {
            self.with(Method::Head)
        } else {
            self
        };
        with_head.with(Method::Options)
    }
}

impl fmt::Display for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for method in Method::ALL.iter().filter(|method| self.contains(**method)) {
            if !first {
                f.write_str(", ")?;
            }
            f.write_str(method.as_str())?;
            first = false;
        }
        Ok(())
    }
}

/// Why a route or mount could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The pattern does not start with `/`, has an empty or duplicate parameter name, a `*tail`
    /// that is not last, or literal characters that cannot appear in a path.
    InvalidPattern(String),
    /// More than [`MAX_PARAMS`] parameters.
    TooManyParams(String),
    /// The same method and pattern were registered twice.
    Duplicate(Method, String),
    /// A mount prefix must be `/` or `/segment[/segment...]` without a trailing slash.
    InvalidMount(String),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::InvalidPattern(pattern) => write!(f, "invalid route pattern {pattern:?}"),
            RouteError::TooManyParams(pattern) => {
                write!(f, "more than {MAX_PARAMS} parameters in {pattern:?}")
            }
            RouteError::Duplicate(method, pattern) => {
                write!(f, "{method} {pattern:?} registered twice")
            }
            RouteError::InvalidMount(prefix) => write!(f, "invalid mount prefix {prefix:?}"),
        }
    }
}

impl std::error::Error for RouteError {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(Box<str>),
    Param(Box<str>),
    Tail(Box<str>),
}

impl Segment {
    /// Specificity, compared segment by segment to choose between matching patterns.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 3,
            Segment::Param(_) => 2,
            Segment::Tail(_) => 1,
        }
    }
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    /// The pattern as registered, for errors and duplicate detection.
    source: Box<str>,
    /// Segments after the leading `/`.
    segments: Vec<Segment>,
    /// Segment ranks, compared lexicographically (higher is more specific).
    rank: Vec<u8>,
}

impl Pattern {
    fn compile(source: &str) -> Result<Pattern, RouteError> {
        let invalid = || RouteError::InvalidPattern(source.to_owned());
        let body = source.strip_prefix('/').ok_or_else(invalid)?;
        let raw: Vec<&str> = body.split('/').collect();
        let mut segments = Vec::with_capacity(raw.len());
        let mut names: Vec<&str> = Vec::new();
        for (i, segment) in raw.iter().enumerate() {
            let compiled = if let Some(name) = segment.strip_prefix(':') {
                names.push(name);
                Segment::Param(name.into())
            } else if let Some(name) = segment.strip_prefix('*') {
                if i + 1 != raw.len() {
                    return Err(invalid());
                }
                names.push(name);
                Segment::Tail(name.into())
            } else {
                if !segment.bytes().all(is_pchar) {
                    return Err(invalid());
                }
                Segment::Literal((*segment).into())
            };
            segments.push(compiled);
        }
        for (i, name) in names.iter().enumerate() {
            let valid =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid || names[..i].contains(name) {
                return Err(invalid());
            }
        }
        if segments.len() > MAX_SEGMENTS {
            return Err(invalid());
        }
        if names.len() > MAX_PARAMS {
            return Err(RouteError::TooManyParams(source.to_owned()));
        }
        let rank = segments.iter().map(Segment::rank).collect();
        Ok(Pattern {
            source: source.into(),
            segments,
            rank,
        })
    }

    /// Whether both patterns match exactly the same paths (parameter names aside).
    fn same_shape(&self, other: &Pattern) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_))
                    | (Segment::Tail(_), Segment::Tail(_)) => true,
                    _ => false,
                })
    }

    /// Whether the split path matches; parameters are captured separately, only for the winner.
    fn matches(&self, path: &SplitPath<'_>) -> bool {
        let (fixed, tail) = match self.segments.last() {
            Some(Segment::Tail(_)) => (&self.segments[..self.segments.len() - 1], true),
            _ => (&self.segments[..], false),
        };
        let enough = if tail {
            path.count >= fixed.len()
        } else {
            path.count == fixed.len() && !path.truncated
        };
        enough
            && fixed.iter().enumerate().all(|(i, segment)| match segment {
                Segment::Literal(literal) => **literal == *path.segment(i),
                Segment::Param(_) => !path.segment(i).is_empty(),
                Segment::Tail(_) => false,
            })
    }

    /// The parameters of a path this pattern matches.
    fn capture<'a>(&'a self, path: &SplitPath<'a>) -> Params<'a> {
        let mut params = Params::EMPTY;
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(_) => {}
                Segment::Param(name) => params.push(name, path.segment(i)),
                Segment::Tail(name) => params.push(name, path.rest_from(i)),
            }
        }
        params
    }
}

/// Most path segments examined individually; deeper paths can still match `*tail` patterns.
const MAX_SEGMENTS: usize = 32;

/// A path split into segments once per lookup, as offsets into the path.
struct SplitPath<'a> {
    /// The encoded path, starting with `/`.
    path: &'a str,
    /// `(start, end)` of each of the first `count` segments.
    bounds: [(usize, usize); MAX_SEGMENTS],
    /// Segments recorded.
    count: usize,
    /// More segments follow the recorded ones, starting at `overflow`.
    truncated: bool,
    /// Start of the first unrecorded segment when truncated.
    overflow: usize,
}

impl<'a> SplitPath<'a> {
    fn new(path: &'a str) -> Option<SplitPath<'a>> {
        path.strip_prefix('/')?;
        let mut split = SplitPath {
            path,
            bounds: [(0, 0); MAX_SEGMENTS],
            count: 0,
            truncated: false,
            overflow: 0,
        };
        let mut start = 1;
        loop {
            if split.count == MAX_SEGMENTS {
                split.truncated = true;
                split.overflow = start;
                return Some(split);
            }
            let end = path[start..]
                .find('/')
                .map_or(path.len(), |slash| start + slash);
            split.bounds[split.count] = (start, end);
            split.count += 1;
            if end == path.len() {
                return Some(split);
            }
            start = end + 1;
        }
    }

    fn segment(&self, i: usize) -> &'a str {
        let (start, end) = self.bounds[i];
        &self.path[start..end]
    }

    /// Everything from segment `i` on; empty when the path has only `i` segments.
    fn rest_from(&self, i: usize) -> &'a str {
        if i < self.count {
            &self.path[self.bounds[i].0..]
        } else if self.truncated {
            &self.path[self.overflow..]
        } else {
            ""
        }
    }
}

/// One pattern and its handler per method.
struct Entry<H> {
    /// The compiled pattern.
    pattern: Pattern,
    /// Handlers indexed by [`Method::index`].
    handlers: [Option<H>; Method::ALL.len()],
    /// Methods with an explicit handler.
    methods: MethodSet,
}

impl<H> Entry<H> {
    /// The handler for `method`, with GET's standing in for HEAD.
    fn handler(&self, method: Method) -> Option<&H> {
        self.handlers[method.index()].as_ref().or_else(|| {
            if method == Method::Head {
                self.handlers[Method::Get.index()].as_ref()
            } else {
                None
            }
        })
    }
}

/// A static directory mounted at a path prefix.
struct Mount {
    /// `""` for the root, otherwise `/a/b` without a trailing slash.
    prefix: Box<str>,
    /// What is served there; shared, so an answer that has to wait (a cache miss) can keep
    /// the mount it was routed to instead of looking the path up again.
    files: Arc<StaticFiles>,
}

/// What a lookup found. `H` is the router's handler type (see [`Router`]).
// A `Route` lives on the stack for the duration of one lookup; boxing the parameters to shrink
// it would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Route<'r, H = Box<Handler>> {
    /// A handler and the parameters it matched.
    Handler(&'r H, Params<'r>),
    /// A static mount and the still-encoded path below it.
    Static(&'r Arc<StaticFiles>, &'r str),
    /// A method this origin server does not implement for any resource (CONNECT: it is not a
    /// proxy, RFC 9110 §9.3.6): 501.
    NotImplemented,
    /// OPTIONS without an explicit handler: answer 204 with these methods in `Allow`.
    Options(MethodSet),
    /// The path exists but not for this method: 405 with these methods in `Allow`.
    MethodNotAllowed(MethodSet),
    /// Nothing matches: 404.
    NotFound,
}

impl<H> Route<'_, H> {
    /// The answer the router gives by itself: 204 with `Allow` for OPTIONS, 405 with `Allow`,
    /// 404, 501. `None` for a handler or a static mount, which the caller runs.
    pub fn automatic_response(&self) -> Option<Response> {
        Some(match self {
            Route::Handler(..) | Route::Static(..) => return None,
            Route::Options(allowed) => with_allow(Response::new(StatusCode::NO_CONTENT), *allowed),
            Route::MethodNotAllowed(allowed) => with_allow(
                Response::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
                *allowed,
            ),
            Route::NotFound => Response::text(StatusCode::NOT_FOUND, "not found\n"),
            Route::NotImplemented => {
                Response::text(StatusCode::NOT_IMPLEMENTED, "CONNECT is not supported\n")
            }
        })
    }
}

impl<H> fmt::Debug for Route<'_, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Handler(_, params) => f.debug_tuple("Handler").field(params).finish(),
            Route::Static(files, tail) => f
                .debug_tuple("Static")
                .field(&files.root())
                .field(tail)
                .finish(),
            Route::Options(allow) => f.debug_tuple("Options").field(allow).finish(),
            Route::MethodNotAllowed(allow) => {
                f.debug_tuple("MethodNotAllowed").field(allow).finish()
            }
            Route::NotFound => f.write_str("NotFound"),
            Route::NotImplemented => f.write_str("NotImplemented"),
        }
    }
}

/// Maps requests to handlers and static mounts.
///
/// `H` is what a route holds. The default is a plain function ([`Handler`]), which
/// [`Router::handle`] and [`Router::prepare`] run; a server with several kinds of handler
/// (plain and asynchronous, say) keeps its own enum here, looks routes up with
/// [`Router::route_request`] and runs what it finds itself.
pub struct Router<H = Box<Handler>> {
    /// Patterns in registration order (order does not affect precedence).
    entries: Vec<Entry<H>>,
    /// Static mounts, longest prefix first.
    mounts: Vec<Mount>,
}

impl<H> Default for Router<H> {
    fn default() -> Self {
        Router {
            entries: Vec::new(),
            mounts: Vec::new(),
        }
    }
}

impl<H> fmt::Debug for Router<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field(
                "routes",
                &self
                    .entries
                    .iter()
                    .map(|entry| (&entry.pattern.source, entry.methods))
                    .collect::<Vec<_>>(),
            )
            .field(
                "mounts",
                &self
                    .mounts
                    .iter()
                    .map(|mount| &mount.prefix)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Router {
    /// An empty router of plain handlers: everything is 404.
    pub fn new() -> Self {
        Router::default()
    }

    /// Registers `handler` for `method` on `pattern`.
    pub fn route<F>(
        &mut self,
        method: Method,
        pattern: &str,
        handler: F,
    ) -> Result<&mut Self, RouteError>
    where
        F: Fn(&Request, &Params<'_>) -> Response + Send + Sync + 'static,
    {
        self.insert(method, pattern, Box::new(handler))
    }

    /// Registers a GET handler (which also answers HEAD).
    pub fn get<F>(&mut self, pattern: &str, handler: F) -> Result<&mut Self, RouteError>
    where
        F: Fn(&Request, &Params<'_>) -> Response + Send + Sync + 'static,
    {
        self.route(Method::Get, pattern, handler)
    }

    /// Registers a POST handler.
    pub fn post<F>(&mut self, pattern: &str, handler: F) -> Result<&mut Self, RouteError>
    where
        F: Fn(&Request, &Params<'_>) -> Response + Send + Sync + 'static,
    {
        self.route(Method::Post, pattern, handler)
    }

    /// Registers a PUT handler.
    pub fn put<F>(&mut self, pattern: &str, handler: F) -> Result<&mut Self, RouteError>
    where
        F: Fn(&Request, &Params<'_>) -> Response + Send + Sync + 'static,
    {
        self.route(Method::Put, pattern, handler)
    }

    /// Registers a DELETE handler.
    pub fn delete<F>(&mut self, pattern: &str, handler: F) -> Result<&mut Self, RouteError>
    where
        F: Fn(&Request, &Params<'_>) -> Response + Send + Sync + 'static,
    {
        self.route(Method::Delete, pattern, handler)
    }

    /// Answers a request: runs the handler or static mount, or produces 204/404/405/501. Static
    /// content is read whole ([`StaticFiles::serve`]).
    pub fn handle(&self, request: &Request) -> Response {
        match self.dispatch(request) {
            Ok((files, tail)) => files.serve(request, tail),
            Err(response) => response,
        }
    }

    /// Answers a request like [`Router::handle`], except that static content longer than the
    /// mount's `max_inline_bytes` is left for the server to stream ([`StaticFiles::prepare`]).
    /// Handler and error responses never have deferred content.
    pub fn prepare(&self, request: &Request) -> Prepared {
        match self.dispatch(request) {
            Ok((files, tail)) => files.prepare(request, tail),
            Err(response) => response.into(),
        }
    }

    /// The static mount and tail that answer `request`, or the complete response of a handler,
    /// 204, 404, 405 or 501.
    fn dispatch<'r>(
        &'r self,
        request: &'r Request,
    ) -> Result<(&'r StaticFiles, &'r str), Response> {
        let route = self.route_request(request);
        match route {
            Route::Handler(handler, params) => Err(handler(request, &params)),
            Route::Static(files, tail) => Ok((&**files, tail)),
            other => Err(other
                .automatic_response()
                .expect("every other route is answered by the router")),
        }
    }
}

impl<H> Router<H> {
    /// The same routes and mounts with every handler turned into another type (a router of
    /// plain handlers into a server's own handler enum, say).
    pub fn map_handlers<G>(self, mut convert: impl FnMut(H) -> G) -> Router<G> {
        Router {
            entries: self
                .entries
                .into_iter()
                .map(|entry| Entry {
                    pattern: entry.pattern,
                    handlers: entry.handlers.map(|handler| handler.map(&mut convert)),
                    methods: entry.methods,
                })
                .collect(),
            mounts: self.mounts,
        }
    }

    /// Registers `handler`, of the router's own handler type, for `method` on `pattern`.
    pub fn insert(
        &mut self,
        method: Method,
        pattern: &str,
        handler: H,
    ) -> Result<&mut Self, RouteError> {
        let compiled = Pattern::compile(pattern)?;
        // Same shape with other parameter names would match the same paths ambiguously.
        if self
            .entries
            .iter()
            .any(|entry| entry.methods.contains(method) && entry.pattern.same_shape(&compiled))
        {
            return Err(RouteError::Duplicate(method, pattern.to_owned()));
        }
        let index = match self
            .entries
            .iter()
            .position(|entry| entry.pattern.segments == compiled.segments)
        {
            Some(index) => index,
            None => {
                self.entries.push(Entry {
                    pattern: compiled,
                    handlers: Default::default(),
                    methods: MethodSet::EMPTY,
                });
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[index];
        if entry.methods.contains(method) {
            return Err(RouteError::Duplicate(method, pattern.to_owned()));
        }
        entry.handlers[method.index()] = Some(handler);
        entry.methods = entry.methods.with(method);
        Ok(self)
    }

    /// Serves `files` below `prefix` (`/` for the whole site). Routes take precedence over mounts
    /// for the methods they handle; the longest matching prefix wins among mounts.
    pub fn mount(&mut self, prefix: &str, files: StaticFiles) -> Result<&mut Self, RouteError> {
        let normalized = if prefix == "/" { "" } else { prefix };
        let valid = normalized.is_empty()
            || (normalized.starts_with('/')
                && !normalized.ends_with('/')
                && normalized[1..]
                    .split('/')
                    .all(|segment| !segment.is_empty() && segment.bytes().all(is_pchar)));
        if !valid || self.mounts.iter().any(|mount| *mount.prefix == *normalized) {
            return Err(RouteError::InvalidMount(prefix.to_owned()));
        }
        self.mounts.push(Mount {
            prefix: normalized.into(),
            files: Arc::new(files),
        });
        self.mounts
            .sort_by_key(|mount| std::cmp::Reverse(mount.prefix.len()));
        Ok(self)
    }

    /// Finds what answers `request`: [`lookup`](Self::lookup) on its method and path, except
    /// that CONNECT is [`Route::NotImplemented`] whatever the path.
    pub fn route_request<'r>(&'r self, request: &'r Request) -> Route<'r, H> {
        if request.method() == Method::Connect {
            return Route::NotImplemented;
        }
        self.lookup(request.method(), request.path())
    }

    /// Finds what answers `method` on the still-encoded `path`.
    pub fn lookup<'r>(&'r self, method: Method, path: &'r str) -> Route<'r, H> {
        if path == "*" {
            // RFC 9110 §9.3.7: OPTIONS * asks about the server as a whole.
            return if method == Method::Options {
                Route::Options(self.server_methods())
            } else {
                Route::NotFound
            };
        }
        let mut allowed = MethodSet::EMPTY;
        // A server with only static mounts skips splitting the path (a copy of its segment
        // table) on every request.
        let split = if self.entries.is_empty() {
            None
        } else {
            SplitPath::new(path)
        };
        if let Some(split) = split {
            let mut best: Option<&Entry<H>> = None;
            for entry in &self.entries {
                if !entry.pattern.matches(&split) {
                    continue;
                }
                allowed = allowed.union(entry.methods.implied());
                let more_specific =
                    best.is_none_or(|current| current.pattern.rank < entry.pattern.rank);
                if more_specific && entry.handler(method).is_some() {
                    best = Some(entry);
                }
            }
            if let Some(entry) = best {
                if let Some(handler) = entry.handler(method) {
                    return Route::Handler(handler, entry.pattern.capture(&split));
                }
            }
        }
        if let Some((mount, tail)) = self
            .mounts
            .iter()
            .find_map(|mount| Some((mount, below(path, &mount.prefix)?)))
        {
            if matches!(method, Method::Get | Method::Head) {
                return Route::Static(&mount.files, tail);
            }
            allowed = allowed.union(MethodSet::EMPTY.with(Method::Get).implied());
        }
        match (allowed.is_empty(), method) {
            (true, _) => Route::NotFound,
            (false, Method::Options) => Route::Options(allowed),
            (false, _) => Route::MethodNotAllowed(allowed),
        }
    }

    /// Every method some resource allows, for `OPTIONS *`.
    fn server_methods(&self) -> MethodSet {
        let mut methods = MethodSet::EMPTY.with(Method::Options);
        for entry in &self.entries {
            methods = methods.union(entry.methods.implied());
        }
        if !self.mounts.is_empty() {
            methods = methods.union(MethodSet::EMPTY.with(Method::Get).implied());
        }
        methods
    }
}

/// The part of `path` below `prefix`, if `path` is `prefix` or inside it.
fn below<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

fn with_allow(mut response: Response, allowed: MethodSet) -> Response {
    response.push_unchecked("Allow", allowed.to_string());
    response
}
