//! `CloseFrame::parse`, re-encoding, and the payload through connections.
//!
//! The oracle lives in `ws_proto::fuzzing`, shared with the corpus replay
//! test `ws-proto/tests/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ws_proto::fuzzing::check_close_payload(data);
});
