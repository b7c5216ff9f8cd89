//! A throwaway `redis-server` for the Redis broker tests (`app_redis.rs`):
//! started on a free 127.0.0.1 port (never 6379, where Debian's packaged
//! daemon may be listening), no persistence, killed on drop.
//!
//! Without a `redis-server` on `PATH` the tests print
//! `skipping: redis-server not found` and pass, unless
//! `WS_REDIS_TEST_REQUIRED=1` (set by `.ci/run`), when they fail.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A running `redis-server`, killed when dropped.
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
}

/// Whether `redis-server` can be run; `false` means "skip" (or a panic
/// when `WS_REDIS_TEST_REQUIRED=1`).
pub(crate) fn available(test: &str) -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    if std::env::var("WS_REDIS_TEST_REQUIRED").as_deref() == Ok("1") {
        panic!("{test}: redis-server not found and WS_REDIS_TEST_REQUIRED=1");
    }
    eprintln!(
        "{test}: skipping: redis-server not found (apt-get install redis-server; \
         set WS_REDIS_TEST_REQUIRED=1 to make this a failure)"
    );
    false
}

/// A port nobody listens on right now (not 6379).
fn free_port() -> u16 {
    for _ in 0..16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        if port != 6379 {
            return port;
        }
    }
    panic!("no free port");
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub(crate) fn start() -> Self {
        let mut server = Self {
            child: None,
            port: free_port(),
        };
        server.restart();
        server
    }

    /// The port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to its clients) and waits
    /// for the process to end.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the server on the same port; waits (at most 10 s) until
    /// it answers PING.
    pub(crate) fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--dir", &std::env::temp_dir().to_string_lossy()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server on port {} did not answer PING within 10 s",
            self.port
        );
    }

    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        stream.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Raw `PUBLISH channel payload` to the server (RESP over a plain TCP
/// connection); returns the number of subscribers that got it.
pub(crate) fn publish_raw(port: u16, channel: &[u8], payload: &[u8]) -> i64 {
    let mut command = Vec::new();
    for part in [&b"PUBLISH"[..], channel, payload] {
        command.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        command.extend_from_slice(part);
        command.extend_from_slice(b"\r\n");
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to redis");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(b"*3\r\n").expect("write");
    stream.write_all(&command).expect("write");
    let mut reply = [0u8; 32];
    let n = stream.read(&mut reply).expect("the PUBLISH reply");
    let text = std::str::from_utf8(&reply[..n]).expect("an ASCII reply");
    text.trim()
        .strip_prefix(':')
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("unexpected PUBLISH reply {text:?}"))
}

/// Every warning logged in this process since [`capture_warnings`].
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = record.args().to_string();
            eprintln!("[{}] {line}", record.level());
            WARNINGS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line);
        }
    }

    fn flush(&self) {}
}

/// Installs the capturing logger (once per process; later calls no-ops).
pub(crate) fn capture_warnings() {
    if log::set_logger(&Capture).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

/// The captured warnings that contain every one of `parts`.
pub(crate) fn warnings_with(parts: &[&str]) -> Vec<String> {
    WARNINGS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|line| parts.iter().all(|p| line.contains(p)))
        .cloned()
        .collect()
}
