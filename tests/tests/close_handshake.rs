//! RFC 6455 §7: the closing handshake between two `ws-proto` connections.

use ws_proto::{CloseCode, Config, Initiator, Message, State};
use ws_tests::{Observed, Pair};

#[test]
fn s7_1_2_client_initiated_close_completes_cleanly() {
    let mut pair = Pair::new(Config::default());
    pair.client.conn.send_text("last words").unwrap();
    pair.client
        .conn
        .close(pair.now, CloseCode::NORMAL, "done")
        .unwrap();
    pair.drive(100);

    assert_eq!(pair.server.messages(), [Message::Text("last words".into())]);
    assert!(
        pair.server
            .observed
            .contains(&Observed::Close(1000, "done".into()))
    );
    assert!(
        pair.client
            .observed
            .contains(&Observed::Close(1000, String::new()))
    );
    // The server closes the TCP connection first (§7.1.1); the client then
    // sees EOF and closes too.
    assert!(pair.server.shut_down);
    assert!(pair.client.observed.contains(&Observed::Eof));
    for side in [&pair.client, &pair.server] {
        assert_eq!(side.conn.state(), State::Closed);
        let outcome = side.outcome().expect("closed outcome");
        assert!(outcome.clean, "{outcome:?}");
        assert!(!outcome.timed_out);
        assert_eq!(outcome.code, CloseCode::NORMAL);
    }
    assert_eq!(pair.client.outcome().unwrap().initiator, Initiator::Local);
    assert_eq!(pair.server.outcome().unwrap().initiator, Initiator::Remote);
}

#[test]
fn s7_1_2_server_initiated_close_completes_cleanly() {
    let mut pair = Pair::new(Config::default());
    pair.server
        .conn
        .close(pair.now, CloseCode::GOING_AWAY, "restart")
        .unwrap();
    pair.drive(100);
    assert_eq!(pair.client.outcome().unwrap().code, CloseCode::GOING_AWAY);
    assert_eq!(pair.server.outcome().unwrap().code, CloseCode::GOING_AWAY);
    assert!(pair.client.outcome().unwrap().clean);
    assert!(pair.server.outcome().unwrap().clean);
    assert_eq!(pair.now, ws_proto::Instant::ZERO, "no timer was needed");
}

#[test]
fn s7_1_1_client_gives_up_on_a_server_that_never_closes_tcp() {
    let mut pair = Pair::new(Config::default());
    // Nothing from the server reaches the client, not even its EOF.
    pair.cut(ws_tests::Direction::ToClient);
    pair.client
        .conn
        .close(pair.now, CloseCode::NORMAL, "")
        .unwrap();
    pair.drive(100);
    let outcome = pair.client.outcome().unwrap();
    assert!(outcome.timed_out);
    assert!(!outcome.clean);
    assert_eq!(outcome.code, CloseCode::ABNORMAL_CLOSURE);
    // The default close timeout is 10 s.
    assert_eq!(pair.now, ws_proto::Instant::from_millis(10_000));
}

#[test]
fn simultaneous_close_completes() {
    let mut pair = Pair::new(Config::default());
    pair.client
        .conn
        .close(pair.now, CloseCode::NORMAL, "a")
        .unwrap();
    pair.server
        .conn
        .close(pair.now, CloseCode::GOING_AWAY, "b")
        .unwrap();
    pair.drive(100);
    assert_eq!(pair.client.outcome().unwrap().code, CloseCode::GOING_AWAY);
    assert_eq!(pair.server.outcome().unwrap().code, CloseCode::NORMAL);
    assert!(pair.client.outcome().unwrap().clean && pair.server.outcome().unwrap().clean);
}
