//! `wsload`: the loopback load tool of the side-by-side benchmarks.
//!
//! ```text
//! wsload echo      --addr A [--path /echo] [--raw] --conns C --inflight P --size N [--binary]
//!                  [--warmup S] [--duration S] [--server-pid PID] [--label NAME]
//! wsload latency   --addr A [--path /echo] [--raw] [--size N] [--warmup-count K] [--count K] [--duration S]
//! wsload handshake --addr A [--path /echo] [--conns C] [--warmup S] [--duration S] [--server-pid PID]
//! wsload idle      --addr A [--path /echo] [--raw] --conns N --server-pid PID [--settle S]
//! wsload broadcast --addr A [--path /broadcast] --conns N [--rounds R] [--settle S]
//! wsload wait      --addr A [--timeout S]
//! ```
//!
//! Loopback only: the address must be in 127.0.0.0/8 (or `::1`). Every loop
//! is bounded in count and in time, and the tool exits by itself. Each
//! measurement prints one `RESULT key=value ...` line on stdout (plus
//! `--label`), which `bench/report.py` turns into tables and plots.
//!
//! Client frames are masked with a fixed, non-zero key and pre-encoded
//! once, so the client spends its time on the sockets; responses are
//! checked frame by frame (header bytes always, payload bytes for the first
//! frames of each connection and every frame in `latency`). `--raw` talks
//! to the raw TCP echo: no handshake, and the echoed bytes are the masked
//! frames themselves.

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use ws_bench::client::{cpu_seconds, rss_kib};
use ws_bench::{Opts, run_local};
use ws_proto::mask::{MaskKey, apply_mask};
use ws_proto::{FrameHeader, OpCode};

const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// Any connection that makes no progress for this long fails the run.
const STALL: Duration = Duration::from_secs(20);

fn main() {
    let (mode, opts) = Opts::from_env(usage);
    let result = match mode.as_str() {
        "echo" => run_local(echo(&opts)),
        "latency" => latency(&opts),
        "handshake" => handshake(&opts),
        "idle" => run_local(idle(&opts)),
        "broadcast" => run_local(broadcast(&opts)),
        "wait" => wait(&opts),
        other => usage(&format!("unknown mode {other}")),
    };
    if let Err(err) = result {
        eprintln!("wsload {mode}: {err}");
        std::process::exit(1);
    }
}

fn usage(why: &str) -> ! {
    eprintln!(
        "wsload: {why}\nmodes: echo, latency, handshake, idle, broadcast, wait (see the source header)"
    );
    std::process::exit(2);
}

type Res<T> = Result<T, String>;

// ------------------------------------------------------------------ options

/// The options only `wsload` reads.
trait LoadOpts {
    fn secs(&self, key: &str, default: f64) -> Duration;
    fn addr(&self) -> SocketAddr;
    fn label(&self) -> String;
}

impl LoadOpts for Opts {
    fn secs(&self, key: &str, default: f64) -> Duration {
        Duration::from_secs_f64(self.num(key, default))
    }

    /// The target, which must be a loopback address.
    fn addr(&self) -> SocketAddr {
        let addr: SocketAddr = self
            .str("addr", "127.0.0.1:9101")
            .parse()
            .unwrap_or_else(|_| self.usage("bad --addr"));
        if !addr.ip().is_loopback() {
            self.usage("--addr must be a loopback address (127.0.0.0/8 or ::1)");
        }
        addr
    }

    fn label(&self) -> String {
        self.str("label", "-")
    }
}

// ------------------------------------------------------------------ frames

/// What a connection sends and expects back.
struct Traffic {
    /// One masked client frame.
    request: Vec<u8>,
    /// The frame the server sends back (unmasked), or `request` for raw.
    response: Vec<u8>,
    payload_len: usize,
}

impl Traffic {
    fn new(size: usize, binary: bool, raw: bool) -> Self {
        let payload: Vec<u8> = if binary {
            (0..size).map(|i| (i * 131 + 17) as u8).collect()
        } else {
            (0..size).map(|i| b'a' + (i % 26) as u8).collect()
        };
        let opcode = if binary { OpCode::Binary } else { OpCode::Text };
        let request = encode(opcode, &payload, Some(MaskKey::new(MASK_KEY)));
        let response = if raw {
            request.clone()
        } else {
            encode(opcode, &payload, None)
        };
        Self {
            request,
            response,
            payload_len: size,
        }
    }
}

fn encode(opcode: OpCode, payload: &[u8], mask: Option<MaskKey>) -> Vec<u8> {
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut out = vec![0; header.encoded_len()];
    let _ = header.encode(&mut out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// Splits the response stream into frames and checks them against the
/// expected bytes: the header always, the payload for the first
/// `full_checks` frames.
struct Checker {
    expect: Rc<Vec<u8>>,
    header_len: usize,
    pos: usize,
    full_checks: u64,
}

impl Checker {
    fn new(expect: Rc<Vec<u8>>, header_len: usize, full_checks: u64) -> Self {
        Self {
            expect,
            header_len,
            pos: 0,
            full_checks,
        }
    }

    /// Consumes `data`; returns how many frames it completed.
    fn feed(&mut self, mut data: &[u8]) -> Res<u64> {
        let mut done = 0;
        let frame_len = self.expect.len();
        while !data.is_empty() {
            let take = (frame_len - self.pos).min(data.len());
            let check_to = if self.full_checks > 0 {
                take
            } else {
                self.header_len.saturating_sub(self.pos).min(take)
            };
            if data[..check_to] != self.expect[self.pos..self.pos + check_to] {
                return Err(format!(
                    "unexpected bytes at offset {} of a response frame: {:02x?}",
                    self.pos,
                    &data[..check_to.min(16)]
                ));
            }
            self.pos += take;
            data = &data[take..];
            if self.pos == frame_len {
                self.pos = 0;
                done += 1;
                self.full_checks = self.full_checks.saturating_sub(1);
            }
        }
        Ok(done)
    }
}

fn header_len(frame: &[u8]) -> usize {
    match FrameHeader::parse(frame) {
        Ok(ws_proto::Status::Complete((_, len))) => len,
        _ => 0,
    }
}

// ------------------------------------------------------------------ connecting

fn upgrade_request(addr: SocketAddr, path: &str) -> Vec<u8> {
    upgrade_request_with_key(addr, path, HANDSHAKE_KEY)
}

fn upgrade_request_with_key(addr: SocketAddr, path: &str, key: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: "
    )
    .into_bytes();
    request.extend_from_slice(key);
    request.extend_from_slice(b"\r\nSec-WebSocket-Version: 13\r\n\r\n");
    request
}

/// Checks a complete response head; returns its length.
fn check_head(head: &[u8]) -> Res<Option<usize>> {
    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
        if head.len() > 8192 {
            return Err("response head too long".into());
        }
        return Ok(None);
    };
    if !head.starts_with(b"HTTP/1.1 101") {
        let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
        return Err(format!(
            "upgrade refused: {}",
            String::from_utf8_lossy(line)
        ));
    }
    Ok(Some(end + 4))
}

/// Connects and, unless `raw`, performs the opening handshake.
async fn connect(addr: SocketAddr, path: &str, raw: bool) -> Res<TcpStream> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    if raw {
        return Ok(stream);
    }
    stream
        .write_all(&upgrade_request(addr, path))
        .await
        .map_err(|e| format!("handshake write: {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("handshake read: {e}"))?;
        if n == 0 {
            return Err("connection closed during the handshake".into());
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(len) = check_head(&head)? {
            if len != head.len() {
                return Err("server sent frames before any request".into());
            }
            return Ok(stream);
        }
    }
}

/// Opens `n` connections, `parallel` at a time, within `limit`.
async fn connect_many(
    addr: SocketAddr,
    path: &str,
    raw: bool,
    n: usize,
    parallel: usize,
    limit: Duration,
) -> Res<Vec<TcpStream>> {
    let deadline = Instant::now() + limit;
    let mut streams = Vec::with_capacity(n);
    while streams.len() < n {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {n} connections within {limit:?}",
                streams.len()
            ));
        }
        let batch = parallel.min(n - streams.len());
        let mut tasks = Vec::with_capacity(batch);
        for _ in 0..batch {
            let path = path.to_owned();
            tasks.push(tokio::task::spawn_local(async move {
                connect(addr, &path, raw).await
            }));
        }
        for task in tasks {
            let stream = tokio::time::timeout(STALL, task)
                .await
                .map_err(|_| "connect timed out".to_owned())?
                .map_err(|e| e.to_string())??;
            streams.push(stream);
        }
    }
    Ok(streams)
}

// ------------------------------------------------------------------ CPU and memory

struct CpuWindow {
    server: Option<String>,
    start: Instant,
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
}

impl CpuWindow {
    fn start(server: Option<String>) -> Self {
        Self {
            server_cpu: server.as_deref().and_then(cpu_seconds),
            client_cpu: cpu_seconds("self"),
            server,
            start: Instant::now(),
        }
    }

    /// (server, client) CPU use over the window, as a fraction of a core.
    fn finish(&self) -> (f64, f64) {
        let wall = self.start.elapsed().as_secs_f64();
        let server = match (&self.server, self.server_cpu) {
            (Some(pid), Some(before)) => cpu_seconds(pid).map_or(-1.0, |now| (now - before) / wall),
            _ => -1.0,
        };
        let client = match (self.client_cpu, cpu_seconds("self")) {
            (Some(before), Some(now)) => (now - before) / wall,
            _ => -1.0,
        };
        (server, client)
    }
}

// ------------------------------------------------------------------ echo

/// Throughput: `conns` connections, each keeping `inflight` messages in
/// flight; counts echoed messages over `duration` after `warmup`.
async fn echo(opts: &Opts) -> Res<()> {
    let addr = opts.addr();
    let raw = opts.flag("raw");
    let path = opts.str("path", "/echo");
    let conns: usize = opts.num("conns", 64);
    let inflight: usize = opts.num("inflight", 16);
    let size: usize = opts.num("size", 16);
    let binary = opts.flag("binary");
    let warmup = opts.secs("warmup", 1.0);
    let duration = opts.secs("duration", 3.0);
    let server_pid = opts.get("server-pid").map(str::to_owned);

    let traffic = Traffic::new(size, binary, raw);
    let batch: Rc<Vec<u8>> = Rc::new(traffic.request.repeat(inflight));
    let frame_len = traffic.request.len();
    let expect = Rc::new(traffic.response);
    let header = header_len(&expect);

    let streams = connect_many(addr, &path, raw, conns, 64, Duration::from_secs(30)).await?;
    let done = Rc::new(Cell::new(0u64));
    let stop = Rc::new(Cell::new(false));
    let failure: Rc<RefCell<Option<String>>> = Rc::default();
    let progress = Rc::new(Cell::new(Instant::now()));
    let mut tasks = Vec::new();
    for stream in streams {
        let (mut rd, mut wr) = stream.into_split();
        let credits = Rc::new(Cell::new(inflight));
        let wake = Rc::new(Notify::new());
        let (batch, stop_w, credits_w, wake_w) =
            (batch.clone(), stop.clone(), credits.clone(), wake.clone());
        let failure_w = failure.clone();
        tasks.push(tokio::task::spawn_local(async move {
            while !stop_w.get() {
                let n = credits_w.replace(0);
                if n == 0 {
                    wake_w.notified().await;
                    continue;
                }
                if let Err(e) = wr.write_all(&batch[..n * frame_len]).await {
                    if !stop_w.get() {
                        failure_w.borrow_mut().get_or_insert(format!("write: {e}"));
                    }
                    return;
                }
            }
        }));
        let mut checker = Checker::new(expect.clone(), header, inflight as u64);
        let (done, stop, failure, progress) = (
            done.clone(),
            stop.clone(),
            failure.clone(),
            progress.clone(),
        );
        tasks.push(tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; 256 * 1024];
            while !stop.get() {
                let n = match rd.read(&mut buf).await {
                    Ok(0) => {
                        if !stop.get() {
                            failure.borrow_mut().get_or_insert("server closed".into());
                        }
                        return;
                    }
                    Ok(n) => n,
                    Err(e) => {
                        failure.borrow_mut().get_or_insert(format!("read: {e}"));
                        return;
                    }
                };
                match checker.feed(&buf[..n]) {
                    Ok(k) if k > 0 => {
                        done.set(done.get() + k);
                        progress.set(Instant::now());
                        credits.set(credits.get() + k as usize);
                        wake.notify_one();
                    }
                    Ok(_) => {}
                    Err(e) => {
                        failure.borrow_mut().get_or_insert(e);
                        return;
                    }
                }
            }
        }));
    }

    let watch = |until: Instant| {
        let failure = failure.clone();
        let progress = progress.clone();
        async move {
            while Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let Some(e) = failure.borrow().clone() {
                    return Err(e);
                }
                if progress.get().elapsed() > STALL {
                    return Err("no progress".to_owned());
                }
            }
            Ok(())
        }
    };
    watch(Instant::now() + warmup).await?;
    let start_count = done.get();
    let cpu = CpuWindow::start(server_pid);
    let start = Instant::now();
    watch(start + duration).await?;
    let count = done.get() - start_count;
    let wall = start.elapsed().as_secs_f64();
    let (server_cpu, client_cpu) = cpu.finish();
    stop.set(true);
    for task in &tasks {
        task.abort();
    }
    if count == 0 {
        return Err("no message came back during the measured window".into());
    }
    let rate = count as f64 / wall;
    println!(
        "RESULT test=echo label={} size={size} kind={} conns={conns} inflight={inflight} \
         msgs_per_s={rate:.0} mib_per_s={:.2} server_cpu={server_cpu:.2} client_cpu={client_cpu:.2}",
        opts.label(),
        if binary { "binary" } else { "text" },
        rate * traffic.payload_len as f64 / (1024.0 * 1024.0),
    );
    Ok(())
}

// ------------------------------------------------------------------ latency

/// One connection, one message in flight, blocking sockets: round-trip
/// percentiles.
fn latency(opts: &Opts) -> Res<()> {
    let addr = opts.addr();
    let raw = opts.flag("raw");
    let path = opts.str("path", "/echo");
    let size: usize = opts.num("size", 16);
    let binary = opts.flag("binary");
    let warmup: usize = opts.num("warmup-count", 2000);
    let count: usize = opts.num("count", 50_000);
    let duration = opts.secs("duration", 3.0);

    let traffic = Traffic::new(size, binary, raw);
    let mut stream = StdTcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(STALL))
        .map_err(|e| e.to_string())?;
    if !raw {
        stream
            .write_all(&upgrade_request(addr, &path))
            .map_err(|e| e.to_string())?;
        let mut head = Vec::new();
        let mut chunk = [0u8; 512];
        loop {
            let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed during the handshake".into());
            }
            head.extend_from_slice(&chunk[..n]);
            if check_head(&head)?.is_some() {
                break;
            }
        }
    }
    let expect = Rc::new(traffic.response.clone());
    let mut checker = Checker::new(expect.clone(), header_len(&expect), u64::MAX);
    let mut buf = vec![0u8; 64 * 1024 + 2 * traffic.response.len()];
    let mut samples = Vec::with_capacity(count);
    let deadline = Instant::now() + duration + Duration::from_secs(2);
    for i in 0..warmup + count {
        if i >= warmup && Instant::now() > deadline {
            break;
        }
        let start = Instant::now();
        stream
            .write_all(&traffic.request)
            .map_err(|e| format!("write: {e}"))?;
        let mut got = 0;
        while got == 0 {
            let n = stream.read(&mut buf).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("server closed".into());
            }
            got += checker.feed(&buf[..n])?;
        }
        if got != 1 {
            return Err("more than one response".into());
        }
        if i >= warmup {
            samples.push(start.elapsed().as_nanos() as u64);
        }
    }
    samples.sort_unstable();
    let pct = |p: f64| {
        let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i] as f64 / 1000.0
    };
    let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64 / 1000.0;
    println!(
        "RESULT test=latency label={} size={size} samples={} p50_us={:.2} p90_us={:.2} \
         p99_us={:.2} p999_us={:.2} max_us={:.2} mean_us={mean:.2}",
        opts.label(),
        samples.len(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        pct(1.0),
    );
    Ok(())
}

// ------------------------------------------------------------------ handshake

/// The client key of every handshake (RFC 6455's example nonce): the
/// request bytes are built once and the expected `Sec-WebSocket-Accept`
/// value is computed once, so the client does no hashing per connection.
const HANDSHAKE_KEY: &[u8] = b"dGhlIHNhbXBsZSBub25jZQ==";
/// Upper bound on the handshakes of one run, whatever the duration.
const HANDSHAKE_MAX: u64 = 50_000_000;

/// Handshakes per second, with as little client work per handshake as the
/// kernel allows: `conns` connections in flight, blocking sockets served
/// oldest first (no poller to register with). Each connection is opened
/// (`socket`, `connect`), gets SO_LINGER 0 (its close is a reset, so no
/// TIME_WAIT piles up), sends the prebuilt upgrade request in one write,
/// reads the response into one reused buffer (`101` status and the
/// expected accept value checked, nothing else may follow the head) and is
/// closed, and a new one takes its place. No allocation per connection. A
/// watchdog thread ends the process if the run outlives its time bound.
///
/// What is left is kernel work (about 98 % of the client's time), and on
/// loopback a packet is received on the core that sends it: the server
/// side's SYN, ACK (the accepted socket is created there), request and
/// reset processing all run on the load tool's core. Keep `conns` within
/// the servers' accept backlogs (128 is safe; 256 overflowed them here and
/// stalled connects for a SYN retransmission).
fn handshake(opts: &Opts) -> Res<()> {
    let addr = opts.addr();
    let path = opts.str("path", "/echo");
    let conns: usize = opts.num("conns", 32).max(1);
    let warmup = opts.secs("warmup", 1.0);
    let duration = opts.secs("duration", 3.0);
    let server_pid = opts.get("server-pid").map(str::to_owned);

    let bound = warmup + duration + STALL;
    std::thread::spawn(move || {
        std::thread::sleep(bound);
        eprintln!("wsload handshake: no result within {bound:?} (server stalled?)");
        std::process::exit(1);
    });

    let request = upgrade_request_with_key(addr, &path, HANDSHAKE_KEY);
    let accept = ws_proto::handshake::accept_key(HANDSHAKE_KEY);
    let mut buf = [0u8; 2048];
    let mut ring = std::collections::VecDeque::with_capacity(conns);
    for _ in 0..conns {
        ring.push_back(open_upgrade(addr, &request)?);
    }
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut done = 0u64;
    let mut window: Option<(CpuWindow, u64)> = None;
    while done < HANDSHAKE_MAX {
        if done.is_multiple_of(64) {
            let now = Instant::now();
            if now >= end {
                break;
            }
            if window.is_none() && now >= measure_from {
                window = Some((CpuWindow::start(server_pid.clone()), done));
            }
        }
        let Some(mut stream) = ring.pop_front() else {
            break;
        };
        read_upgrade(&mut stream, &mut buf, &accept)?;
        drop(stream);
        done += 1;
        ring.push_back(open_upgrade(addr, &request)?);
    }
    let Some((cpu, start_count)) = window else {
        return Err("the run ended before the measurement window".into());
    };
    let wall = cpu.start.elapsed().as_secs_f64();
    let (server_cpu, client_cpu) = cpu.finish();
    let count = done - start_count;
    let per_s = count as f64 / wall;
    let us_per = |cpu: f64| {
        if cpu < 0.0 || count == 0 {
            -1.0
        } else {
            cpu * wall / count as f64 * 1e6
        }
    };
    println!(
        "RESULT test=handshake label={} conns={conns} per_s={per_s:.0} server_cpu={server_cpu:.2} \
         client_cpu={client_cpu:.2} server_us={:.2} client_us={:.2}",
        opts.label(),
        us_per(server_cpu),
        us_per(client_cpu),
    );
    Ok(())
}

/// Opens one connection and sends the upgrade request.
fn open_upgrade(addr: SocketAddr, request: &[u8]) -> Res<StdTcpStream> {
    let mut stream = StdTcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .map_err(|e| format!("SO_LINGER: {e}"))?;
    stream
        .write_all(request)
        .map_err(|e| format!("handshake write: {e}"))?;
    Ok(stream)
}

/// Reads one upgrade response: a complete head, status `101`, the expected
/// accept value, and nothing after the head.
fn read_upgrade(stream: &mut StdTcpStream, buf: &mut [u8], accept: &[u8]) -> Res<()> {
    let mut len = 0;
    loop {
        let n = stream
            .read(&mut buf[len..])
            .map_err(|e| format!("handshake read: {e}"))?;
        if n == 0 {
            return Err("connection closed during the handshake".into());
        }
        // The terminator may straddle two reads.
        let from = len.saturating_sub(3);
        len += n;
        if let Some(at) = find(&buf[from..len], b"\r\n\r\n") {
            let head_len = from + at + 4;
            let head = &buf[..head_len];
            if !head.starts_with(b"HTTP/1.1 101 ") {
                let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
                return Err(format!(
                    "upgrade refused: {}",
                    String::from_utf8_lossy(line)
                ));
            }
            if find(head, accept).is_none() {
                return Err("wrong or missing Sec-WebSocket-Accept".into());
            }
            if head_len != len {
                return Err("server sent frames before any request".into());
            }
            return Ok(());
        }
        if len == buf.len() {
            return Err("response head too long".into());
        }
    }
}

/// First position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut at = 0;
    while at + needle.len() <= hay.len() {
        let i = hay[at..=hay.len() - needle.len()]
            .iter()
            .position(|&b| b == first)?;
        at += i;
        if &hay[at + 1..at + needle.len()] == rest {
            return Some(at);
        }
        at += 1;
    }
    None
}

// ------------------------------------------------------------------ idle memory

/// Server memory per idle connection: VmRSS with `conns` open connections
/// minus VmRSS before, divided by `conns`.
async fn idle(opts: &Opts) -> Res<()> {
    let addr = opts.addr();
    let raw = opts.flag("raw");
    let path = opts.str("path", "/echo");
    let conns: usize = opts.num("conns", 10_000);
    let settle = opts.secs("settle", 1.0);
    let Some(pid) = opts.get("server-pid").map(str::to_owned) else {
        usage("idle needs --server-pid");
    };
    let before = rss_kib(&pid).ok_or("cannot read the server's VmRSS")?;
    let streams = connect_many(addr, &path, raw, conns, 100, Duration::from_secs(60)).await?;
    tokio::time::sleep(settle).await;
    let after = rss_kib(&pid).ok_or("cannot read the server's VmRSS")?;
    let per_conn = (after.saturating_sub(before)) as f64 * 1024.0 / conns as f64;
    println!(
        "RESULT test=idle label={} conns={conns} rss_before_kib={before} rss_after_kib={after} \
         bytes_per_conn={per_conn:.0}",
        opts.label()
    );
    drop(streams);
    Ok(())
}

// ------------------------------------------------------------------ broadcast

/// Fan-out: `conns` listeners on the broadcast route and one sender; each
/// round the sender sends one 16-byte text message and the time until
/// every listener has it is recorded.
async fn broadcast(opts: &Opts) -> Res<()> {
    let addr = opts.addr();
    let path = opts.str("path", "/broadcast");
    let conns: usize = opts.num("conns", 10_000);
    let rounds: usize = opts.num("rounds", 10);
    let settle = opts.secs("settle", 1.0);
    let traffic = Traffic::new(16, false, false);
    let expect = Rc::new(traffic.response.clone());
    let header = header_len(&expect);

    let listeners = connect_many(addr, &path, false, conns, 100, Duration::from_secs(60)).await?;
    let mut sender = connect(addr, &path, false).await?;
    let round_start = Rc::new(Cell::new(Instant::now()));
    let arrivals: Rc<RefCell<Vec<Duration>>> = Rc::default();
    let all_in = Rc::new(Notify::new());
    let failure: Rc<RefCell<Option<String>>> = Rc::default();
    let mut tasks = Vec::new();
    for mut stream in listeners {
        let mut checker = Checker::new(expect.clone(), header, u64::MAX);
        let (round_start, arrivals, all_in, failure) = (
            round_start.clone(),
            arrivals.clone(),
            all_in.clone(),
            failure.clone(),
        );
        tasks.push(tokio::task::spawn_local(async move {
            let mut buf = [0u8; 256];
            loop {
                let n = match stream.read(&mut buf).await {
                    Ok(0) => {
                        failure.borrow_mut().get_or_insert("server closed".into());
                        return;
                    }
                    Ok(n) => n,
                    Err(e) => {
                        failure.borrow_mut().get_or_insert(format!("read: {e}"));
                        return;
                    }
                };
                match checker.feed(&buf[..n]) {
                    Ok(k) => {
                        let mut arrivals = arrivals.borrow_mut();
                        for _ in 0..k {
                            arrivals.push(round_start.get().elapsed());
                        }
                        if arrivals.len() >= conns {
                            all_in.notify_one();
                        }
                    }
                    Err(e) => {
                        failure.borrow_mut().get_or_insert(e);
                        return;
                    }
                }
            }
        }));
    }
    // Give the server time to register every connection with its route.
    tokio::time::sleep(settle).await;
    let mut totals = Vec::with_capacity(rounds);
    let mut medians = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        arrivals.borrow_mut().clear();
        round_start.set(Instant::now());
        sender
            .write_all(&traffic.request)
            .await
            .map_err(|e| format!("sender: {e}"))?;
        if tokio::time::timeout(Duration::from_secs(30), all_in.notified())
            .await
            .is_err()
        {
            return Err(format!(
                "only {} of {conns} listeners got the broadcast within 30 s",
                arrivals.borrow().len()
            ));
        }
        if let Some(e) = failure.borrow().clone() {
            return Err(e);
        }
        let mut times = arrivals.borrow().clone();
        if times.len() != conns {
            return Err(format!("{} deliveries for {conns} listeners", times.len()));
        }
        times.sort_unstable();
        totals.push(times[times.len() - 1]);
        medians.push(times[times.len() / 2]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for task in &tasks {
        task.abort();
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let mut sorted = totals.clone();
    sorted.sort_unstable();
    medians.sort_unstable();
    println!(
        "RESULT test=broadcast label={} conns={conns} rounds={rounds} all_ms_median={:.2} \
         all_ms_min={:.2} all_ms_max={:.2} half_ms_median={:.2}",
        opts.label(),
        ms(&sorted[sorted.len() / 2]),
        ms(&sorted[0]),
        ms(&sorted[sorted.len() - 1]),
        ms(&medians[medians.len() / 2]),
    );
    Ok(())
}

// ------------------------------------------------------------------ wait

/// Waits until the server accepts TCP connections.
fn wait(opts: &Opts) -> Res<()> {
    let addr = opts.addr();
    let deadline = Instant::now() + opts.secs("timeout", 10.0);
    loop {
        if StdTcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {addr}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
