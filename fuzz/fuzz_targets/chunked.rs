//! The body decoder must never panic, never report data outside what it consumed, and decode the
//! same bytes however the input is split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use web_server_http::{BodyDecoder, BodyFraming, Limits, ParseError};

fn decode(pieces: &[&[u8]], limits: &Limits) -> Result<(Vec<u8>, bool), ParseError> {
    let mut decoder = BodyDecoder::new(BodyFraming::Chunked, limits);
    let mut buffer = Vec::new();
    let mut body = Vec::new();
    for piece in pieces {
        buffer.extend_from_slice(piece);
        loop {
            let step = decoder.decode(&buffer)?;
            assert!(step.consumed <= buffer.len());
            assert!(step.data.end <= step.consumed && step.data.start <= step.data.end);
            body.extend_from_slice(&buffer[step.data.clone()]);
            buffer.drain(..step.consumed);
            if step.done || step.consumed == 0 {
                break;
            }
        }
        if decoder.is_done() {
            break;
        }
    }
    Ok((body, decoder.is_done()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else { return };
    let limits = Limits { max_body_bytes: 1 << 20, max_chunk_line: 64, max_chunk_extensions: 256, max_trailer_bytes: 256, ..Limits::default() };
    let whole = decode(&[input], &limits);
    let cut = usize::from(split) % (input.len() + 1);
    let split = decode(&[&input[..cut], &input[cut..]], &limits);
    match (whole, split) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind()),
        (a, b) => panic!("whole {a:?} but split {b:?}"),
    }
});
