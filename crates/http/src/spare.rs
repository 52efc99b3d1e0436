//! Per-thread spare field lists: parsing a request and building a response allocate nothing
//! once the thread has served a few.
//!
//! Every request's field spans are a vector, and so are every response's fields. A thread works
//! on one request at a time (a few at most, when some wait), so a handful of vectors, cleared
//! and kept when a request head or a response is dropped, serve all of them: the allocation is
//! made once per thread instead of twice per request. The spares stay bounded: at most
//! [`SPARES`] per thread and per kind, none with room for more than [`MAX_FIELDS`] entries (a
//! request with hundreds of field lines keeps its own allocation and frees it).
//!
//! Pure memory reuse: no I/O, no runtime, nothing shared between threads.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::request::FieldSpan;
use crate::response::ResponseField;

/// Spare vectors kept per thread and per kind.
const SPARES: usize = 8;

/// Vectors with room for more entries than this are freed rather than kept.
const MAX_FIELDS: usize = 64;

thread_local! {
    /// Spare request field-span lists.
    static SPANS: RefCell<Vec<Vec<FieldSpan>>> = const { RefCell::new(Vec::new()) };
    /// Spare response field lists.
    static FIELDS: RefCell<Vec<Vec<ResponseField>>> = const { RefCell::new(Vec::new()) };
}

/// An empty span list with room for `capacity` spans.
pub(crate) fn take_spans(capacity: usize) -> Vec<FieldSpan> {
    take(&SPANS, capacity)
}

/// Keeps `spans`' allocation for a later request on this thread.
pub(crate) fn give_back_spans(spans: Vec<FieldSpan>) {
    give_back(&SPANS, spans);
}

/// An empty field list with room for `capacity` fields.
pub(crate) fn take_fields(capacity: usize) -> Vec<ResponseField> {
    take(&FIELDS, capacity)
}

/// Keeps `fields`' allocation (its values dropped) for a later response on this thread.
pub(crate) fn give_back_fields(fields: Vec<ResponseField>) {
    give_back(&FIELDS, fields);
}

fn take<T: 'static>(spares: &'static LocalKey<RefCell<Vec<Vec<T>>>>, capacity: usize) -> Vec<T> {
    // `try_with`: a request parsed while the thread's locals are being destroyed just allocates.
    let spare = spares
        .try_with(|spares| spares.try_borrow_mut().ok().and_then(|mut s| s.pop()))
        .ok()
        .flatten();
    match spare {
        Some(mut vec) => {
            vec.reserve(capacity);
            vec
        }
        None => Vec::with_capacity(capacity),
    }
}

fn give_back<T: 'static>(spares: &'static LocalKey<RefCell<Vec<Vec<T>>>>, mut vec: Vec<T>) {
    if vec.capacity() == 0 || vec.capacity() > MAX_FIELDS {
        return;
    }
    // Dropped before the spares are borrowed: a value's drop may itself drop a response.
    vec.clear();
    let _ = spares.try_with(|spares| {
        if let Ok(mut spares) = spares.try_borrow_mut() {
            if spares.len() < SPARES {
                spares.push(vec);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_given_back_is_taken_again_without_allocating() {
        let mut spans = take_spans(4);
        spans.push(FieldSpan {
            name: (0, 4),
            value: (6, 9),
        });
        let at = spans.as_ptr();
        give_back_spans(spans);
        let again = take_spans(2);
        assert!(again.is_empty(), "a spare comes back cleared");
        assert_eq!(again.as_ptr(), at, "the same allocation");
    }

    #[test]
    fn spares_stay_bounded_in_number_and_size() {
        // Tests may share a thread (`--test-threads=1`): start from no spares.
        SPANS.with(|spares| spares.borrow_mut().clear());
        let big = Vec::with_capacity(MAX_FIELDS + 1);
        give_back_spans(big);
        SPANS.with(|spares| assert!(spares.borrow().is_empty(), "too large to keep"));
        for _ in 0..SPARES + 4 {
            give_back_spans(Vec::with_capacity(4));
        }
        SPANS.with(|spares| assert_eq!(spares.borrow().len(), SPARES));
    }
}
