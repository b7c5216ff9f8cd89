//! `wssoak`: many connections and hostile peers against the `ws-app` demo
//! server (issue 10).
//!
//! ```text
//! wssoak hold --addr A --server-pid PID [--path /web_socket] [--conns 10000] [--hold S]
//!             [--rounds R] [--active N] [--rate R] [--parallel P] [--settle S] [--markdown FILE]
//! wssoak soak --addr A --server-pid PID [--duration 600] [--chat K] [--rate R] [--size N]
//!             [--attack-pause S] [--no-attacks] [--sample S] [--handshake-timeout S]
//!             [--keepalive S] [--close-timeout S] [--only TEXT] [--markdown FILE]
//! ```
//!
//! **hold** opens `--conns` WebSocket connections (at most `--parallel`
//! handshakes at a time) on the demo's `/web_socket` route, holds them for
//! `--hold` seconds answering the server's keepalive pings, and reports
//! the server's `VmRSS` before, with every connection open, during the
//! hold and after every connection closed: bytes per idle connection.
//! `--rounds R` does it all R times on the same server: memory the
//! allocator kept after round 1 must be reused, not grow.
//! `--active N` of them send `--rate` echo messages a second each and
//! check every echo. Every connection ends with a close handshake.
//!
//! **soak** runs for `--duration` seconds: `--chat` well-behaved clients
//! on `/chat` send `--rate` messages a second each; every client checks it
//! receives every client's messages exactly once and in order per sender
//! (`ws.broadcast` keeps one sender's messages in order), and one
//! acknowledgement per message it sent; any unexpected message, close,
//! gap or error is a failure. Meanwhile attacker clients, one connection
//! at a time per group with `--attack-pause` between attempts, send
//! malformed frames, floods, bad handshakes, slowloris heads, a peer that
//! never reads and a peer that never answers; each attempt is checked
//! against the expected close code, HTTP status or disconnect. The
//! server's `VmRSS` is sampled every `--sample` seconds. At the end the
//! chat clients stop, wait for every message in flight, close cleanly, and
//! the server's `/health` must count zero connections. `--only TEXT` runs
//! only the attacks whose name contains TEXT (to reproduce one of them),
//! `--no-attacks` none.
//!
//! Both print a summary (and write it as Markdown to `--markdown`), and
//! exit with status 1 if a well-behaved connection saw an error (soak:
//! also if an attack outcome did not match). Loopback only; every loop is
//! bounded in count and time.

#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::error::Elapsed;
use tokio::time::{MissedTickBehavior, sleep, timeout};
use ws_bench::client::{
    FIN, Msg, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Reader, Res, close_frame,
    connect_ws, fd_count, frame, http_get, loopback, raw_frame, read_head, read_msg, rss_kib,
    status_of, upgrade, upgrade_request,
};
use ws_bench::{Opts, run_local};

/// The demo's message limit (Robyn's default payload size).
const DEMO_MAX_MESSAGE: u64 = 1_000_000;
/// What a client accepts from the server.
const CLIENT_MAX_MESSAGE: usize = 2 << 20;
/// How many failure descriptions are kept for the report.
const KEEP_ERRORS: usize = 12;

fn main() {
    let (mode, opts) = Opts::from_env(usage);
    let result = match mode.as_str() {
        "hold" => run_local(hold(&opts)),
        "soak" => run_local(soak(&opts)),
        other => usage(&format!("unknown mode {other}")),
    };
    match result {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("wssoak {mode}: FAILED (see the summary)");
            std::process::exit(1);
        }
        Err(err) => {
            eprintln!("wssoak {mode}: {err}");
            std::process::exit(1);
        }
    }
}

fn usage(why: &str) -> ! {
    eprintln!("wssoak: {why}\nmodes: hold, soak (see the source header)");
    std::process::exit(2);
}

// ------------------------------------------------------------------ options

/// The options only `wssoak` reads.
trait SoakOpts {
    fn secs(&self, key: &str, default: f64) -> Duration;
    fn addr(&self) -> SocketAddr;
    fn pid(&self) -> u32;
}

impl SoakOpts for Opts {
    fn secs(&self, key: &str, default: f64) -> Duration {
        let secs: f64 = self.num(key, default);
        if !(0.0..=86_400.0).contains(&secs) {
            self.usage(&format!("--{key} must be between 0 and 86400 seconds"));
        }
        Duration::from_secs_f64(secs)
    }

    fn addr(&self) -> SocketAddr {
        loopback(&self.str("addr", "127.0.0.1:8080")).unwrap_or_else(|e| self.usage(&e))
    }

    fn pid(&self) -> u32 {
        match self.get("server-pid") {
            Some(pid) => pid
                .parse()
                .unwrap_or_else(|_| self.usage("bad --server-pid")),
            None => self.usage("--server-pid is required (the demo server's process id)"),
        }
    }
}

// ------------------------------------------------------------------ shared bits

/// Failures of well-behaved connections: a count and the first few.
#[derive(Default)]
struct Failures {
    count: Cell<u64>,
    first: RefCell<Vec<String>>,
}

impl Failures {
    fn add(&self, what: String) {
        self.count.set(self.count.get() + 1);
        let mut first = self.first.borrow_mut();
        if first.len() < KEEP_ERRORS {
            first.push(what);
        }
    }
}

/// The server's memory and descriptors over time.
#[derive(Default)]
struct Samples {
    /// (seconds since start, VmRSS KiB, open fds)
    points: RefCell<Vec<(f64, u64, usize)>>,
}

impl Samples {
    fn take(&self, pid: u32, start: Instant) -> Option<u64> {
        let rss = rss_kib(pid)?;
        let fds = fd_count(pid).unwrap_or(0);
        self.points
            .borrow_mut()
            .push((start.elapsed().as_secs_f64(), rss, fds));
        Some(rss)
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn health_connections(addr: SocketAddr) -> Res<u64> {
    let (status, body) = http_get(addr, "/health", Duration::from_secs(5)).await?;
    if status != 200 {
        return Err(format!("/health answered {status}"));
    }
    let at = body
        .find("\"connections\":")
        .ok_or("no connection count in /health")?;
    let digits: String = body[at + 14..]
        .chars()
        .skip_while(|c| c.is_whitespace())
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .map_err(|_| "bad connection count in /health".into())
}

/// Polls `/health` until it counts `want` connections or fewer, within
/// `limit`; returns the last count.
async fn wait_connections(addr: SocketAddr, want: u64, limit: Duration) -> Res<u64> {
    let deadline = Instant::now() + limit;
    loop {
        let n = health_connections(addr).await?;
        if n <= want || Instant::now() > deadline {
            return Ok(n);
        }
        sleep(Duration::from_millis(250)).await;
    }
}

fn machine_line() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{} cores, load average {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        load.join(" ")
    )
}

// ------------------------------------------------------------------ hold

struct Hold {
    connected: Cell<usize>,
    connect_failed: Cell<usize>,
    finished: Cell<usize>,
    closed_clean: Cell<usize>,
    sent: Cell<u64>,
    echoed: Cell<u64>,
    pongs: Cell<u64>,
    failures: Failures,
}

/// What one round of `hold` measured.
struct Round {
    connected: usize,
    open_secs: f64,
    rss_before: u64,
    rss_open: u64,
    rss_held: u64,
    rss_max: u64,
    rss_after: u64,
    fds_open: usize,
    fds_after: usize,
    health_open: u64,
    health_after: u64,
    still_open: usize,
    closed_clean: usize,
    close_secs: f64,
    sent: u64,
    echoed: u64,
    pongs: u64,
}

impl Round {
    fn per_conn(&self, rss: u64) -> f64 {
        rss.saturating_sub(self.rss_before) as f64 * 1024.0 / self.connected.max(1) as f64
    }
}

/// Holds `--conns` connections, `--rounds` times on the same server;
/// bytes of server memory per connection.
async fn hold(opts: &Opts) -> Res<bool> {
    let addr = opts.addr();
    let pid = opts.pid();
    let path = opts.str("path", "/web_socket");
    let conns: usize = opts.num("conns", 10_000);
    let rounds: usize = opts.num("rounds", 1);
    let hold_for = opts.secs("hold", 60.0);
    let active: usize = opts.num("active", 0);
    let rate: f64 = opts.num("rate", 1.0);
    let parallel: usize = opts.num("parallel", 64);
    let settle = opts.secs("settle", 5.0);
    if conns == 0
        || conns > 60_000
        || !(1..=20).contains(&rounds)
        || active > conns
        || !(0.01..=1000.0).contains(&rate)
    {
        usage(
            "--conns must be 1..=60000, --rounds 1..=20, --active at most --conns, --rate 0.01..=1000",
        );
    }
    let start = Instant::now();
    let samples = Rc::new(Samples::default());
    let health_before = health_connections(addr).await?;
    let rss_first = samples
        .take(pid, start)
        .ok_or("cannot read the server's VmRSS (wrong --server-pid?)")?;
    let fds_first = fd_count(pid).unwrap_or(0);
    let failures = Failures::default();
    let mut results = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let r = hold_round(
            round,
            addr,
            pid,
            &path,
            (conns, active, rate, parallel),
            (hold_for, settle),
            health_before,
            &samples,
            start,
            &failures,
        )
        .await?;
        results.push(r);
    }

    let mut md = String::new();
    let _ = writeln!(
        md,
        "{conns} connections on `{path}`, {rounds} round(s) on one server process, each held \
         {:.0} s; {active} of them active at {rate} echo message/s; {}. Server VmRSS before the \
         first round: {:.1} MiB ({fds_first} fds).\n",
        hold_for.as_secs_f64(),
        machine_line(),
        mib(rss_first)
    );
    let _ = writeln!(
        md,
        "| round | opened (time) | VmRSS before | all open, after {:.0} s | end of the hold (max) | \
         **bytes per connection** (all open / end of hold) | keepalive pings answered | echoes checked | \
         clean closes (time) | VmRSS after all closed | fds open / after | /health open / after | errors |",
        settle.as_secs_f64()
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut ok = failures.count.get() == 0;
    for (n, r) in results.iter().enumerate() {
        ok &= r.connected == conns && r.closed_clean == r.connected && r.still_open == r.connected;
        let _ = writeln!(
            md,
            "| {} | {} ({:.1} s) | {:.1} MiB | {:.1} MiB | {:.1} MiB ({:.1} MiB) | **{:.0}** / {:.0} | {} | {} of {} | {} ({:.1} s) | {:.1} MiB | {} / {} | {} / {} | {} |",
            n + 1,
            r.connected,
            r.open_secs,
            mib(r.rss_before),
            mib(r.rss_open),
            mib(r.rss_held),
            mib(r.rss_max),
            r.per_conn(r.rss_open),
            r.per_conn(r.rss_held),
            r.pongs,
            r.echoed,
            r.sent,
            r.closed_clean,
            r.close_secs,
            mib(r.rss_after),
            r.fds_open,
            r.fds_after,
            r.health_open,
            r.health_after,
            if n + 1 == results.len() {
                failures.count.get().to_string()
            } else {
                String::new()
            },
        );
        println!(
            "RESULT test=hold round={} conns={} rss_before_kib={} rss_open_kib={} rss_held_kib={} \
             rss_after_kib={} bytes_per_conn={:.0} failures={}",
            n + 1,
            r.connected,
            r.rss_before,
            r.rss_open,
            r.rss_held,
            r.rss_after,
            r.per_conn(r.rss_open),
            failures.count.get()
        );
    }
    for e in failures.first.borrow().iter() {
        let _ = writeln!(md, "\nerror: {e}");
    }
    finish_report(opts, "hold", &md)?;
    Ok(ok)
}

#[allow(clippy::too_many_arguments)]
async fn hold_round(
    round: usize,
    addr: SocketAddr,
    pid: u32,
    path: &str,
    (conns, active, rate, parallel): (usize, usize, f64, usize),
    (hold_for, settle): (Duration, Duration),
    health_before: u64,
    samples: &Samples,
    start: Instant,
    failures: &Failures,
) -> Res<Round> {
    let rss_before = samples.take(pid, start).unwrap_or(0);
    eprintln!(
        "hold round {round}: server rss {:.1} MiB; opening {conns} connections on {path}",
        mib(rss_before)
    );
    let state = Rc::new(Hold {
        connected: Cell::new(0),
        connect_failed: Cell::new(0),
        finished: Cell::new(0),
        closed_clean: Cell::new(0),
        sent: Cell::new(0),
        echoed: Cell::new(0),
        pongs: Cell::new(0),
        failures: Failures::default(),
    });
    let (close_tx, close_rx) = watch::channel(false);
    let gate = Rc::new(Semaphore::new(parallel.max(1)));
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut tasks = Vec::with_capacity(conns);
    let open_start = Instant::now();
    for i in 0..conns {
        tasks.push(tokio::task::spawn_local(hold_conn(
            i,
            addr,
            path.to_owned(),
            (i < active).then_some(period),
            state.clone(),
            gate.clone(),
            close_rx.clone(),
        )));
    }
    // Every connection is up, or failed, within two minutes.
    let deadline = open_start + Duration::from_secs(120);
    while state.connected.get() + state.connect_failed.get() < conns && Instant::now() < deadline {
        sleep(Duration::from_millis(100)).await;
    }
    let open_secs = open_start.elapsed().as_secs_f64();
    let connected = state.connected.get();
    eprintln!(
        "hold round {round}: {connected} connected, {} failed, in {open_secs:.1} s",
        state.connect_failed.get()
    );
    sleep(settle).await;
    let rss_open = samples.take(pid, start).unwrap_or(0);
    let fds_open = fd_count(pid).unwrap_or(0);
    let health_open = health_connections(addr).await.unwrap_or(0);
    eprintln!(
        "hold round {round}: server rss {:.1} MiB with {connected} open ({health_open} by /health); holding {:.0} s",
        mib(rss_open),
        hold_for.as_secs_f64()
    );
    let hold_end = Instant::now() + hold_for;
    let mut rss_max = rss_open;
    while Instant::now() < hold_end {
        sleep(Duration::from_secs(5).min(hold_end.saturating_duration_since(Instant::now()))).await;
        if let Some(rss) = samples.take(pid, start) {
            rss_max = rss_max.max(rss);
        }
    }
    let rss_held = samples.take(pid, start).unwrap_or(0);
    let still_open = connected - state.finished.get();

    // Close every connection with a close handshake.
    let _ = close_tx.send(true);
    let close_start = Instant::now();
    let close_deadline = close_start + Duration::from_secs(60);
    while state.finished.get() < connected && Instant::now() < close_deadline {
        sleep(Duration::from_millis(100)).await;
    }
    let close_secs = close_start.elapsed().as_secs_f64();
    for task in &tasks {
        task.abort();
    }
    let health_after = wait_connections(addr, health_before, Duration::from_secs(30)).await?;
    sleep(settle).await;
    let rss_after = samples.take(pid, start).unwrap_or(0);
    let fds_after = fd_count(pid).unwrap_or(0);
    for e in state.failures.first.borrow().iter() {
        failures.add(format!("round {round}: {e}"));
    }
    for _ in state.failures.first.borrow().len() as u64..state.failures.count.get() {
        failures.count.set(failures.count.get() + 1);
    }
    Ok(Round {
        connected,
        open_secs,
        rss_before,
        rss_open,
        rss_held,
        rss_max,
        rss_after,
        fds_open,
        fds_after,
        health_open,
        health_after,
        still_open,
        closed_clean: state.closed_clean.get(),
        close_secs,
        sent: state.sent.get(),
        echoed: state.echoed.get(),
        pongs: state.pongs.get(),
    })
}

async fn hold_conn(
    i: usize,
    addr: SocketAddr,
    path: String,
    period: Option<Duration>,
    state: Rc<Hold>,
    gate: Rc<Semaphore>,
    mut close_rx: watch::Receiver<bool>,
) {
    let permit = gate.acquire().await;
    let conn = timeout(
        Duration::from_secs(30),
        connect_ws(addr, &path, CLIENT_MAX_MESSAGE),
    )
    .await;
    drop(permit);
    let (mut stream, mut reader) = match conn {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            state.connect_failed.set(state.connect_failed.get() + 1);
            state.failures.add(format!("connection {i}: {e}"));
            return;
        }
        Err(_) => {
            state.connect_failed.set(state.connect_failed.get() + 1);
            state
                .failures
                .add(format!("connection {i}: handshake timed out"));
            return;
        }
    };
    state.connected.set(state.connected.get() + 1);
    let result = hold_loop(i, &mut stream, &mut reader, period, &state, &mut close_rx).await;
    if let Err(e) = result {
        state.failures.add(format!("connection {i}: {e}"));
    }
    state.finished.set(state.finished.get() + 1);
}

async fn hold_loop(
    i: usize,
    stream: &mut TcpStream,
    reader: &mut Reader,
    period: Option<Duration>,
    state: &Hold,
    close_rx: &mut watch::Receiver<bool>,
) -> Res<()> {
    let mut chunk = [0u8; 512];
    let mut tick = tokio::time::interval(period.unwrap_or(Duration::from_secs(3600)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut greeted = false;
    let mut closing = false;
    let (mut seq, mut next_echo) = (0u64, 0u64);
    loop {
        tokio::select! {
            msg = read_msg(stream, reader, &mut chunk) => match msg? {
                Some(Msg::Text(text)) if !greeted => {
                    if !text.starts_with("Hello world") {
                        return Err(format!("unexpected greeting {text:?}"));
                    }
                    greeted = true;
                }
                Some(Msg::Text(text)) => {
                    let want = format!(": h {i} {next_echo}");
                    if !text.starts_with("Echo from ") || !text.ends_with(&want) {
                        return Err(format!("echo {text:?}, expected one ending in {want:?}"));
                    }
                    next_echo += 1;
                    state.echoed.set(state.echoed.get() + 1);
                }
                Some(Msg::Ping(payload)) => {
                    stream
                        .write_all(&frame(OP_PONG, true, &payload))
                        .await
                        .map_err(|e| format!("pong: {e}"))?;
                    state.pongs.set(state.pongs.get() + 1);
                }
                Some(Msg::Pong(_)) => {}
                Some(Msg::Binary(_)) => return Err("unexpected binary message".into()),
                Some(Msg::Close(code, _)) => {
                    if closing && code == Some(1000) {
                        state.closed_clean.set(state.closed_clean.get() + 1);
                        return Ok(());
                    }
                    return Err(format!("server closed with {code:?}"));
                }
                None => return Err("connection ended without a close frame".into()),
            },
            _ = tick.tick(), if period.is_some() && !closing => {
                let text = format!("h {i} {seq}");
                seq += 1;
                stream
                    .write_all(&frame(OP_TEXT, true, text.as_bytes()))
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                state.sent.set(state.sent.get() + 1);
            }
            changed = close_rx.changed(), if !closing => {
                if changed.is_err() || *close_rx.borrow() {
                    closing = true;
                    stream
                        .write_all(&close_frame(1000, b""))
                        .await
                        .map_err(|e| format!("close: {e}"))?;
                }
            }
        }
    }
}

// ------------------------------------------------------------------ soak: chat

struct Chat {
    k: usize,
    start: Instant,
    size: usize,
    sending: Cell<bool>,
    closing: Cell<bool>,
    ids: RefCell<Vec<String>>,
    sent: RefCell<Vec<u64>>,
    got: RefCell<Vec<u64>>,
    acks: RefCell<Vec<u64>>,
    alive: RefCell<Vec<bool>>,
    closed_clean: Cell<usize>,
    pongs: Cell<u64>,
    latencies_us: RefCell<Vec<u32>>,
    failures: Failures,
}

impl Chat {
    fn total_sent(&self) -> u64 {
        self.sent.borrow().iter().sum()
    }

    /// Whether every live client has every message and acknowledgement.
    fn drained(&self) -> bool {
        let total = self.total_sent();
        let (got, acks, sent, alive) = (
            self.got.borrow(),
            self.acks.borrow(),
            self.sent.borrow(),
            self.alive.borrow(),
        );
        (0..self.k).all(|i| !alive[i] || (got[i] == total && acks[i] == sent[i]))
    }
}

async fn chat_client(i: usize, mut stream: TcpStream, mut reader: Reader, chat: Rc<Chat>) {
    let result = chat_loop(i, &mut stream, &mut reader, &chat).await;
    chat.alive.borrow_mut()[i] = false;
    match result {
        Ok(()) => chat.closed_clean.set(chat.closed_clean.get() + 1),
        Err(e) => chat.failures.add(format!(
            "chat client {i} at {:.1} s: {e}",
            chat.start.elapsed().as_secs_f64()
        )),
    }
}

async fn chat_loop(i: usize, stream: &mut TcpStream, reader: &mut Reader, chat: &Chat) -> Res<()> {
    let period = Duration::from_secs_f64(1.0 / RATE.with(Cell::get));
    // Spread the clients over one period.
    let offset = period.mul_f64(i as f64 / chat.k as f64);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut next_seq = vec![0u64; chat.k];
    let mut seq = 0u64;
    let mut close_sent = false;
    let pad = "x".repeat(chat.size.saturating_sub(24));
    loop {
        tokio::select! {
            msg = read_msg(stream, reader, &mut chunk) => match msg? {
                Some(Msg::Text(text)) => {
                    if text == "Your message was sent" {
                        let mut acks = chat.acks.borrow_mut();
                        acks[i] += 1;
                        if acks[i] > chat.sent.borrow()[i] {
                            return Err("more acknowledgements than messages sent".into());
                        }
                        continue;
                    }
                    let (from, sender_seq, sent_us) = parse_chat(&text)
                        .ok_or_else(|| format!("unexpected message {:?}", clip(&text)))?;
                    let id_ok = chat.ids.borrow().get(from).is_some_and(|id| {
                        text.strip_prefix("User ").is_some_and(|t| t.starts_with(id.as_str()))
                    });
                    if !id_ok {
                        return Err(format!("message of client {from} under another id: {:?}", clip(&text)));
                    }
                    if sender_seq != next_seq[from] {
                        return Err(format!(
                            "from client {from}: message {sender_seq}, expected {} (lost or reordered)",
                            next_seq[from]
                        ));
                    }
                    next_seq[from] += 1;
                    chat.got.borrow_mut()[i] += 1;
                    let now_us = chat.start.elapsed().as_micros() as u64;
                    chat.latencies_us
                        .borrow_mut()
                        .push(now_us.saturating_sub(sent_us).min(u64::from(u32::MAX)) as u32);
                }
                Some(Msg::Ping(payload)) => {
                    stream
                        .write_all(&frame(OP_PONG, true, &payload))
                        .await
                        .map_err(|e| format!("pong: {e}"))?;
                    chat.pongs.set(chat.pongs.get() + 1);
                }
                Some(Msg::Pong(_)) => {}
                Some(Msg::Binary(_)) => return Err("unexpected binary message".into()),
                Some(Msg::Close(code, _)) => {
                    if close_sent && code == Some(1000) {
                        return Ok(());
                    }
                    return Err(format!("server closed the connection with {code:?}"));
                }
                None => return Err("connection ended without a close frame".into()),
            },
            _ = tick.tick() => {
                if chat.closing.get() {
                    if !close_sent {
                        close_sent = true;
                        stream
                            .write_all(&close_frame(1000, b""))
                            .await
                            .map_err(|e| format!("close: {e}"))?;
                    }
                } else if chat.sending.get() {
                    let now_us = chat.start.elapsed().as_micros();
                    let text = format!("m {i} {seq} {now_us} {pad}");
                    // Counted before the write, so that a reply can never
                    // arrive before its message is counted.
                    chat.sent.borrow_mut()[i] += 1;
                    seq += 1;
                    stream
                        .write_all(&frame(OP_TEXT, true, text.as_bytes()))
                        .await
                        .map_err(|e| format!("send: {e}"))?;
                }
            }
        }
    }
}

thread_local! {
    /// Messages per second per chat client (set once by `soak`).
    static RATE: Cell<f64> = const { Cell::new(1.0) };
}

/// `User <id>: m <client> <seq> <micros> <pad>` → (client, seq, micros).
fn parse_chat(text: &str) -> Option<(usize, u64, u64)> {
    let rest = text.strip_prefix("User ")?;
    let body = &rest[rest.find(": m ")? + 4..];
    let mut parts = body.split(' ');
    let from = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let us = parts.next()?.parse().ok()?;
    Some((from, seq, us))
}

fn clip(text: &str) -> &str {
    let mut end = text.len().min(80);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

// ------------------------------------------------------------------ soak: attacks

/// Outcomes of one attack kind.
#[derive(Default)]
struct Kind {
    group: &'static str,
    expect: String,
    attempts: u64,
    matched: u64,
    observed: BTreeMap<String, u64>,
    metric: Option<(f64, f64)>,
    metric_name: &'static str,
}

#[derive(Default)]
struct Board {
    kinds: RefCell<BTreeMap<&'static str, Kind>>,
    order: RefCell<Vec<&'static str>>,
}

/// What one attempt saw.
struct Seen {
    observed: String,
    matched: bool,
    metric: Option<f64>,
}

impl Seen {
    /// What an attempt saw, whether that is what was expected, its metric.
    fn new(observed: impl Into<String>, matched: bool, metric: Option<f64>) -> Self {
        Self {
            observed: observed.into(),
            matched,
            metric,
        }
    }

    /// An attempt that did not see what was expected, with no metric.
    fn mismatch(observed: impl Into<String>) -> Self {
        Self::new(observed, false, None)
    }

    /// Judges what `timeout(limit, attempt)` gave: a finished attempt by
    /// `done`; the attempt's error, or the timeout (described by
    /// `timed_out`), as a mismatch.
    fn judge<T>(
        outcome: Result<Res<T>, Elapsed>,
        timed_out: impl Into<String>,
        done: impl FnOnce(T) -> Self,
    ) -> Self {
        match outcome {
            Ok(Ok(value)) => done(value),
            Ok(Err(e)) => Self::mismatch(e),
            Err(_) => Self::mismatch(timed_out),
        }
    }
}

impl Board {
    fn declare(
        &self,
        group: &'static str,
        name: &'static str,
        expect: String,
        metric_name: &'static str,
    ) {
        let mut kinds = self.kinds.borrow_mut();
        if !kinds.contains_key(name) {
            self.order.borrow_mut().push(name);
            kinds.insert(
                name,
                Kind {
                    group,
                    expect,
                    metric_name,
                    ..Kind::default()
                },
            );
        }
    }

    fn record(&self, name: &'static str, seen: Seen) {
        let mut kinds = self.kinds.borrow_mut();
        let kind = kinds.entry(name).or_default();
        kind.attempts += 1;
        if seen.matched {
            kind.matched += 1;
        }
        let observed = if seen.matched {
            seen.observed
        } else {
            format!("MISMATCH: {}", seen.observed)
        };
        *kind.observed.entry(observed).or_default() += 1;
        if let Some(v) = seen.metric {
            kind.metric = Some(match kind.metric {
                None => (v, v),
                Some((lo, hi)) => (lo.min(v), hi.max(v)),
            });
        }
    }

    fn totals(&self) -> (u64, u64) {
        self.kinds
            .borrow()
            .values()
            .fold((0, 0), |(a, m), k| (a + k.attempts, m + k.matched))
    }
}

/// Bytes written in order, with a pause between chunks, while the
/// connection is read.
struct FrameAttack {
    name: &'static str,
    path: &'static str,
    expect: &'static [u16],
    chunks: Vec<Vec<u8>>,
    gap: Duration,
}

fn frame_attacks() -> Vec<FrameAttack> {
    let one = |name, expect, bytes: Vec<u8>| FrameAttack {
        name,
        path: "/chat",
        expect,
        chunks: vec![bytes],
        gap: Duration::ZERO,
    };
    let cat = |frames: &[Vec<u8>]| frames.concat();
    let mut list = vec![
        one(
            "unmasked frame",
            &[1002],
            raw_frame(FIN | OP_TEXT, b"hello", false, None),
        ),
        one(
            "RSV1 without an extension",
            &[1002],
            raw_frame(FIN | 0x40 | OP_TEXT, b"hello", true, None),
        ),
        one(
            "RSV2+RSV3 on a ping",
            &[1002],
            raw_frame(FIN | 0x30 | OP_PING, b"", true, None),
        ),
        one(
            "reserved data opcode 0x3",
            &[1002],
            raw_frame(FIN | 0x3, b"x", true, None),
        ),
        one(
            "reserved control opcode 0xB",
            &[1002],
            raw_frame(FIN | 0xb, b"", true, None),
        ),
        one(
            "control frame over 125 bytes",
            &[1002],
            frame(OP_PING, true, &[b'p'; 126]),
        ),
        one(
            "fragmented ping",
            &[1002],
            raw_frame(OP_PING, b"p", true, None),
        ),
        one(
            "continuation without a message",
            &[1002],
            frame(OP_CONT, true, b"x"),
        ),
        one(
            "new message inside a fragmented one",
            &[1002],
            cat(&[frame(OP_TEXT, false, b"a"), frame(OP_TEXT, true, b"b")]),
        ),
        one(
            "64-bit length with the top bit set",
            &[1002],
            raw_frame(FIN | OP_BINARY, &[], true, Some(1 << 63)),
        ),
        one(
            "frame over the limit, header only",
            &[1009],
            raw_frame(FIN | OP_BINARY, &[], true, Some(DEMO_MAX_MESSAGE + 1)),
        ),
        one(
            "invalid UTF-8: overlong",
            &[1007],
            frame(OP_TEXT, true, &[0xc0, 0xaf]),
        ),
        one(
            "invalid UTF-8: surrogate",
            &[1007],
            frame(OP_TEXT, true, &[b'a', 0xed, 0xa0, 0x80]),
        ),
        one(
            "invalid UTF-8: truncated at the end",
            &[1007],
            frame(OP_TEXT, true, b"ok\xe2\x82"),
        ),
        one(
            "invalid UTF-8: split across fragments",
            &[1007],
            cat(&[frame(OP_TEXT, false, b"ok\xce"), frame(OP_CONT, true, b"A")]),
        ),
        one(
            "close with a 1-byte payload",
            &[1002],
            frame(OP_CLOSE, true, &[0x03]),
        ),
        one("close with code 999", &[1002], close_frame(999, b"")),
        one(
            "close with code 1005 (never sent)",
            &[1002],
            close_frame(1005, b""),
        ),
        one(
            "close reason not UTF-8",
            &[1007],
            close_frame(1000, &[0xff, 0xfe]),
        ),
    ];
    // A header announcing 2^62 bytes, then a trickle of payload.
    let mut trickle = vec![raw_frame(FIN | OP_BINARY, &[], true, Some(1 << 62))];
    trickle.extend((0..20).map(|_| vec![0x5a; 64]));
    list.push(FrameAttack {
        name: "length 2^62 then a trickle of data",
        path: "/chat",
        expect: &[1009],
        chunks: trickle,
        gap: Duration::from_millis(100),
    });
    list
}

/// `count` text fragments of `piece` bytes each (the last one without
/// FIN either), written in 64 KiB chunks.
fn fragments(
    name: &'static str,
    piece: usize,
    count: usize,
    expect: &'static [u16],
) -> FrameAttack {
    let data = vec![b'a'; piece];
    let cont = frame(OP_CONT, false, &data);
    let mut bytes = frame(OP_TEXT, false, &data);
    bytes.reserve(count * cont.len());
    for _ in 1..count {
        bytes.extend_from_slice(&cont);
    }
    FrameAttack {
        name,
        path: "/chat",
        expect,
        chunks: bytes.chunks(64 * 1024).map(<[u8]>::to_vec).collect(),
        gap: Duration::ZERO,
    }
}

/// The fragment attacks. The demo (ws-app's defaults) allows 4096
/// fragments per message, enough for a 1 MB message in 245-byte pieces.
fn fragment_floods() -> Vec<FrameAttack> {
    let limit = DEMO_MAX_MESSAGE as usize;
    vec![
        // Adding up past the message limit: 1009 at the crossing fragment.
        fragments(
            "500-byte fragments past the 1 MB limit",
            500,
            limit / 500 + 50,
            &[1009],
        ),
        // Tiny fragments: the fragment cap (1008) or the limit (1009).
        fragments(
            "flood of 100-byte fragments",
            100,
            limit / 100 + 50,
            &[1008, 1009],
        ),
        // Empty continuations: only the fragment cap can stop them.
        fragments("flood of empty continuation frames", 0, 70_000, &[1008]),
    ]
}

async fn run_frame_attack(addr: SocketAddr, attack: Rc<FrameAttack>) -> Seen {
    let started = Instant::now();
    let outcome = timeout(Duration::from_secs(30), async {
        let (stream, mut reader) = connect_ws(addr, attack.path, CLIENT_MAX_MESSAGE).await?;
        let (mut rd, mut wr) = stream.into_split();
        let writer_attack = attack.clone();
        let writer = tokio::task::spawn_local(async move {
            for (n, chunk) in writer_attack.chunks.iter().enumerate() {
                if n > 0 && !writer_attack.gap.is_zero() {
                    sleep(writer_attack.gap).await;
                }
                // The server may stop reading or drop the connection
                // once it has failed it: write errors are expected.
                if wr.write_all(chunk).await.is_err() {
                    return;
                }
            }
            // Keep the write half open until the reader is done.
            sleep(Duration::from_secs(60)).await;
        });
        let mut chunk = vec![0u8; 16 * 1024];
        let result = loop {
            match read_msg(&mut rd, &mut reader, &mut chunk).await {
                Ok(Some(Msg::Close(code, _))) => break Ok(code),
                Ok(Some(_)) => {}
                Ok(None) => break Err("connection ended without a close frame".to_owned()),
                Err(e) => break Err(e),
            }
        };
        writer.abort();
        result
    })
    .await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    Seen::judge(outcome, "no close within 30 s", |code| match code {
        Some(code) => Seen::new(
            format!("close {code}"),
            attack.expect.contains(&code),
            Some(ms),
        ),
        None => Seen::new("close without a code", false, Some(ms)),
    })
}

/// A ping flood from a peer that reads nothing until the whole flood is
/// written (a 4 KiB receive buffer): the pongs cannot all go out, so the
/// server must coalesce them (or stop reading) rather than buffer one per
/// ping; afterwards the connection still works.
async fn ping_flood(addr: SocketAddr, pings: usize) -> Seen {
    let outcome = timeout(Duration::from_secs(60), async {
        let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        socket
            .set_recv_buffer_size(4096)
            .map_err(|e| e.to_string())?;
        let stream = socket
            .connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (stream, mut reader) = upgrade(stream, addr, "/web_socket", CLIENT_MAX_MESSAGE).await?;
        let (mut rd, mut wr) = stream.into_split();
        let mut burst = Vec::with_capacity(pings * 22 + 64);
        for n in 0..pings {
            burst.extend_from_slice(&frame(OP_PING, true, format!("p{n:015}").as_bytes()));
        }
        burst.extend_from_slice(&frame(OP_TEXT, true, b"after the flood"));
        let mut writer = tokio::task::spawn_local(async move {
            wr.write_all(&burst)
                .await
                .map_err(|e| format!("write: {e}"))?;
            Ok::<_, String>(wr)
        });
        // Read nothing while the flood goes out (if the server stops
        // reading instead, give up waiting after 20 s and read).
        let (blocked, mut wr) = match timeout(Duration::from_secs(20), &mut writer).await {
            Ok(joined) => (false, Some(joined.map_err(|e| e.to_string())??)),
            Err(_) => (true, None),
        };
        let mut chunk = vec![0u8; 64 * 1024];
        let (mut pongs, mut echoed, mut close_sent) = (0usize, false, false);
        loop {
            match read_msg(&mut rd, &mut reader, &mut chunk).await? {
                Some(Msg::Pong(_)) => pongs += 1,
                Some(Msg::Text(t)) if t.ends_with(": after the flood") => {
                    echoed = true;
                    if wr.is_none() {
                        wr = Some((&mut writer).await.map_err(|e| e.to_string())??);
                    }
                    if let Some(wr) = wr.as_mut() {
                        close_sent = true;
                        wr.write_all(&close_frame(1000, b""))
                            .await
                            .map_err(|e| format!("close: {e}"))?;
                    }
                }
                Some(Msg::Close(code, _)) => {
                    return Ok((pongs, echoed, close_sent, code, blocked));
                }
                Some(_) => {}
                None => return Err("connection ended without a close frame".to_owned()),
            }
        }
    })
    .await;
    Seen::judge(
        outcome,
        "stalled for 60 s",
        |(pongs, echoed, close_sent, code, blocked)| {
            let ok = echoed && close_sent && code == Some(1000) && pongs >= 1 && pongs <= pings;
            let how = if blocked {
                "server stopped reading"
            } else if pongs < pings {
                "pongs coalesced"
            } else {
                "one pong per ping"
            };
            let observed = if ok {
                format!("{how}; survived, echoed, closed 1000")
            } else {
                format!("echoed {echoed}, close {code:?}, {pongs} pongs")
            };
            Seen::new(observed, ok, Some(pongs as f64))
        },
    )
}

/// A request head written in `pieces` (with `gap` between them); expects
/// one of `statuses`.
struct HttpAttack {
    name: &'static str,
    request: Vec<u8>,
    pieces: usize,
    gap: Duration,
    expect: &'static [u16],
}

fn http_attacks(addr: SocketAddr) -> Vec<HttpAttack> {
    let plain = |name, request, expect| HttpAttack {
        name,
        request,
        pieces: 1,
        gap: Duration::ZERO,
        expect,
    };
    let big = format!("X-Big: {}\r\n", "a".repeat(20_000));
    let many: String = (0..200).map(|n| format!("X-H{n}: v\r\n")).collect();
    let protocols = format!("Sec-WebSocket-Protocol: {}\r\n", vec!["a"; 4000].join(", "));
    let extensions = format!(
        "Sec-WebSocket-Extensions: permessage-deflate{}\r\n",
        "; x".repeat(3000)
    );
    let base = String::from_utf8_lossy(&upgrade_request(addr, "/web_socket", "")).into_owned();
    vec![
        plain(
            "head over 16 KiB",
            upgrade_request(addr, "/web_socket", &big),
            &[431],
        ),
        plain(
            "200 header lines",
            upgrade_request(addr, "/web_socket", &many),
            &[431],
        ),
        plain(
            "4000 offered subprotocols",
            upgrade_request(addr, "/web_socket", &protocols),
            &[101, 400],
        ),
        plain(
            "3000 extension parameters",
            upgrade_request(addr, "/web_socket", &extensions),
            &[101, 400],
        ),
        plain(
            "Sec-WebSocket-Version 12",
            base.replace("Version: 13", "Version: 12").into_bytes(),
            &[426],
        ),
        plain(
            "POST upgrade",
            base.replacen("GET", "POST", 1).into_bytes(),
            &[400, 405],
        ),
        plain(
            "missing Sec-WebSocket-Key",
            base.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")
                .into_bytes(),
            &[400],
        ),
        plain(
            "duplicate Sec-WebSocket-Key",
            upgrade_request(
                addr,
                "/web_socket",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            ),
            &[400],
        ),
        HttpAttack {
            name: "upgrade written one byte at a time",
            request: upgrade_request(addr, "/web_socket", ""),
            pieces: usize::MAX,
            gap: Duration::from_millis(5),
            expect: &[101],
        },
    ]
}

async fn run_http_attack(addr: SocketAddr, attack: &HttpAttack) -> Seen {
    let started = Instant::now();
    let outcome = timeout(Duration::from_secs(20), async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let piece = attack
            .request
            .len()
            .div_ceil(attack.pieces.min(attack.request.len()).max(1));
        for (n, chunk) in attack.request.chunks(piece.max(1)).enumerate() {
            if n > 0 && !attack.gap.is_zero() {
                sleep(attack.gap).await;
            }
            // A server that answers early may stop reading: keep going to
            // the response.
            if wr.write_all(chunk).await.is_err() {
                break;
            }
        }
        let head = read_head(&mut rd, 64 * 1024).await;
        if let Ok(Some((head, _))) = &head
            && status_of(head) == Some(101)
        {
            let _ = wr.write_all(&close_frame(1000, b"")).await;
        }
        match head? {
            Some((head, _)) => status_of(&head).ok_or_else(|| "malformed response".to_owned()),
            None => Err("connection ended without a response".to_owned()),
        }
    })
    .await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    Seen::judge(outcome, "no response within 20 s", |status| {
        Seen::new(
            format!("HTTP {status}"),
            attack.expect.contains(&status),
            Some(ms),
        )
    })
}

/// Slowloris: a request head that never ends, one byte a second. The
/// server must drop it (a 408 is welcome) within its handshake timeout.
async fn slowloris(addr: SocketAddr, handshake_timeout: Duration) -> Seen {
    let started = Instant::now();
    let limit = handshake_timeout + Duration::from_secs(5);
    let outcome = timeout(limit + Duration::from_secs(10), async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut rd, mut wr) = stream.into_split();
        let writer = tokio::task::spawn_local(async move {
            let _ = wr
                .write_all(b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await;
            for _ in 0..600 {
                sleep(Duration::from_secs(1)).await;
                if wr.write_all(b"z").await.is_err() {
                    return;
                }
            }
        });
        let head = read_head(&mut rd, 64 * 1024).await;
        writer.abort();
        Ok::<_, String>(match head {
            Ok(Some((head, _))) => format!("HTTP {}", status_of(&head).unwrap_or(0)),
            Ok(None) => "dropped".into(),
            Err(e) => e,
        })
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    Seen::judge(
        outcome,
        format!("still connected after {secs:.0} s"),
        |what| {
            let ok = (what == "HTTP 408" || what == "dropped" || what.starts_with("read:"))
                && started.elapsed() <= limit;
            let observed = if ok {
                format!("{what} within the timeout")
            } else {
                format!("{what} after {secs:.1} s")
            };
            Seen::new(observed, ok, Some(secs))
        },
    )
}

/// A peer that never reads while the server sends to it: a pump on
/// `/notifications` sends 16 KiB messages (broadcast to the route) until
/// the server unregisters the non-reader (its slow-consumer policy), then
/// the non-reader's socket must end.
async fn non_reader(addr: SocketAddr) -> Seen {
    let started = Instant::now();
    let outcome = timeout(Duration::from_secs(120), async {
        let (mut pump, mut pump_reader) =
            connect_ws(addr, "/notifications", CLIENT_MAX_MESSAGE).await?;
        // The non-reader: a small receive buffer, and no read after the
        // response head.
        let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        socket
            .set_recv_buffer_size(4096)
            .map_err(|e| e.to_string())?;
        let stream = socket
            .connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut lazy, mut lazy_reader) =
            upgrade(stream, addr, "/notifications", CLIENT_MAX_MESSAGE).await?;
        let big = "n".repeat(16 * 1024);
        let message = frame(OP_TEXT, true, big.as_bytes());
        let mut chunk = vec![0u8; 64 * 1024];
        let mut baseline = None;
        let mut sent = 0u64;
        let dropped_after = loop {
            if sent >= 20_000 || started.elapsed() > Duration::from_secs(60) {
                return Err(format!("still registered after {sent} messages"));
            }
            pump.write_all(&message)
                .await
                .map_err(|e| format!("pump write: {e}"))?;
            sent += 1;
            let delivered = loop {
                match read_msg(&mut pump, &mut pump_reader, &mut chunk).await? {
                    Some(Msg::Text(t))
                        if t.starts_with("{\"type\":\"ack\"") || t.contains("\"type\":\"ack\"") =>
                    {
                        break delivered_to(&t).ok_or("ack without delivered_to")?;
                    }
                    Some(Msg::Ping(p)) => {
                        pump.write_all(&frame(OP_PONG, true, &p))
                            .await
                            .map_err(|e| format!("pump pong: {e}"))?;
                    }
                    Some(Msg::Close(code, _)) => return Err(format!("pump closed with {code:?}")),
                    None => return Err("pump connection ended".into()),
                    Some(_) => {}
                }
            };
            // The hub registers a connection just after its 101 goes out,
            // so the first acknowledgements may not count the non-reader
            // yet: it is gone when the count falls below its peak.
            let peak = baseline.get_or_insert(delivered);
            if delivered > *peak {
                *peak = delivered;
            } else if delivered < *peak {
                break started.elapsed();
            }
        };
        let _ = pump.write_all(&close_frame(1000, b"")).await;
        // Drain what the non-reader's socket still holds, but never answer
        // the close: the server must drop the TCP connection by itself.
        let unregistered = Instant::now();
        let mut close_code = None;
        let drained = timeout(Duration::from_secs(40), async {
            loop {
                match read_msg(&mut lazy, &mut lazy_reader, &mut chunk).await {
                    Ok(Some(Msg::Close(code, _))) => close_code = code,
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => return,
                }
            }
        })
        .await;
        if drained.is_err() {
            return Err("unregistered, but its socket stayed open 40 s".into());
        }
        Ok((dropped_after, unregistered.elapsed(), close_code))
    })
    .await;
    Seen::judge(
        outcome,
        "not cut off within 120 s",
        |(after, linger, code)| {
            // The close handshake may take the close timeout plus the
            // slow-consumer grace (10 s + 5 s by default).
            let ok = linger <= Duration::from_secs(20);
            let code = code.map_or("no close frame".into(), |c| format!("close {c}"));
            let observed = format!(
                "unregistered after {}, socket dropped {} ({code} in its buffer)",
                if after < Duration::from_secs(5) {
                    "< 5 s"
                } else {
                    "≥ 5 s"
                },
                if ok {
                    "within 20 s"
                } else {
                    "after more than 20 s"
                },
            );
            Seen::new(observed, ok, Some(linger.as_secs_f64()))
        },
    )
}

/// `"delivered_to":N` in an acknowledgement of `/notifications`.
fn delivered_to(ack: &str) -> Option<u64> {
    let at = ack.find("\"delivered_to\":")? + 15;
    let digits: String = ack[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A silent peer: reads, but never answers a ping. The keepalive ends it:
/// close 1011 ("keepalive ping timeout") when the pong deadline passes, and
/// the TCP connection is dropped without waiting for a close reply.
async fn silent_peer(addr: SocketAddr, keepalive: Duration) -> Seen {
    let started = Instant::now();
    let outcome = timeout(keepalive * 3 + Duration::from_secs(60), async {
        let (mut stream, mut reader) = connect_ws(addr, "/web_socket", CLIENT_MAX_MESSAGE).await?;
        let mut chunk = vec![0u8; 4096];
        let (mut pings, mut close) = (0u64, None);
        loop {
            match read_msg(&mut stream, &mut reader, &mut chunk).await {
                Ok(Some(Msg::Ping(_))) => pings += 1,
                Ok(Some(Msg::Close(code, _))) => close = Some((code, started.elapsed())),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        Ok::<_, String>((pings, close, started.elapsed()))
    })
    .await;
    Seen::judge(
        outcome,
        "not ended by the keepalive",
        |(pings, close, ended)| {
            let Some((code, at)) = close else {
                return Seen::mismatch(format!(
                    "dropped without a close frame after {:.1} s and {pings} pings",
                    ended.as_secs_f64()
                ));
            };
            let linger = (ended - at).as_secs_f64();
            let ok = code == Some(1011) && pings >= 1 && linger <= 15.0;
            let observed = if ok {
                "close 1011 by the keepalive, then dropped".into()
            } else {
                format!("close {code:?} after {pings} pings, dropped {linger:.1} s later")
            };
            Seen::new(observed, ok, Some(at.as_secs_f64()))
        },
    )
}

/// A peer that ignores the server's close: after a protocol error (an
/// unmasked frame) the server sends 1002; the peer never answers it and
/// keeps the connection open. The server's close timeout (10 s) must end
/// the TCP connection.
async fn ignores_close(addr: SocketAddr, close_timeout: Duration) -> Seen {
    let limit = close_timeout + Duration::from_secs(5);
    let outcome = timeout(limit + Duration::from_secs(15), async {
        let (mut stream, mut reader) = connect_ws(addr, "/chat", CLIENT_MAX_MESSAGE).await?;
        stream
            .write_all(&raw_frame(FIN | OP_TEXT, b"hello", false, None))
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut chunk = vec![0u8; 4096];
        let mut close = None;
        loop {
            match read_msg(&mut stream, &mut reader, &mut chunk).await {
                Ok(Some(Msg::Close(code, _))) => close = Some((code, Instant::now())),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        Ok::<_, String>(close.map(|(code, at)| (code, at.elapsed())))
    })
    .await;
    Seen::judge(
        outcome,
        "still open long after the close timeout",
        |close| {
            let Some((code, linger)) = close else {
                return Seen::mismatch("dropped without a close frame");
            };
            let ok = code == Some(1002) && linger <= limit;
            let observed = if ok {
                format!(
                    "close 1002, dropped {}",
                    if linger < Duration::from_millis(500) {
                        "at once"
                    } else {
                        "within the close timeout"
                    }
                )
            } else {
                format!(
                    "close {code:?}, dropped {:.1} s later",
                    linger.as_secs_f64()
                )
            };
            Seen::new(observed, ok, Some(linger.as_secs_f64()))
        },
    )
}

/// Runs `attempt` again and again until `deadline`, `pause` apart.
fn attack_loop<F, Fut>(
    board: Rc<Board>,
    deadline: Instant,
    pause: Duration,
    mut attempt: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + 'static,
    Fut: Future<Output = Vec<(&'static str, Seen)>> + 'static,
{
    tokio::task::spawn_local(async move {
        // Bounded: at most one attempt per 10 ms even with no pause.
        for _ in 0..1_000_000 {
            if Instant::now() >= deadline {
                return;
            }
            let results = attempt().await;
            if Instant::now() >= deadline {
                // Attempts cut short by the end of the soak are not counted.
                return;
            }
            for (name, seen) in results {
                board.record(name, seen);
            }
            sleep(pause.max(Duration::from_millis(10))).await;
        }
    })
}

/// Declares the one-attack kind `name` in the "slow peers" group and
/// starts its loop: `attack` runs again and again until `deadline`.
fn slow_peer_loop<F, Fut>(
    board: &Rc<Board>,
    deadline: Instant,
    pause: Duration,
    name: &'static str,
    (expect, metric_name): (String, &'static str),
    attack: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Seen> + 'static,
{
    board.declare("slow peers", name, expect, metric_name);
    attack_loop(board.clone(), deadline, pause, move || {
        let attempt = attack();
        async move { vec![(name, attempt.await)] }
    })
}

// ------------------------------------------------------------------ soak

async fn soak(opts: &Opts) -> Res<bool> {
    let addr = opts.addr();
    let pid = opts.pid();
    let duration = opts.secs("duration", 600.0);
    let k: usize = opts.num("chat", 50);
    let rate: f64 = opts.num("rate", 2.0);
    let size: usize = opts.num("size", 64);
    let pause = opts.secs("attack-pause", 1.0);
    let sample_every = opts.secs("sample", 5.0).max(Duration::from_millis(500));
    let handshake_timeout = opts.secs("handshake-timeout", 10.0);
    let keepalive = opts.secs("keepalive", 30.0);
    let close_timeout = opts.secs("close-timeout", 10.0);
    let only = opts.str("only", "");
    let attacks = !opts.flag("no-attacks");
    if !(1..=5000).contains(&k) || !(0.01..=100.0).contains(&rate) || size > 64 * 1024 {
        usage("--chat must be 1..=5000, --rate 0.01..=100, --size at most 65536");
    }
    RATE.with(|r| r.set(rate));

    let start = Instant::now();
    let samples = Rc::new(Samples::default());
    let health_before = health_connections(addr).await?;
    samples
        .take(pid, start)
        .ok_or("cannot read the server's VmRSS (wrong --server-pid?)")?;

    // Chat clients: connect, learn the id from the greeting.
    let chat = Rc::new(Chat {
        k,
        start,
        size,
        sending: Cell::new(false),
        closing: Cell::new(false),
        ids: RefCell::new(Vec::with_capacity(k)),
        sent: RefCell::new(vec![0; k]),
        got: RefCell::new(vec![0; k]),
        acks: RefCell::new(vec![0; k]),
        alive: RefCell::new(vec![true; k]),
        closed_clean: Cell::new(0),
        pongs: Cell::new(0),
        latencies_us: RefCell::new(Vec::new()),
        failures: Failures::default(),
    });
    let mut clients = Vec::with_capacity(k);
    for i in 0..k {
        let (stream, mut reader) = timeout(
            Duration::from_secs(10),
            connect_ws(addr, "/chat", CLIENT_MAX_MESSAGE),
        )
        .await
        .map_err(|_| format!("chat client {i}: handshake timed out"))??;
        let mut stream = stream;
        let mut chunk = [0u8; 1024];
        let greeting = timeout(
            Duration::from_secs(10),
            read_msg(&mut stream, &mut reader, &mut chunk),
        )
        .await
        .map_err(|_| format!("chat client {i}: no greeting"))??;
        let Some(Msg::Text(text)) = greeting else {
            return Err(format!("chat client {i}: greeting {greeting:?}"));
        };
        let id = text
            .strip_prefix("Welcome, ")
            .and_then(|t| t.strip_suffix('!'))
            .ok_or_else(|| format!("chat client {i}: greeting {text:?}"))?;
        chat.ids.borrow_mut().push(id.to_owned());
        clients.push((stream, reader));
    }
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    for (i, (stream, reader)) in clients.into_iter().enumerate() {
        tasks.push(tokio::task::spawn_local(chat_client(
            i,
            stream,
            reader,
            chat.clone(),
        )));
    }
    sleep(Duration::from_millis(500)).await;
    chat.sending.set(true);
    let run_start = Instant::now();
    let deadline = run_start + duration;
    eprintln!(
        "soak: {k} chat clients at {rate} msg/s each for {:.0} s; attacks {}",
        duration.as_secs_f64(),
        if attacks { "on" } else { "off" }
    );

    // Memory samples.
    let sampler = {
        let samples = samples.clone();
        tokio::task::spawn_local(async move {
            for _ in 0..1_000_000 {
                samples.take(pid, start);
                sleep(sample_every).await;
            }
        })
    };

    // Attackers: one loop per group, each one connection at a time.
    let board = Rc::new(Board::default());
    let mut attackers = Vec::new();
    let want = |name: &str| only.is_empty() || name.contains(only.as_str());
    if attacks {
        let frames: Vec<Rc<FrameAttack>> = frame_attacks()
            .into_iter()
            .filter(|a| want(a.name))
            .map(Rc::new)
            .collect();
        for a in &frames {
            board.declare("frames", a.name, codes(a.expect), "ms to the close");
        }
        if !frames.is_empty() {
            let next = Rc::new(Cell::new(0usize));
            attackers.push(attack_loop(board.clone(), deadline, pause, move || {
                let attack = frames[next.get() % frames.len()].clone();
                next.set(next.get() + 1);
                async move {
                    let seen = run_frame_attack(addr, attack.clone()).await;
                    vec![(attack.name, seen)]
                }
            }));
        }

        // Floods: the fragment floods, then the ping flood, in turn.
        let mut floods: Vec<Option<Rc<FrameAttack>>> = fragment_floods()
            .into_iter()
            .filter(|a| want(a.name))
            .map(|a| Some(Rc::new(a)))
            .collect();
        for a in floods.iter().flatten() {
            board.declare("floods", a.name, codes(a.expect), "ms to the close");
        }
        if want(PING_FLOOD) {
            board.declare(
                "floods",
                PING_FLOOD,
                "survives: pongs ≤ pings, the next message echoed, close 1000".into(),
                "pongs back",
            );
            floods.push(None);
        }
        if !floods.is_empty() {
            let turn = Rc::new(Cell::new(0usize));
            attackers.push(attack_loop(board.clone(), deadline, pause * 3, move || {
                let flood = floods[turn.get() % floods.len()].clone();
                turn.set(turn.get() + 1);
                async move {
                    match flood {
                        None => vec![(PING_FLOOD, ping_flood(addr, PINGS).await)],
                        Some(flood) => {
                            let seen = run_frame_attack(addr, flood.clone()).await;
                            vec![(flood.name, seen)]
                        }
                    }
                }
            }));
        }

        let requests: Rc<Vec<HttpAttack>> = Rc::new(
            http_attacks(addr)
                .into_iter()
                .filter(|a| want(a.name))
                .collect(),
        );
        for a in requests.iter() {
            board.declare(
                "handshake",
                a.name,
                statuses(a.expect),
                "ms to the response",
            );
        }
        if !requests.is_empty() {
            let next = Rc::new(Cell::new(0usize));
            attackers.push(attack_loop(board.clone(), deadline, pause, move || {
                let n = next.get();
                next.set(n + 1);
                let requests = requests.clone();
                async move {
                    let attack = &requests[n % requests.len()];
                    vec![(attack.name, run_http_attack(addr, attack).await)]
                }
            }));
        }

        if want(SLOWLORIS) {
            let expect = format!(
                "dropped (408) within the {:.0} s handshake timeout",
                handshake_timeout.as_secs_f64()
            );
            for _ in 0..2 {
                attackers.push(slow_peer_loop(
                    &board,
                    deadline,
                    pause,
                    SLOWLORIS,
                    (expect.clone(), "s to the drop"),
                    move || slowloris(addr, handshake_timeout),
                ));
            }
        }
        if want(NON_READER) {
            attackers.push(slow_peer_loop(
                &board,
                deadline,
                pause * 5,
                NON_READER,
                (
                    "unregistered by the slow-consumer policy (1013); never answering the close, dropped within 20 s".into(),
                    "s from unregistered to the TCP drop",
                ),
                move || non_reader(addr),
            ));
        }
        if want(SILENT) {
            let expect = format!(
                "close 1011 after the keepalive ping ({:.0} s) and the pong timeout, then dropped",
                keepalive.as_secs_f64()
            );
            attackers.push(slow_peer_loop(
                &board,
                deadline,
                pause,
                SILENT,
                (expect, "s to the close"),
                move || silent_peer(addr, keepalive),
            ));
        }
        if want(IGNORES_CLOSE) {
            let expect = format!(
                "close 1002, TCP dropped (at once, or within the {:.0} s close timeout)",
                close_timeout.as_secs_f64()
            );
            attackers.push(slow_peer_loop(
                &board,
                deadline,
                pause,
                IGNORES_CLOSE,
                (expect, "s from the close to the drop"),
                move || ignores_close(addr, close_timeout),
            ));
        }
    }

    // Progress, until the deadline.
    let mut next_report = run_start + Duration::from_secs(30);
    while Instant::now() < deadline {
        sleep(Duration::from_millis(200)).await;
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(30);
            let (tried, matched) = board.totals();
            let rss = samples.points.borrow().last().map_or(0, |p| p.1);
            eprintln!(
                "soak: {:>4.0} s  chat sent {} received {}  failures {}  attacks {matched}/{tried} as expected  server rss {:.1} MiB",
                run_start.elapsed().as_secs_f64(),
                chat.total_sent(),
                chat.got.borrow().iter().sum::<u64>(),
                chat.failures.count.get(),
                mib(rss)
            );
        }
    }
    for task in &attackers {
        task.abort();
    }

    // Drain: stop sending, wait for everything in flight, close cleanly.
    chat.sending.set(false);
    let drain_start = Instant::now();
    while !chat.drained() && drain_start.elapsed() < Duration::from_secs(30) {
        sleep(Duration::from_millis(100)).await;
    }
    let drained = chat.drained();
    let drain_secs = drain_start.elapsed().as_secs_f64();
    chat.closing.set(true);
    let close_start = Instant::now();
    while chat.alive.borrow().iter().any(|a| *a) && close_start.elapsed() < Duration::from_secs(30)
    {
        sleep(Duration::from_millis(100)).await;
    }
    for task in &tasks {
        task.abort();
    }
    let health_after = wait_connections(addr, health_before, Duration::from_secs(30)).await?;
    sleep(Duration::from_secs(2)).await;
    sampler.abort();
    samples.take(pid, start);

    // Report.
    let total_sent = chat.total_sent();
    let expected = total_sent * k as u64;
    let received: u64 = chat.got.borrow().iter().sum();
    let acks: u64 = chat.acks.borrow().iter().sum();
    let failures = chat.failures.count.get();
    let mut lat = std::mem::take(&mut *chat.latencies_us.borrow_mut());
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        f64::from(lat[i]) / 1000.0
    };
    let (tried, matched) = board.totals();
    let chat_ok = failures == 0
        && drained
        && received == expected
        && acks == total_sent
        && chat.closed_clean.get() == k
        && health_after <= health_before;
    let attacks_ok = tried == matched;

    let mut md = String::new();
    let _ = writeln!(
        md,
        "Duration {:.0} s; {k} chat clients on `/chat`, {rate} messages/s each, {size}-byte messages; \
         attacks {}; {}.\n",
        duration.as_secs_f64(),
        if attacks { "on" } else { "off" },
        machine_line()
    );
    let _ = writeln!(
        md,
        "**Well-behaved clients**\n\n| measure | value |\n|---|---|"
    );
    let row = |md: &mut String, key: &str, value: String| {
        let _ = writeln!(md, "| {key} | {value} |");
    };
    row(&mut md, "messages sent", total_sent.to_string());
    row(
        &mut md,
        "broadcast deliveries expected / received (each checked: sender, order, no gap)",
        format!("{expected} / {received}"),
    );
    row(
        &mut md,
        "acknowledgements expected / received",
        format!("{total_sent} / {acks}"),
    );
    row(
        &mut md,
        "delivery latency p50 / p99 / p99.9 / max",
        format!(
            "{:.2} / {:.2} / {:.2} / {:.2} ms",
            pct(0.5),
            pct(0.99),
            pct(0.999),
            pct(1.0)
        ),
    );
    row(
        &mut md,
        "keepalive pings answered",
        chat.pongs.get().to_string(),
    );
    row(
        &mut md,
        "drained after the run",
        format!("{drained} ({drain_secs:.1} s)"),
    );
    row(
        &mut md,
        "clean close handshakes",
        format!("{} of {k}", chat.closed_clean.get()),
    );
    row(
        &mut md,
        "server connections afterwards (/health)",
        format!("{health_after} (before: {health_before})"),
    );
    row(&mut md, "**errors**", format!("**{failures}**"));
    for e in chat.failures.first.borrow().iter() {
        row(&mut md, "error", e.clone());
    }

    if attacks {
        let _ = writeln!(
            md,
            "\n**Attacks** ({tried} attempts, {matched} as expected)\n\n\
             | group | attack | expected | attempts | as expected | observed | metric (min–max) |\n|---|---|---|---|---|---|---|"
        );
        let kinds = board.kinds.borrow();
        for name in board.order.borrow().iter() {
            let Some(kind) = kinds.get(name) else {
                continue;
            };
            let observed: Vec<String> = kind
                .observed
                .iter()
                .map(|(what, n)| format!("{what} ×{n}"))
                .collect();
            let metric = kind.metric.map_or("–".into(), |(lo, hi)| {
                format!("{}: {lo:.1}–{hi:.1}", kind.metric_name)
            });
            let _ = writeln!(
                md,
                "| {} | {name} | {} | {} | {} | {} | {metric} |",
                kind.group,
                kind.expect,
                kind.attempts,
                kind.matched,
                observed.join("; ")
            );
        }
    }

    let points = samples.points.borrow();
    let rss: Vec<u64> = points.iter().map(|p| p.1).collect();
    let first = rss.first().copied().unwrap_or(0);
    let last = rss.last().copied().unwrap_or(0);
    let min = rss.iter().copied().min().unwrap_or(0);
    let max = rss.iter().copied().max().unwrap_or(0);
    // Flat-memory check: from the 2nd minute (a third of the run if it is
    // shorter than three minutes) to the end of the run.
    let from_secs = if duration >= Duration::from_secs(180) {
        120.0
    } else {
        duration.as_secs_f64() / 3.0
    };
    let run_offset = (run_start - start).as_secs_f64();
    let run_end = run_offset + duration.as_secs_f64();
    let in_run: Vec<&(f64, u64, usize)> = points
        .iter()
        .filter(|p| p.0 >= run_offset + from_secs && p.0 <= run_end + 1.0)
        .collect();
    let (growth_from, growth_to) = match (in_run.first(), in_run.last()) {
        (Some(a), Some(b)) => (a.1, b.1),
        _ => (0, 0),
    };
    let fds: Vec<usize> = points.iter().map(|p| p.2).collect();
    let _ = writeln!(
        md,
        "\n**Server memory** ({} VmRSS samples every {:.0} s)\n\n| first | min | max | last (after the clients left) | at {from_secs:.0} s → end of the run | fds first / max / last |\n|---|---|---|---|---|---|\n\
         | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} → {:.1} MiB ({:+.1} MiB) | {} / {} / {} |",
        rss.len(),
        sample_every.as_secs_f64(),
        mib(first),
        mib(min),
        mib(max),
        mib(last),
        mib(growth_from),
        mib(growth_to),
        mib(growth_to) - mib(growth_from),
        fds.first().copied().unwrap_or(0),
        fds.iter().copied().max().unwrap_or(0),
        fds.last().copied().unwrap_or(0),
    );
    // A compact series: one value a minute (or ten points for short runs).
    let step = if duration >= Duration::from_secs(300) {
        60.0
    } else {
        (duration.as_secs_f64() / 10.0).max(1.0)
    };
    let mut series = Vec::new();
    let mut next_t = 0.0;
    for p in points.iter() {
        if p.0 >= next_t {
            series.push(format!("{:.0} s: {:.1}", p.0, mib(p.1)));
            next_t = p.0 + step;
        }
    }
    let _ = writeln!(md, "\nVmRSS series (MiB): {}", series.join(" · "));
    drop(points);

    println!(
        "RESULT test=soak duration_s={:.0} chat={k} sent={total_sent} expected={expected} received={received} \
         acks={acks} failures={failures} attacks={tried} attacks_matched={matched} rss_first_kib={first} \
         rss_max_kib={max} rss_last_kib={last} growth_kib={}",
        duration.as_secs_f64(),
        growth_to as i64 - growth_from as i64
    );
    finish_report(opts, "soak", &md)?;
    Ok(chat_ok && attacks_ok)
}

/// Pings in one flood (22 bytes each on the wire).
const PINGS: usize = 1_000_000;
const PING_FLOOD: &str = "ping flood, not reading (1,000,000 pings, then a message)";
const SLOWLORIS: &str = "slowloris head, one byte a second";
const NON_READER: &str = "peer that never reads (16 KiB broadcasts)";
const SILENT: &str = "silent peer (never answers a ping)";
const IGNORES_CLOSE: &str = "peer that ignores the server's close";

fn codes(expect: &[u16]) -> String {
    let list: Vec<String> = expect.iter().map(|c| format!("close {c}")).collect();
    list.join(" or ")
}

fn statuses(expect: &[u16]) -> String {
    let list: Vec<String> = expect.iter().map(|c| format!("HTTP {c}")).collect();
    list.join(" or ")
}

/// Prints the summary and writes it to `--markdown`, if given.
fn finish_report(opts: &Opts, mode: &str, md: &str) -> Res<()> {
    println!("\n== wssoak {mode} ==\n{md}");
    if let Some(path) = opts.get("markdown") {
        std::fs::write(path, md).map_err(|e| format!("write {path}: {e}"))?;
    }
    Ok(())
}
