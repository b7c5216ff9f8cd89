//! Frames encoded by one `Connection` and decoded by its peer: the same messages.
//!
//! The oracle lives in `ws_proto::fuzzing`, shared with the corpus replay
//! test `ws-proto/tests/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ws_proto::fuzzing::check_roundtrip(data);
});
