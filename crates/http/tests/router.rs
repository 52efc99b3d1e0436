//! Router behaviour through the public API.

mod common;

use common::{get, TempDir};
use web_server_http::{
    Method, MethodSet, Params, Request, Response, Route, RouteError, Router, StaticFiles,
    StaticOptions, StatusCode,
};

fn echo(label: &'static str) -> impl Fn(&Request, &Params<'_>) -> Response + Send + Sync + 'static {
    move |_request, params| {
        let captured: Vec<String> = params
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        Response::text(StatusCode::OK, format!("{label} {}", captured.join(" ")))
    }
}

fn body(response: &Response) -> String {
    match response.body() {
        web_server_http::Body::Full(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
        other => panic!("unexpected body {other:?}"),
    }
}

fn router() -> Router {
    let mut router = Router::new();
    router
        .get("/", echo("root"))
        .unwrap()
        .get("/users/:id", echo("user"))
        .unwrap()
        .delete("/users/:id", echo("delete-user"))
        .unwrap()
        .get("/users/me", echo("me"))
        .unwrap()
        .get("/files/*path", echo("files"))
        .unwrap()
        .post("/orders/:order/items/:item", echo("item"))
        .unwrap();
    router
}

#[test]
fn routes_match_literals_params_and_tails() {
    let router = router();
    assert_eq!(body(&router.handle(&get("GET", "/", ""))), "root ");
    assert_eq!(
        body(&router.handle(&get("GET", "/users/42", ""))),
        "user id=42"
    );
    assert_eq!(
        body(&router.handle(&get("GET", "/files/a/b.txt", ""))),
        "files path=a/b.txt"
    );
    assert_eq!(
        body(&router.handle(&get("GET", "/files", ""))),
        "files path="
    );
    assert_eq!(
        body(&router.handle(&get("POST", "/orders/7/items/9", ""))),
        "item order=7 item=9"
    );
}

#[test]
fn the_most_specific_pattern_wins_regardless_of_order() {
    let router = router();
    assert_eq!(body(&router.handle(&get("GET", "/users/me", ""))), "me ");
    let mut reversed = Router::new();
    reversed
        .get("/a/*rest", echo("tail"))
        .unwrap()
        .get("/a/:x", echo("param"))
        .unwrap()
        .get("/a/b", echo("literal"))
        .unwrap();
    assert_eq!(body(&reversed.handle(&get("GET", "/a/b", ""))), "literal ");
    assert_eq!(body(&reversed.handle(&get("GET", "/a/c", ""))), "param x=c");
    assert_eq!(
        body(&reversed.handle(&get("GET", "/a/c/d", ""))),
        "tail rest=c/d"
    );
}

#[test]
fn a_less_specific_pattern_serves_a_method_the_specific_one_lacks() {
    let router = router();
    assert_eq!(
        body(&router.handle(&get("DELETE", "/users/me", ""))),
        "delete-user id=me"
    );
}

#[test]
fn rfc9110_15_5_5_unknown_path_is_404() {
    let router = router();
    for path in [
        "/nope",
        "/users",
        "/users/42/",
        "/users/42/x",
        "/orders/7/items",
    ] {
        assert_eq!(
            router.handle(&get("GET", path, "")).status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[test]
fn rfc9110_15_5_6_wrong_method_is_405_with_allow() {
    let router = router();
    let response = router.handle(&get("PUT", "/users/42", ""));
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.header("allow"), Some("GET, HEAD, DELETE, OPTIONS"));
    let response = router.handle(&get("GET", "/orders/1/items/2", ""));
    assert_eq!(response.header("allow"), Some("POST, OPTIONS"));
}

#[test]
fn rfc9110_9_3_7_options_is_answered_with_allow() {
    let router = router();
    let response = router.handle(&get("OPTIONS", "/users/42", ""));
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.header("allow"), Some("GET, HEAD, DELETE, OPTIONS"));
    let response = router.handle(
        &web_server_http::parse_request(
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            &Default::default(),
        )
        .unwrap()
        .unwrap()
        .0,
    );
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        response.header("allow"),
        Some("GET, HEAD, POST, DELETE, OPTIONS")
    );
    assert_eq!(
        router.handle(&get("OPTIONS", "/missing", "")).status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn explicit_options_handler_takes_precedence() {
    let mut router = Router::new();
    router
        .route(Method::Options, "/x", echo("custom-options"))
        .unwrap();
    assert_eq!(
        body(&router.handle(&get("OPTIONS", "/x", ""))),
        "custom-options "
    );
}

#[test]
fn rfc9110_9_3_2_head_is_served_wherever_get_is() {
    let router = router();
    let response = router.handle(&get("HEAD", "/users/42", ""));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body(&response),
        "user id=42",
        "the encoder drops the content of HEAD answers"
    );
    let mut explicit = Router::new();
    explicit
        .get("/h", echo("get"))
        .unwrap()
        .route(Method::Head, "/h", echo("head"))
        .unwrap();
    assert_eq!(body(&explicit.handle(&get("HEAD", "/h", ""))), "head ");
}

#[test]
fn rfc9110_9_3_6_connect_is_501() {
    let request = web_server_http::parse_request(
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        &Default::default(),
    )
    .unwrap()
    .unwrap()
    .0;
    assert_eq!(
        router().handle(&request).status(),
        StatusCode::NOT_IMPLEMENTED
    );
}

#[test]
fn params_are_percent_decoded_on_request() {
    let mut router = Router::new();
    router
        .get("/tag/:name", |_request: &Request, params: &Params<'_>| {
            Response::text(StatusCode::OK, params.decoded("name").unwrap().into_owned())
        })
        .unwrap();
    assert_eq!(
        body(&router.handle(&get("GET", "/tag/caf%C3%A9%20au%20lait", ""))),
        "caf\u{e9} au lait"
    );
    match router.lookup(Method::Get, "/tag/a%20b") {
        Route::Handler(_, params) => assert_eq!(params.get("name"), Some("a%20b")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_patterns_are_rejected() {
    let mut router = Router::new();
    for pattern in [
        "",
        "users",
        "/a/*t/b",
        "/:",
        "/*",
        "/:a/:a",
        "/a b",
        "/:bad-name",
        "/a%20",
    ] {
        assert!(
            matches!(
                router.get(pattern, echo("x")),
                Err(RouteError::InvalidPattern(_))
            ),
            "{pattern}"
        );
    }
    assert!(matches!(
        router.get("/:a/:b/:c/:d/:e/:f/:g/:h/:i", echo("x")),
        Err(RouteError::TooManyParams(_))
    ));
    router.get("/dup", echo("x")).unwrap();
    assert!(matches!(
        router.get("/dup", echo("y")),
        Err(RouteError::Duplicate(Method::Get, _))
    ));
    assert!(router.get("/:other_name", echo("y")).is_ok());
    assert!(
        matches!(router.get("/:p", echo("y")), Err(RouteError::Duplicate(..))),
        "same shape, different parameter name"
    );
}

#[test]
fn method_set_lists_methods_in_order() {
    let set = MethodSet::EMPTY.with(Method::Post).with(Method::Get);
    assert_eq!(set.to_string(), "GET, POST");
    assert!(set.contains(Method::Get) && !set.contains(Method::Put));
}

#[test]
fn static_mounts_serve_below_their_prefix() {
    let dir = TempDir::new("router-mount");
    dir.write("a.txt", b"alpha");
    let mut router = router();
    router
        .mount(
            "/static",
            StaticFiles::new(dir.path(), StaticOptions::default()).unwrap(),
        )
        .unwrap();
    let response = router.handle(&get("GET", "/static/a.txt", ""));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(&response), "alpha");
    assert_eq!(
        router.handle(&get("GET", "/staticx/a.txt", "")).status(),
        StatusCode::NOT_FOUND
    );
    let redirect = router.handle(&get("GET", "/static", ""));
    assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(redirect.header("location"), Some("/static/"));
}

#[test]
fn prepare_defers_large_static_content_and_answers_the_rest_like_handle() {
    let dir = TempDir::new("router-prepare");
    dir.write("big.bin", &vec![b'x'; 2000]);
    dir.write("small.txt", b"small");
    let options = StaticOptions {
        max_inline_bytes: 1000,
        ..StaticOptions::default()
    };
    let mut router = router();
    router
        .mount("/static", StaticFiles::new(dir.path(), options).unwrap())
        .unwrap();
    let large = router.prepare(&get("GET", "/static/big.bin", ""));
    assert_eq!(
        large.response.body(),
        &web_server_http::Body::Deferred(2000)
    );
    assert_eq!(large.content.unwrap().len(), 2000);
    let handled = router.handle(&get("GET", "/static/big.bin", ""));
    assert_eq!(body(&handled), "x".repeat(2000));
    for (method, path) in [
        ("GET", "/static/small.txt"),
        ("GET", "/users/7"),
        ("GET", "/nowhere"),
        ("POST", "/users/7"),
        ("CONNECT", "example.com:443"),
    ] {
        let request = get(method, path, "");
        let prepared = router.prepare(&request);
        assert_eq!(prepared.content, None, "{method} {path}");
        assert_eq!(
            prepared.response,
            router.handle(&request),
            "{method} {path}"
        );
    }
}

#[test]
fn rfc9110_15_5_6_write_methods_on_static_mounts_are_405_without_touching_the_file_system() {
    let dir = TempDir::new("router-static-405");
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let mut router = Router::new();
    router.mount("/", files).unwrap();
    // The document root disappears: any file-system access would now answer 404.
    std::fs::remove_dir_all(dir.path()).unwrap();
    for method in ["PUT", "DELETE", "POST", "PATCH"] {
        let response = router.handle(&get(method, "/anything.txt", ""));
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
    let options = router.handle(&get("OPTIONS", "/anything.txt", ""));
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(options.header("allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn routes_take_precedence_over_mounts_for_their_methods() {
    let dir = TempDir::new("router-precedence");
    dir.write("upload", b"file");
    let mut router = Router::new();
    router.post("/upload", echo("upload")).unwrap();
    router
        .mount(
            "/",
            StaticFiles::new(dir.path(), StaticOptions::default()).unwrap(),
        )
        .unwrap();
    assert_eq!(
        body(&router.handle(&get("POST", "/upload", "Content-Length: 0\r\n"))),
        "upload "
    );
    assert_eq!(body(&router.handle(&get("GET", "/upload", ""))), "file");
    let response = router.handle(&get("PUT", "/upload", ""));
    assert_eq!(response.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
}

#[test]
fn invalid_mount_prefixes_are_rejected() {
    let dir = TempDir::new("router-invalid-mount");
    let files = || StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let mut router = Router::new();
    for prefix in ["static", "/static/", "//x", "/a b"] {
        assert!(
            matches!(
                router.mount(prefix, files()),
                Err(RouteError::InvalidMount(_))
            ),
            "{prefix}"
        );
    }
    router.mount("/s", files()).unwrap();
    assert!(router.mount("/s", files()).is_err());
}

#[test]
fn router_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Router>();
}

#[test]
fn deep_paths_match_tails_but_not_fixed_patterns() {
    let mut router = Router::new();
    router.get("/deep/*rest", echo("deep")).unwrap();
    let segments: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let path = format!("/deep/{}", segments.join("/"));
    assert_eq!(
        body(&router.handle(&get("GET", &path, ""))),
        format!("deep rest={}", segments.join("/"))
    );
    let fixed = format!(
        "/{}",
        (0..8)
            .map(|i| format!(":p{i}"))
            .collect::<Vec<_>>()
            .join("/")
    );
    router.get(&fixed, echo("fixed")).unwrap();
    let long = format!(
        "/{}",
        (0..40).map(|i| i.to_string()).collect::<Vec<_>>().join("/")
    );
    assert_eq!(
        router.handle(&get("GET", &long, "")).status(),
        StatusCode::NOT_FOUND
    );
    let too_deep = format!("/{}", vec!["a"; 40].join("/"));
    assert!(matches!(
        router.get(&too_deep, echo("x")),
        Err(RouteError::InvalidPattern(_))
    ));
}

/// What a server keeps in a router of its own handler type: here, a label standing for a kind.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Plain(&'static str),
    Later(&'static str),
}

#[test]
fn a_router_of_another_handler_type_finds_handlers_and_answers_the_rest_itself() {
    let mut router: Router<Kind> = Router::default();
    router
        .insert(Method::Get, "/now/:id", Kind::Plain("now"))
        .unwrap()
        .insert(Method::Post, "/later", Kind::Later("later"))
        .unwrap();
    let request = get("GET", "/now/7", "");
    match router.route_request(&request) {
        Route::Handler(kind, params) => {
            assert_eq!((kind, params.get("id")), (&Kind::Plain("now"), Some("7")));
        }
        other => panic!("expected the handler, got {other:?}"),
    }
    let wrong_method = get("GET", "/later", "");
    let answer = router
        .route_request(&wrong_method)
        .automatic_response()
        .expect("the router answers a wrong method itself");
    assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.header("allow"), Some("POST, OPTIONS"));
    let nowhere = get("GET", "/nowhere", "");
    assert_eq!(
        router
            .route_request(&nowhere)
            .automatic_response()
            .map(|r| r.status()),
        Some(StatusCode::NOT_FOUND)
    );
    assert!(router
        .route_request(&request)
        .automatic_response()
        .is_none());
}

#[test]
fn rfc9110_9_3_6_connect_is_not_implemented_for_any_handler_type() {
    let router: Router<Kind> = Router::default();
    let connect = web_server_http::parse_request(
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        &Default::default(),
    )
    .unwrap()
    .unwrap()
    .0;
    let route = router.route_request(&connect);
    assert!(matches!(route, Route::NotImplemented));
    assert_eq!(
        route.automatic_response().map(|r| r.status()),
        Some(StatusCode::NOT_IMPLEMENTED)
    );
}

#[test]
fn mapping_handlers_keeps_routes_mounts_and_precedence() {
    let dir = TempDir::new("router-map");
    dir.write("a.txt", b"alpha");
    let mut plain = router();
    plain
        .mount(
            "/static",
            StaticFiles::new(dir.path(), StaticOptions::default()).unwrap(),
        )
        .unwrap();
    let mut seen = 0;
    let mapped: Router<(usize, Box<web_server_http::Handler>)> = plain.map_handlers(|handler| {
        seen += 1;
        (seen, handler)
    });
    assert!(seen >= 5, "every handler was converted");
    match mapped.lookup(Method::Get, "/users/me") {
        Route::Handler((_, handler), params) => {
            let request = get("GET", "/users/me", "");
            assert_eq!(body(&handler(&request, &params)), "me ");
        }
        other => panic!("the literal route still wins: {other:?}"),
    }
    match mapped.lookup(Method::Get, "/static/a.txt") {
        Route::Static(files, tail) => assert_eq!((files.root(), tail), (dir.path(), "/a.txt")),
        other => panic!("the mount is kept: {other:?}"),
    }
}
