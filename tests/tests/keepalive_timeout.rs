//! Keepalive pings, pong deadlines and idle timeouts on a fake clock.

use std::time::Duration;

use ws_proto::{CloseCode, Config, Instant, Lifecycle};
use ws_tests::{Direction, Observed, Pair};

fn keepalive(interval: u64, pong: u64) -> Config {
    let mut config = Config::default();
    config
        .keepalive_interval(Some(Duration::from_secs(interval)))
        .pong_timeout(Duration::from_secs(pong));
    config
}

#[test]
fn keepalive_keeps_a_responsive_peer() {
    let mut pair = Pair::with_configs(Config::default(), keepalive(5, 2));
    // Run the clock through ten keepalive rounds.
    for _ in 0..10 {
        pair.drive(1);
        pair.settle(20);
    }
    let pongs = pair
        .server
        .observed
        .iter()
        .filter(|o| matches!(o, Observed::Pong(_)))
        .count();
    assert!(pongs >= 5, "{:?}", pair.server.observed);
    assert!(pair.server.conn.is_open());
    assert!(pair.client.conn.is_open());
}

#[test]
fn keepalive_drops_a_silent_peer() {
    let mut pair = Pair::with_configs(Config::default(), keepalive(5, 2));
    // The client's bytes never arrive: the server's ping goes unanswered.
    pair.filter(|dir, bytes| {
        if dir == Direction::ToServer {
            bytes.clear();
        }
    });
    pair.drive(50);
    assert!(
        pair.server
            .observed
            .contains(&Observed::Life(Lifecycle::KeepaliveTimedOut))
    );
    let outcome = pair.server.outcome().unwrap();
    assert!(outcome.timed_out);
    assert_eq!(outcome.sent, Some(CloseCode::INTERNAL_ERROR));
    assert_eq!(
        pair.now,
        Instant::from_millis(7_000),
        "ping at 5 s, deadline at 7 s"
    );
}

#[test]
fn idle_timeout_closes_both_sides_cleanly() {
    let mut config = Config::default();
    config.idle_timeout(Some(Duration::from_secs(60)));
    let mut pair = Pair::with_configs(Config::default(), config);
    pair.client.conn.send_text("hello").unwrap();
    pair.settle(10);
    pair.drive(50);
    let outcome = pair.client.outcome().unwrap();
    assert_eq!(outcome.code, CloseCode::GOING_AWAY);
    assert!(outcome.clean);
    assert_eq!(pair.now, Instant::from_millis(60_000));
}
