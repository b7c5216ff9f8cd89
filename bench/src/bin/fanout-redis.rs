//! Cross-node fan-out through Redis (issue 9), against the in-memory
//! broker on one node, in the same run.
//!
//! ```sh
//! cargo run --release -p ws-bench --bin fanout-redis -- \
//!     [--clients 1000] [--messages 1000] [--size 64] [--rounds 3] [--redis redis://127.0.0.1:PORT]
//! ```
//!
//! Each round runs both setups with the same N clients and M messages:
//!
//! - `memory-1node`: one ws-app node with the default `MemoryBroker`, N
//!   clients on it;
//! - `redis-2nodes`: two ws-app nodes, each with a `RedisBroker` on the
//!   same Redis, N/2 clients on each.
//!
//! One publisher (a server-side `Hub::broadcast` on the first node) sends M
//! messages of `--size` bytes as fast as it can; every client counts what
//! it gets and checks the order. The figure is messages delivered per
//! second to all clients: N x M over the time from the first broadcast to
//! the last client's M-th message. Nodes and clients share one tokio
//! runtime (2 worker threads) in this process; without `--redis` the tool
//! starts its own `redis-server` on a free 127.0.0.1 port (and kills it at
//! the end). Loopback only; every wait is bounded (60 s per round).
//!
//! Output: one `RESULT` line per setup and round, then a median summary.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ws_app::redis::RedisBroker;
use ws_app::{App, Hub, ServerHandle, Ws};
use ws_runtime_tokio::Message;

const ROUTE: &str = "/fanout";
const ROUND_LIMIT: Duration = Duration::from_secs(60);

struct Args {
    clients: usize,
    messages: usize,
    size: usize,
    rounds: usize,
    redis: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: fanout-redis [--clients N] [--messages M] [--size BYTES] [--rounds R] [--redis redis://127.0.0.1:PORT]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut args = Args {
        clients: 1000,
        messages: 1000,
        size: 64,
        rounds: 3,
        redis: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        let number = || value.parse::<usize>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--clients" => args.clients = number().clamp(2, 20_000),
            "--messages" => args.messages = number().clamp(1, 1_000_000),
            "--size" => args.size = number().clamp(16, 1 << 20),
            "--rounds" => args.rounds = number().clamp(1, 50),
            "--redis" => args.redis = Some(value),
            _ => usage(),
        }
    }
    args
}

/// A `redis-server` of our own on a free loopback port, killed on drop.
struct OwnRedis(Child);

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Result<(OwnRedis, String), String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--dir", &std::env::temp_dir().to_string_lossy()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start redis-server ({e}); install it or pass --redis URL"))?;
    let redis = OwnRedis(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((redis, format!("redis://127.0.0.1:{port}")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err("redis-server did not start within 10 s".into())
}

async fn idle(ws: Ws) -> ws_app::Result<()> {
    loop {
        let _ = ws.receive().await?;
    }
}

async fn node(broker: Option<RedisBroker>, messages: usize) -> Result<ServerHandle, String> {
    let mut app = App::new();
    // Room for the whole burst: nobody is a slow consumer here.
    let _ = app.config_mut().outbound_capacity(messages + 64);
    if let Some(broker) = broker {
        app.broker(broker);
    }
    let _ = app.websocket(ROUTE, idle);
    let server = ws_app::Server::<ws_app::rt::Tokio>::bind(app, "127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    Ok(server.spawn())
}

/// What one client saw.
struct Seen {
    count: usize,
    last: Option<Instant>,
    out_of_order: usize,
}

async fn client(url: String, messages: usize, deadline: Instant) -> Result<Seen, String> {
    let mut ws = ws_runtime_tokio::connect(&url)
        .await
        .map_err(|e| format!("connect {url}: {e}"))?;
    let mut seen = Seen {
        count: 0,
        last: None,
        out_of_order: 0,
    };
    let mut expected: u64 = 0;
    while seen.count < messages {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(next) = tokio::time::timeout(left, ws.recv()).await else {
            break;
        };
        match next {
            Some(Ok(Message::Binary(data))) => {
                let mut seq = [0u8; 8];
                seq.copy_from_slice(data.get(..8).unwrap_or(&[0; 8]));
                if u64::from_be_bytes(seq) != expected {
                    seen.out_of_order += 1;
                }
                expected = u64::from_be_bytes(seq) + 1;
                seen.count += 1;
                seen.last = Some(Instant::now());
            }
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    Ok(seen)
}

struct Outcome {
    rate: f64,
    secs: f64,
    delivered: usize,
    out_of_order: usize,
}

/// Connects the clients (split over `nodes`), waits until `ready` says
/// every one is reachable, broadcasts from `publisher`, collects.
async fn run(
    nodes: &[ServerHandle],
    publisher: &Hub,
    redis: Option<&RedisBroker>,
    args: &Args,
) -> Result<Outcome, String> {
    let deadline = Instant::now() + ROUND_LIMIT;
    let mut tasks = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let url = format!("ws://{}{ROUTE}", nodes[i % nodes.len()].local_addr());
        tasks.push(tokio::spawn(client(url, args.messages, deadline)));
    }
    // Every client registered (and, through Redis, subscribed).
    loop {
        let ready = match redis {
            Some(broker) => broker
                .cluster_connections(ROUTE)
                .await
                .map(|ids| ids.len())
                .unwrap_or(0),
            None => nodes.iter().map(|n| n.hub().connection_count()).sum(),
        };
        if ready == args.clients {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("only {ready} of {} clients ready", args.clients));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t0 = Instant::now();
    for i in 0..args.messages {
        let mut payload = vec![0x5a; args.size];
        payload[..8].copy_from_slice(&(i as u64).to_be_bytes());
        publisher
            .broadcast(ROUTE, payload)
            .map_err(|e| format!("broadcast: {e}"))?;
    }
    let mut delivered = 0;
    let mut out_of_order = 0;
    let mut end = t0;
    for task in tasks {
        let seen = task.await.map_err(|e| format!("client task: {e}"))??;
        delivered += seen.count;
        out_of_order += seen.out_of_order;
        if let Some(last) = seen.last {
            end = end.max(last);
        }
    }
    let secs = end.duration_since(t0).as_secs_f64().max(1e-9);
    Ok(Outcome {
        rate: delivered as f64 / secs,
        secs,
        delivered,
        out_of_order,
    })
}

async fn round(args: &Args, url: &str, setup: &str) -> Result<Outcome, String> {
    match setup {
        "memory-1node" => {
            let node = node(None, args.messages).await?;
            let outcome = run(std::slice::from_ref(&node), &node.hub(), None, args).await;
            node.shutdown();
            outcome
        }
        _ => {
            let a = RedisBroker::connect(url).await.map_err(|e| e.to_string())?;
            let b = RedisBroker::connect(url).await.map_err(|e| e.to_string())?;
            let nodes = [
                node(Some(a.clone()), args.messages).await?,
                node(Some(b.clone()), args.messages).await?,
            ];
            let outcome = run(&nodes, &nodes[0].hub(), Some(&a), args).await;
            for n in &nodes {
                n.shutdown();
            }
            a.close();
            b.close();
            outcome
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args = parse_args();
    let (_own, url) = match &args.redis {
        Some(url) => (None, url.clone()),
        None => match start_redis() {
            Ok((own, url)) => (Some(own), url),
            Err(e) => {
                eprintln!("fanout-redis: {e}");
                std::process::exit(1);
            }
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "# fanout-redis: {} clients, {} messages of {} bytes, {} rounds, redis {url}",
        args.clients, args.messages, args.size, args.rounds
    );
    let setups = ["memory-1node", "redis-2nodes"];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); setups.len()];
    let mut failed = false;
    runtime.block_on(async {
        for r in 0..args.rounds {
            for (s, setup) in setups.iter().enumerate() {
                match round(&args, &url, setup).await {
                    Ok(o) => {
                        let expected = args.clients * args.messages;
                        println!(
                            "RESULT setup={setup} round={r} clients={} messages={} size={} delivered={}/{expected} out_of_order={} secs={:.3} msgs_per_sec={:.0}",
                            args.clients,
                            args.messages,
                            args.size,
                            o.delivered,
                            o.out_of_order,
                            o.secs,
                            o.rate
                        );
                        if o.delivered != expected || o.out_of_order != 0 {
                            failed = true;
                        }
                        rates[s].push(o.rate);
                    }
                    Err(e) => {
                        println!("RESULT setup={setup} round={r} error={e:?}");
                        failed = true;
                    }
                }
                // Let closed connections drain before the next setup.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    });
    for (s, setup) in setups.iter().enumerate() {
        if !rates[s].is_empty() {
            println!(
                "SUMMARY setup={setup} median_msgs_per_sec={:.0} rounds={}",
                median(&mut rates[s]),
                rates[s].len()
            );
        }
    }
    if failed {
        eprintln!("fanout-redis: some deliveries were missing, out of order or failed");
        std::process::exit(1);
    }
}
