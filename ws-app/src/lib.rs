//! Robyn's WebSocket API in Rust: routes, connection ids, broadcast and
//! dependency injection.
//!
//! **Not implemented yet.** This crate is a placeholder in the workspace
//! layout; it exports nothing. The application layer is tracked as its own issue.
