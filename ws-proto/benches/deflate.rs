//! permessage-deflate throughput (RFC 7692) through the `Connection` API:
//! compressing on send and inflating on receive, for typical JSON chat
//! messages and a 64 KiB payload, with and without context takeover.
//!
//! `cargo bench -p ws-proto --bench deflate`

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use ws_proto::deflate::{DeflateConfig, DeflateParams};
use ws_proto::{Config, Connection, Event, Instant, NoMaskKeys, RecvBuf, Role, Transmit};

type Conn = Connection<NoMaskKeys, Vec<u8>>;

fn server(params: DeflateParams) -> Conn {
    let mut conn = Connection::with_parts(
        Role::Server,
        Config::default(),
        Instant::ZERO,
        NoMaskKeys,
        Vec::new(),
    );
    conn.enable_deflate(params, &DeflateConfig::default());
    conn
}

fn client(params: DeflateParams) -> Conn {
    // The client only receives here, so it never needs a mask key.
    let mut conn = Connection::with_parts(
        Role::Client,
        Config::default(),
        Instant::ZERO,
        NoMaskKeys,
        Vec::new(),
    );
    conn.enable_deflate(params, &DeflateConfig::default());
    conn
}

fn drain(conn: &mut Conn, out: &mut Vec<u8>) {
    while let Some(Transmit::Bytes(bytes)) = conn.poll_transmit() {
        out.extend_from_slice(bytes);
        let n = bytes.len();
        conn.consume_transmit(n);
    }
}

fn chat_message(i: usize) -> String {
    format!(
        r#"{{"type":"chat","room":"lobby","user":"user{}","ts":{},"text":"hello everyone, this is message number {i}"}}"#,
        i % 13,
        1_700_000_000 + i
    )
}

fn json_64k() -> String {
    let mut s = String::from("[");
    let mut i = 0;
    while s.len() < 65536 - 200 {
        s.push_str(&chat_message(i));
        s.push(',');
        i += 1;
    }
    s.push_str("{}]");
    s.truncate(65536);
    s
}

fn params(no_context_takeover: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: no_context_takeover,
        client_no_context_takeover: no_context_takeover,
        ..DeflateParams::default()
    }
}

fn bench(c: &mut Criterion) {
    let chats: Vec<String> = (0..64).map(chat_message).collect();
    let big = json_64k();
    let mut group = c.benchmark_group("deflate");
    for takeover in [true, false] {
        let label = if takeover {
            "context_takeover"
        } else {
            "no_context_takeover"
        };
        // Compression: send_text with deflate on, output drained.
        let chat_bytes: usize = chats.iter().map(String::len).sum();
        group.throughput(Throughput::Bytes(chat_bytes as u64));
        group.bench_function(
            BenchmarkId::new(format!("compress_chat_x64/{label}"), ""),
            |b| {
                let mut conn = server(params(!takeover));
                let mut out = Vec::with_capacity(1 << 16);
                b.iter(|| {
                    out.clear();
                    for m in &chats {
                        conn.send_text(m).unwrap();
                    }
                    drain(&mut conn, &mut out);
                    black_box(out.len())
                });
            },
        );
        group.throughput(Throughput::Bytes(big.len() as u64));
        group.bench_function(BenchmarkId::new(format!("compress_64k/{label}"), ""), |b| {
            let mut conn = server(params(!takeover));
            let mut out = Vec::with_capacity(1 << 17);
            b.iter(|| {
                out.clear();
                conn.send_text(&big).unwrap();
                drain(&mut conn, &mut out);
                black_box(out.len())
            });
        });

        // Decompression: the same messages, compressed once, fed to a client.
        // With context takeover each batch must follow the previous one, so
        // every iteration replays a fresh connection pair's first batch.
        for (name, messages, bytes) in [
            ("inflate_chat_x64", chats.clone(), chat_bytes),
            ("inflate_64k", vec![big.clone()], big.len()),
        ] {
            let mut sender = server(params(!takeover));
            let mut wire = Vec::new();
            for m in &messages {
                sender.send_text(m).unwrap();
            }
            drain(&mut sender, &mut wire);
            group.throughput(Throughput::Bytes(bytes as u64));
            group.bench_function(BenchmarkId::new(format!("{name}/{label}"), ""), |b| {
                let mut buf = RecvBuf::with_capacity(64 * 1024);
                b.iter(|| {
                    let mut conn = client(params(!takeover));
                    let mut rest = &wire[..];
                    let mut total = 0usize;
                    while !rest.is_empty() {
                        let n = buf.extend_from_slice(rest);
                        rest = &rest[n..];
                        while let Some(event) = conn.receive(Instant::ZERO, &mut buf) {
                            if let Event::Data { payload, .. } = event {
                                total += payload.len();
                            }
                        }
                    }
                    assert_eq!(total, bytes);
                    black_box(total)
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
