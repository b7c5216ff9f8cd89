//! Replays every file of the fuzz corpora (`fuzz/corpus/<target>/`) through
//! the same oracles the cargo-fuzz targets call (`ws_proto::fuzzing`), on
//! stable, as part of `cargo test --workspace`: every input the fuzzer ever
//! kept, including each crash that was fixed, stays checked.
//!
//! The `fuzzing` feature is switched on for this crate's tests by the
//! self dev-dependency in `ws-proto/Cargo.toml`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ws_proto::fuzzing;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Runs `check` on every file of `target`'s corpus and prints the count.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus for {target}");
    for file in &files {
        let data = fs::read(file).expect("a corpus file");
        let result = std::panic::catch_unwind(|| check(&data));
        if let Err(panic) = result {
            eprintln!("fuzz corpus {target}: {} failed", file.display());
            std::panic::resume_unwind(panic);
        }
    }
    // Written to stderr directly, not with `eprintln!`, so that the libtest
    // output capture lets the count through on every `cargo test` run.
    let _ = writeln!(
        std::io::stderr(),
        "fuzz corpus {target}: replayed {} files",
        files.len()
    );
}

macro_rules! replay_tests {
    ($($target:ident => $check:path;)*) => {$(
        #[test]
        fn $target() {
            replay(stringify!($target), $check);
        }
    )*};
}

replay_tests! {
    frame_header => fuzzing::check_frame_header;
    frame_decode => fuzzing::check_frame_decode;
    handshake_request => fuzzing::check_handshake_request;
    handshake_response => fuzzing::check_handshake_response;
    extension_offers => fuzzing::check_extension_offers;
    close_payload => fuzzing::check_close_payload;
    roundtrip => fuzzing::check_roundtrip;
    connection => fuzzing::run_connection_script;
    // The tungstenite side of this target exists only in fuzz/; its inputs
    // are raw frame bytes, replayed here through our own header oracle and
    // both roles' decoders.
    differential_tungstenite => differential;
}

#[cfg(feature = "deflate")]
replay_tests! {
    inflate => fuzzing::check_inflate;
}

fn differential(data: &[u8]) {
    fuzzing::check_frame_header(data);
    for role in [ws_proto::Role::Client, ws_proto::Role::Server] {
        fuzzing::check_connection_bytes(role, &ws_proto::Config::default(), 1 << 16, data, &[]);
    }
}
