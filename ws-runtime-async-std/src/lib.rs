//! WebSockets over `futures-io` (async-std and smol), driven by the
//! `ws-proto` sans-IO core.
//!
//! **Not implemented yet.** This crate is a placeholder in the workspace
//! layout; it exports nothing. The futures-io adapter is tracked as its own issue.
