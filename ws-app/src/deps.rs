//! Dependency injection: [`Deps`], a map of shared values looked up by type
//! or by name.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

type Value = Arc<dyn Any + Send + Sync>;

/// Shared values for handlers: looked up by type ([`get`](Self::get)) or by
/// name ([`get_named`](Self::get_named), Robyn's dictionary feel).
///
/// An [`App`](crate::App) holds the global `Deps`
/// ([`inject_global`](crate::App::inject_global)); each
/// [`Router`](crate::Router) holds its own
/// ([`inject`](crate::Router::inject)). Handlers, `on_connect`, `on_close`,
/// guards and HTTP handlers reach both. Values are shared, not copied: put a
/// `Mutex` or an atomic inside a value to change it. Injecting a second
/// value of the same type (or under the same name) replaces the first:
/// the last write wins.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let mut deps = ws_app::Deps::new();
/// deps.insert(AtomicU64::new(0));
/// deps.insert_named("GREETING", String::from("hello"));
/// deps.get::<AtomicU64>().unwrap().fetch_add(1, Ordering::Relaxed);
/// assert_eq!(deps.get_named::<String>("GREETING").map(String::as_str), Some("hello"));
/// assert!(deps.get_named::<u32>("GREETING").is_none()); // wrong type
/// ```
#[derive(Clone, Default)]
pub struct Deps {
    by_type: HashMap<TypeId, Value>,
    by_name: HashMap<String, Value>,
}

impl Deps {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` under its type, replacing an earlier value of that type.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) -> &mut Self {
        self.by_type.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// Adds `value` under `name`, replacing an earlier value of that name.
    pub fn insert_named<T: Any + Send + Sync>(
        &mut self,
        name: impl Into<String>,
        value: T,
    ) -> &mut Self {
        self.by_name.insert(name.into(), Arc::new(value));
        self
    }

    /// The value of type `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.by_type.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// The value of type `T`, as a shared handle to keep beyond a borrow
    /// (to move into a task, for instance).
    pub fn get_arc<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.by_type
            .get(&TypeId::of::<T>())?
            .clone()
            .downcast()
            .ok()
    }

    /// The value called `name`, if it has type `T`.
    pub fn get_named<T: Any + Send + Sync>(&self, name: &str) -> Option<&T> {
        self.by_name.get(name)?.downcast_ref()
    }

    /// The value called `name`, if it has type `T`, as a shared handle.
    pub fn get_named_arc<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        self.by_name.get(name)?.clone().downcast().ok()
    }

    /// Whether a value called `name` exists.
    pub fn contains_name(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The names of the named values, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty() && self.by_name.is_empty()
    }

    /// `self` with `overrides` on top (their values win).
    pub(crate) fn layered(&self, overrides: &Self) -> Self {
        let mut merged = self.clone();
        merged
            .by_type
            .extend(overrides.by_type.iter().map(|(k, v)| (*k, v.clone())));
        merged.by_name.extend(
            overrides
                .by_name
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        merged
    }
}

impl fmt::Debug for Deps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deps")
            .field("types", &self.by_type.len())
            .field("names", &self.names())
            .finish()
    }
}

/// The dependencies a handler sees: the app's globals and its router's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub(crate) globals: Arc<Deps>,
    pub(crate) router: Arc<Deps>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_write_wins_and_layers_override() {
        let mut base = Deps::new();
        base.insert(1u32).insert_named("x", "base");
        base.insert(2u32);
        assert_eq!(base.get::<u32>(), Some(&2));
        let mut top = Deps::new();
        top.insert_named("x", "top").insert_named("y", 5i64);
        let merged = base.layered(&top);
        assert_eq!(merged.get_named::<&str>("x"), Some(&"top"));
        assert_eq!(merged.get_named::<i64>("y"), Some(&5));
        assert_eq!(merged.get::<u32>(), Some(&2));
        assert_eq!(merged.names(), vec!["x", "y"]);
        assert!(merged.get_arc::<u32>().is_some());
        assert!(merged.get_named_arc::<u32>("x").is_none());
    }
}
