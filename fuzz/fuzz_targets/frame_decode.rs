//! Whole frames through a client and a server `Connection`: unmasking, events and output vs a reference decoder, whole vs split input.
//!
//! The oracle lives in `ws_proto::fuzzing`, shared with the corpus replay
//! test `ws-proto/tests/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ws_proto::fuzzing::check_frame_decode(data);
});
