//! The compression backend: `miniz_oxide`, pure Rust and `alloc`-only, so
//! permessage-deflate works without `std`.
//!
//! Both directions work on bounded chunks: the inflater writes at most one
//! output chunk per call, so the connection can check the message size
//! limit after every chunk and stop a decompression bomb at the limit
//! (RFC 7692 §8.1 leaves this to the implementation; we do it by design).

use alloc::boxed::Box;
use alloc::vec::Vec;

use miniz_oxide::inflate::stream::{InflateState, MinReset};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// The bytes a sync flush ends with; RFC 7692 §7.2.1 removes them from the
/// end of every compressed message and §7.2.2 appends them again.
pub(crate) const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Decompression failed: the peer sent corrupt deflate data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CorruptData;

/// The receive side: a raw-deflate inflater whose 32 KiB window survives
/// between messages unless the peer resets its context.
pub(crate) struct Inflater {
    state: Box<InflateState>,
    /// The stream hit corrupt data after producing output; the error is
    /// reported on the next call.
    failed: bool,
}

impl Inflater {
    pub(crate) fn new() -> Self {
        Self {
            state: InflateState::new_boxed(DataFormat::Raw),
            failed: false,
        }
    }

    /// Inflates from `input` into `out`; returns `(consumed, written)`.
    /// `(0, 0)` means it needs more input.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), CorruptData> {
        if self.failed {
            return Err(CorruptData);
        }
        if out.is_empty() {
            return Ok((0, 0));
        }
        let result =
            miniz_oxide::inflate::stream::inflate(&mut self.state, input, out, MZFlush::None);
        match result.status {
            Ok(MZStatus::Ok) => Ok((result.bytes_consumed, result.bytes_written)),
            // A sender may end a message with a final block (BFINAL); the
            // next message then starts a new stream. MinReset keeps the
            // window, which context takeover may still refer to.
            Ok(MZStatus::StreamEnd) => {
                self.state.reset_as(MinReset);
                Ok((result.bytes_consumed, result.bytes_written))
            }
            // No progress possible: more input is needed.
            Err(MZError::Buf) => Ok((result.bytes_consumed, result.bytes_written)),
            Ok(MZStatus::NeedDict) | Err(_) => {
                self.failed = true;
                // Output decoded before the corrupt data comes out first
                // (it may hold, say, invalid UTF-8 that input arriving in
                // pieces would have revealed earlier); the next call
                // reports the corruption.
                if result.bytes_written > 0 {
                    Ok((result.bytes_consumed, result.bytes_written))
                } else {
                    Err(CorruptData)
                }
            }
        }
    }

    /// Whether the stream hit corrupt data; output returned by the call
    /// that found it was decoded before the corrupt part.
    pub(crate) fn is_failed(&self) -> bool {
        self.failed
    }

    /// Forgets the window (the peer does not take its context over).
    pub(crate) fn reset(&mut self) {
        self.failed = false;
        self.state.reset(DataFormat::Raw);
    }
}

impl core::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Inflater")
    }
}

/// The send side: a raw-deflate compressor that respects the negotiated
/// window.
///
/// miniz_oxide 0.9 accepts a window size but its match finder ignores it
/// (its output for 9–14 bits is byte-identical to 15 bits and zlib rejects
/// it with "invalid distance too far back"; pinned by a test in
/// `tests/tests/deflate.rs`). So when the peer limits our window below
/// 32 KiB we emit stored (uncompressed) deflate blocks, which contain no
/// back-references and are valid for every window size. Such connections
/// get correct permessage-deflate framing without a compression gain;
/// a window of 15 bits (every browser's default) compresses normally.
pub(crate) struct Deflater {
    compressor: Box<miniz_oxide::deflate::core::CompressorOxide>,
    no_context_takeover: bool,
}

impl Deflater {
    pub(crate) fn new(level: u8, window_bits: u8, no_context_takeover: bool) -> Self {
        let level = if window_bits < 15 { 0 } else { level };
        let compressor = miniz_oxide::deflate::core::CompressorOxide::with_params(
            DataFormat::Raw,
            level,
            miniz_oxide::deflate::core::CompressionStrategy::Default,
            15,
        );
        Self {
            compressor: Box::new(compressor),
            no_context_takeover,
        }
    }

    /// Compresses `input`, one frame's worth of a message, appending to
    /// `out`. Each call ends with a sync flush, so the frame is decodable on
    /// its own; with `fin` the flush trailer is removed (RFC 7692 §7.2.1)
    /// and, without context takeover, the window is forgotten.
    pub(crate) fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>, fin: bool) {
        // Give the compressor room for all of its output in one call: when
        // miniz_oxide 0.9 runs out of output space in the middle of a sync
        // flush and is called again, the stream it produces can be corrupt
        // (seen with zlib rejecting "invalid stored block lengths" after a
        // few 64 KiB messages with context takeover). Deflate never expands
        // data by more than 5 bytes per 16 KiB stored block plus the flush,
        // so this bound is never reached in practice; the loop below only
        // guards against it.
        let mut space = input.len() + input.len() / 64 + 256;
        loop {
            let start = out.len();
            out.resize(start + space, 0);
            let result = miniz_oxide::deflate::stream::deflate(
                &mut self.compressor,
                input,
                &mut out[start..],
                MZFlush::Sync,
            );
            out.truncate(start + result.bytes_written);
            input = &input[result.bytes_consumed..];
            // Done when all input is in and the flush fitted the output.
            if input.is_empty() && (result.bytes_written < space || result.status.is_err()) {
                break;
            }
            space = space.max(4096) * 2;
        }
        if fin {
            if out.ends_with(&TRAILER) {
                out.truncate(out.len() - TRAILER.len());
            }
            if self.no_context_takeover {
                self.compressor.reset();
            }
        }
    }
}

impl core::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Deflater")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Found by the `inflate` fuzz target
    /// (`fuzz/corpus/inflate/regression-output-before-corruption`): output
    /// decoded before corrupt data was dropped along with the error, so a
    /// connection fed the whole frame failed with corrupt data while one fed
    /// byte by byte first saw (and failed on) the invalid UTF-8 in that
    /// output. Output before the error must come out first.
    #[test]
    fn output_before_corruption_is_delivered_first() {
        // A stored block "\x03\xe8llo", then a block header with the
        // reserved type 3.
        let data = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x03, 0xe8, b'l', b'l', b'o', 0xff,
        ];
        let mut whole = Inflater::new();
        let mut out = [0u8; 100];
        let (consumed, written) = whole.inflate(&data, &mut out).unwrap();
        assert_eq!(&out[..written], b"\x03\xe8llo");
        assert_eq!(whole.inflate(&data[consumed..], &mut out), Err(CorruptData));
        assert_eq!(whole.inflate(&[], &mut out), Err(CorruptData));
        // Byte by byte: the same output, then the same error.
        let mut bytewise = Inflater::new();
        let mut got = Vec::new();
        let mut result = Ok((0, 0));
        for byte in data {
            result = bytewise.inflate(&[byte], &mut out);
            if let Ok((_, written)) = result {
                got.extend_from_slice(&out[..written]);
            }
        }
        assert_eq!(got, b"\x03\xe8llo");
        assert_eq!(result, Err(CorruptData));
    }

    fn inflate_all(inflater: &mut Inflater, data: &[u8]) -> Vec<u8> {
        let mut input = [data, &TRAILER[..]].concat();
        let mut out = Vec::new();
        let mut chunk = [0u8; 100];
        loop {
            let (consumed, written) = inflater.inflate(&input, &mut chunk).unwrap();
            out.extend_from_slice(&chunk[..written]);
            input.drain(..consumed);
            if consumed == 0 && written == 0 {
                break;
            }
        }
        out
    }

    #[test]
    fn rfc7692_7_2_3_1_hello() {
        // "Hello" compressed, from RFC 7692 §7.2.3.1.
        let mut inflater = Inflater::new();
        assert_eq!(
            inflate_all(&mut inflater, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
            b"Hello"
        );
        // §7.2.3.2: the same message again with context takeover.
        assert_eq!(
            inflate_all(&mut inflater, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
            b"Hello"
        );
    }

    #[test]
    fn rfc7692_7_2_3_6_empty_message() {
        let mut deflater = Deflater::new(1, 15, false);
        let mut out = Vec::new();
        deflater.compress(b"", &mut out, true);
        assert_eq!(out, [0x00]);
        let mut inflater = Inflater::new();
        assert_eq!(inflate_all(&mut inflater, &out), b"");
    }

    #[test]
    fn round_trip_with_and_without_context_takeover() {
        let text: Vec<u8> = b"{\"user\":\"alice\",\"msg\":\"hello world\"} ".repeat(50);
        for window in [8, 9, 11, 12, 14, 15] {
            for reset in [false, true] {
                let mut deflater = Deflater::new(6, window, reset);
                let mut inflater = Inflater::new();
                let mut sizes = vec![];
                for _ in 0..3 {
                    let mut out = Vec::new();
                    deflater.compress(&text, &mut out, true);
                    sizes.push(out.len());
                    if reset {
                        inflater.reset();
                    }
                    assert_eq!(inflate_all(&mut inflater, &out), text, "window {window}");
                }
                if window == 15 {
                    assert!(sizes[0] < text.len() / 3, "window {window}: {sizes:?}");
                } else {
                    // Stored blocks: valid for any window, no gain.
                    assert!(sizes[0] >= text.len(), "window {window}: {sizes:?}");
                }
                if !reset && window == 15 {
                    // The second message refers to the first: much smaller.
                    assert!(sizes[1] < sizes[0] / 2, "{sizes:?}");
                }
            }
        }
    }

    #[test]
    fn fragments_compress_independently_decodable() {
        let mut deflater = Deflater::new(1, 15, false);
        let mut out = Vec::new();
        deflater.compress(b"Hel", &mut out, false);
        let first = out.len();
        deflater.compress(b"lo", &mut out, true);
        let mut inflater = Inflater::new();
        let mut chunk = [0u8; 64];
        let (_, n) = inflater.inflate(&out[..first], &mut chunk).unwrap();
        assert_eq!(&chunk[..n], b"Hel");
        assert_eq!(inflate_all(&mut inflater, &out[first..]), b"lo");
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut inflater = Inflater::new();
        let mut chunk = [0u8; 64];
        // BTYPE=11 is reserved (RFC 1951 §3.2.3).
        assert_eq!(
            inflater.inflate(&[0xff, 0xff, 0xff], &mut chunk),
            Err(CorruptData)
        );
    }
}
