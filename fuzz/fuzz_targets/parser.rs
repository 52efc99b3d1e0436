//! Request parsing must never panic, and feeding the input in two pieces must give the same
//! outcome as feeding it at once.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use web_server_http::{BodyDecoder, Limits, Parsed, RequestParser};

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else { return };
    let limits = Limits { max_request_line: 256, max_header_bytes: 1024, max_headers: 16, ..Limits::default() };

    let whole = RequestParser::new(limits).parse(input);
    let mut incremental = RequestParser::new(limits);
    let cut = usize::from(split) % (input.len() + 1);
    let first = incremental.parse(&input[..cut]);
    let second = match first {
        Ok(Parsed::Partial) => incremental.parse(input),
        other => other,
    };
    // A prefix can only be rejected early or be complete early if the whole input is too.
    match (&whole, &second) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.status(), b.status()),
        (a, b) => panic!("whole {a:?} but split {b:?}"),
    }

    if let Ok(Parsed::Complete { head, consumed }) = whole {
        assert!(consumed <= input.len());
        let mut rest = BytesMut::from(&input[consumed..]);
        let mut decoder = BodyDecoder::new(head.body_framing(), &limits);
        let mut body = BytesMut::new();
        while let Ok(Some(chunk)) = decoder.next_data(&mut rest) {
            body.extend_from_slice(&chunk);
        }
        let request = head.into_request(bytes::Bytes::copy_from_slice(&input[..consumed]), body.freeze());
        let _ = (request.path(), request.query(), request.host(), request.target());
        for (name, value) in request.headers() {
            assert!(!name.is_empty());
            assert!(!value.contains(&b'\n') && !value.contains(&b'\r'));
        }
    }
});
