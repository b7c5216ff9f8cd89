//! no_std link check for `ws-proto`.
//!
//! This crate is `#![no_std]` and provides its own `#[panic_handler]`. If
//! anything in ws-proto's dependency graph (with `default-features = false`,
//! optionally plus `alloc`) links `std`, std's `panic_impl` lang item clashes
//! with ours and the build fails:
//!
//! ```text
//! error[E0152]: found duplicate lang item `panic_impl`
//!   --> src/lib.rs
//!    = note: the lang item is first defined in crate `std` (which `ws_proto` depends on)
//! ```
//!
//! That is exactly what `cargo build` and `cargo check` of this crate
//! printed (exit status 101; 2026-11, rustc 1.95.0) when the dependency was
//! temporarily switched to ws-proto's default features (`std`); see
//! `scripts/nostd-check.sh`.
//!
//! The functions below call into ws-proto (masking, frame header parsing,
//! the opening-handshake accept key, a server `Connection` sending and
//! receiving) so that the code is really used, not just linked in name.
#![no_std]

#[cfg(feature = "alloc")]
extern crate alloc;

use core::panic::PanicInfo;

use ws_proto::{
    ArrayStorage, Config, Connection, FrameHeader, Instant, MaskKey, NoMaskKeys, RecvBuf, Role,
    Status, Transmit,
};

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {}
}

/// A masked client Text frame "Hello" (RFC 6455 §5.7), followed by a masked
/// empty Close frame.
static FRAMES: [u8; 17] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, // Text "Hello"
    0x88, 0x80, 0x01, 0x02, 0x03, 0x04, // Close, no payload
];

/// Exercises ws-proto's no_std API on `input` (treated as bytes received
/// from a client) and returns a number that depends on all of the results.
pub fn check(input: &mut [u8]) -> usize {
    let mut total = 0;

    // The accept key of RFC 6455 §1.3's example nonce.
    let key = ws_proto::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
    total += usize::from(key[0]) + key.len();

    // Frame header parsing on the raw input.
    if let Ok(Status::Complete((header, header_len))) = FrameHeader::parse(input) {
        total += header_len;
        let _ = header;
    }

    // A server connection with fixed-size send storage.
    let mut conn = Connection::with_parts(
        Role::Server,
        Config::default(),
        Instant::ZERO,
        NoMaskKeys,
        ArrayStorage::<1024>::new(),
    );
    total += exercise(&mut conn, input);

    // Masking last: it changes `input` in place.
    ws_proto::mask::apply_mask(input, MaskKey::new([1, 2, 3, 4]), 0);
    total + input.iter().map(|&b| usize::from(b)).sum::<usize>()
}

/// Sends a Text message, drains the transmit queue, then feeds `input` to
/// `conn` and counts the events.
fn exercise<K, S>(conn: &mut Connection<K, S>, input: &[u8]) -> usize
where
    K: ws_proto::MaskKeySource,
    S: ws_proto::SendStorage,
{
    let mut total = 0;
    if conn.send_text("hi").is_ok() {
        while let Some(Transmit::Bytes(bytes)) = conn.poll_transmit() {
            let n = bytes.len();
            total += n;
            conn.consume_transmit(n);
        }
    }
    if let Ok(mut recv_buf) = RecvBuf::new([0u8; 512]) {
        total += recv_buf.extend_from_slice(input);
        while let Some(_event) = conn.receive(Instant::ZERO, &mut recv_buf) {
            total += 1;
        }
    }
    while let Some(Transmit::Bytes(bytes)) = conn.poll_transmit() {
        let n = bytes.len();
        total += n;
        conn.consume_transmit(n);
    }
    total
}

/// C entry point, so that the staticlib exports something that reaches all
/// of the above.
#[unsafe(no_mangle)]
pub extern "C" fn ws_check() -> usize {
    let mut frames = FRAMES;
    let total = check(&mut frames);
    #[cfg(feature = "alloc")]
    let total = total + heap::check_alloc(&FRAMES);
    total
}

#[cfg(feature = "alloc")]
mod heap {
    //! `alloc` feature: `Vec` send storage and message reassembly, with a
    //! tiny bump allocator over a static arena as the global allocator
    //! (never frees; enough for a link check and a single call).
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicUsize, Ordering};

    use alloc::vec::Vec;
    use ws_proto::{Config, Connection, Instant, MessageAssembler, NoMaskKeys, RecvBuf, Role};

    const ARENA_SIZE: usize = 64 * 1024;

    #[repr(C, align(16))]
    struct Arena(UnsafeCell<[u8; ARENA_SIZE]>);

    // SAFETY: the bytes are only handed out through `Bump::alloc`, which gives
    // every caller a disjoint range.
    unsafe impl Sync for Arena {}

    struct Bump {
        arena: Arena,
        next: AtomicUsize,
    }

    // SAFETY: `alloc` returns disjoint, correctly aligned ranges inside the
    // arena (or null when it is exhausted); `dealloc` never frees.
    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let base = self.arena.0.get().cast::<u8>();
            let mut current = self.next.load(Ordering::Relaxed);
            loop {
                let start =
                    (base as usize + current).next_multiple_of(layout.align()) - base as usize;
                let Some(end) = start.checked_add(layout.size()) else {
                    return core::ptr::null_mut();
                };
                if end > ARENA_SIZE {
                    return core::ptr::null_mut();
                }
                match self.next.compare_exchange_weak(
                    current,
                    end,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    // SAFETY: start + size <= ARENA_SIZE.
                    Ok(_) => return unsafe { base.add(start) },
                    Err(actual) => current = actual,
                }
            }
        }

        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
    }

    #[global_allocator]
    static ALLOCATOR: Bump = Bump {
        arena: Arena(UnsafeCell::new([0; ARENA_SIZE])),
        next: AtomicUsize::new(0),
    };

    pub(crate) fn check_alloc(input: &[u8]) -> usize {
        let mut conn = Connection::with_parts(
            Role::Server,
            Config::default(),
            Instant::ZERO,
            NoMaskKeys,
            Vec::new(),
        );
        // With `deflate`, frames are compressed by miniz_oxide (alloc-only).
        #[cfg(feature = "deflate")]
        conn.enable_deflate(
            ws_proto::deflate::DeflateParams::default(),
            &ws_proto::deflate::DeflateConfig::default(),
        );
        // Send through the `Vec` storage only; the input goes to the assembler.
        let mut total = super::exercise(&mut conn, &[]);

        let mut recv_buf = RecvBuf::with_capacity(1024);
        total += recv_buf.extend_from_slice(input);
        let mut messages = MessageAssembler::new();
        while let Some(event) = conn.receive(Instant::ZERO, &mut recv_buf) {
            if let Some(message) = messages.push_event(&event) {
                total += message.len();
            }
        }
        total
    }
}
