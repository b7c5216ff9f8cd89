//! A client and a server driven by fuzzer-chosen commands, splits, corruption and a fake clock.
//!
//! The oracle lives in `ws_proto::fuzzing`, shared with the corpus replay
//! test `ws-proto/tests/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ws_proto::fuzzing::run_connection_script(data);
});
