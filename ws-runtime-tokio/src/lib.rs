//! WebSockets on tokio, driven by the `ws-proto` sans-IO core.
//!
//! **Not implemented yet.** This crate is a placeholder in the workspace
//! layout; it exports nothing. The tokio adapter is tracked as its own issue.
