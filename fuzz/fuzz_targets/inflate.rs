//! permessage-deflate (RFC 7692): negotiation between our client and server
//! configurations, arbitrary bytes through compressing connections of both
//! roles (whole vs split, message limits), and compressed round trips.
//!
//! The oracle lives in `ws_proto::fuzzing`, shared with the corpus replay
//! test `ws-proto/tests/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ws_proto::fuzzing::check_inflate(data);
});
