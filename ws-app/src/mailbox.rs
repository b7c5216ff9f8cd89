//! A small bounded queue shared between tasks, on any executor: the inbox
//! (connection task → receivers) and the outbox (senders, broadcasts →
//! connection task) of a connection.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Why a push failed; the item comes back.
#[derive(Debug)]
pub(crate) enum PushError<T> {
    /// The queue holds `capacity` items.
    Full(T),
    /// The queue was closed.
    Closed(T),
}

struct State<T> {
    queue: VecDeque<T>,
    capacity: usize,
    closed: bool,
    /// Tasks waiting for an item (or for the end).
    poppers: Vec<Waker>,
    /// Tasks waiting for room (or for the queue to empty).
    pushers: Vec<Waker>,
    /// The task that drains the queue without waiting in `pop` (the
    /// connection task, for the outbox): woken by every push and by
    /// [`Mailbox::wake_consumer`], and kept registered.
    consumer: Option<Waker>,
}

/// A bounded multi-producer, multi-consumer queue. Every operation takes a
/// short lock; waiting tasks are woken on change. Its length and closed
/// flag are mirrored in atomics, so that the common "is there anything?"
/// check of the connection task takes no lock.
pub(crate) struct Mailbox<T> {
    state: Mutex<State<T>>,
    len: AtomicUsize,
    closed: AtomicBool,
}

/// What [`Mailbox::try_pop`] found.
pub(crate) enum TryPop<T> {
    Item(T),
    Empty,
    /// Closed and empty.
    Closed,
}

fn register(wakers: &mut Vec<Waker>, cx: &Context<'_>) {
    if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
        wakers.push(cx.waker().clone());
    }
}

fn wake_all(wakers: &mut Vec<Waker>) {
    for waker in wakers.drain(..) {
        waker.wake();
    }
}

impl<T> Mailbox<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                capacity: capacity.max(1),
                closed: false,
                poppers: Vec::new(),
                pushers: Vec::new(),
                consumer: None,
            }),
            len: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock leaves the queue consistent (every
        // critical section is a single push, pop or flag change).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `item` if there is room.
    pub(crate) fn try_push(&self, item: T) -> Result<(), PushError<T>> {
        let mut state = self.lock();
        if state.closed {
            return Err(PushError::Closed(item));
        }
        if state.queue.len() >= state.capacity {
            return Err(PushError::Full(item));
        }
        self.pushed(&mut state, item);
        Ok(())
    }

    /// Queues `item` (the lock is held) and wakes whoever waits for it.
    fn pushed(&self, state: &mut State<T>, item: T) {
        state.queue.push_back(item);
        self.len.store(state.queue.len(), Ordering::Release);
        wake_all(&mut state.poppers);
        if let Some(consumer) = &state.consumer {
            consumer.wake_by_ref();
        }
    }

    /// Takes the front item after a pop (the lock is held).
    fn popped(&self, state: &mut State<T>) -> Option<T> {
        let item = state.queue.pop_front()?;
        self.len.store(state.queue.len(), Ordering::Release);
        wake_all(&mut state.pushers);
        Some(item)
    }

    /// Adds `item` even when full (a Close frame must always find room).
    pub(crate) fn force_push(&self, item: T) -> Result<(), T> {
        let mut state = self.lock();
        if state.closed {
            return Err(item);
        }
        self.pushed(&mut state, item);
        Ok(())
    }

    /// Waits for room, then adds `item`; `Err(item)` once closed.
    ///
    /// Cancel-safe: dropped while waiting, the item is dropped unsent.
    pub(crate) async fn push(&self, item: T) -> Result<(), T> {
        let mut item = Some(item);
        poll_fn(|cx| {
            let mut state = self.lock();
            let Some(value) = item.take() else {
                return Poll::Ready(Ok(()));
            };
            if state.closed {
                return Poll::Ready(Err(value));
            }
            if state.queue.len() < state.capacity {
                self.pushed(&mut state, value);
                return Poll::Ready(Ok(()));
            }
            item = Some(value);
            register(&mut state.pushers, cx);
            Poll::Pending
        })
        .await
    }

    /// Adds `*item` now if there is room (a closed queue drops it);
    /// otherwise keeps it in `item` and registers `cx` to be woken when room
    /// is made.
    pub(crate) fn poll_push(&self, cx: &mut Context<'_>, item: &mut Option<T>) -> Poll<()> {
        let mut state = self.lock();
        let Some(value) = item.take() else {
            return Poll::Ready(());
        };
        if state.closed {
            return Poll::Ready(());
        }
        if state.queue.len() < state.capacity {
            self.pushed(&mut state, value);
            return Poll::Ready(());
        }
        *item = Some(value);
        register(&mut state.pushers, cx);
        Poll::Pending
    }

    /// The next item without waiting. Takes no lock when the queue is
    /// empty and open.
    #[inline]
    pub(crate) fn try_pop(&self) -> TryPop<T> {
        if self.len.load(Ordering::Acquire) == 0 && !self.closed.load(Ordering::Acquire) {
            return TryPop::Empty;
        }
        let mut state = self.lock();
        match self.popped(&mut state) {
            Some(item) => TryPop::Item(item),
            None if state.closed => TryPop::Closed,
            None => TryPop::Empty,
        }
    }

    /// Whether nothing is queued (a hint without the lock: another task
    /// may push at any time).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }

    /// Makes `waker` the consumer woken by every push (see
    /// [`State::consumer`]).
    pub(crate) fn set_consumer(&self, waker: Waker) {
        self.lock().consumer = Some(waker);
    }

    /// Wakes the consumer (something other than a push happened).
    pub(crate) fn wake_consumer(&self) {
        if let Some(consumer) = &self.lock().consumer {
            consumer.wake_by_ref();
        }
    }

    /// The next item; `None` once closed and empty.
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.lock();
        if let Some(item) = self.popped(&mut state) {
            return Poll::Ready(Some(item));
        }
        if state.closed {
            return Poll::Ready(None);
        }
        register(&mut state.poppers, cx);
        Poll::Pending
    }

    /// Waits until the queue is empty (or closed).
    pub(crate) async fn drained(&self) {
        poll_fn(|cx| {
            let mut state = self.lock();
            if state.queue.is_empty() || state.closed {
                return Poll::Ready(());
            }
            register(&mut state.pushers, cx);
            Poll::Pending
        })
        .await;
    }

    /// Refuses further pushes; items already queued can still be popped.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        self.closed.store(true, Ordering::Release);
        wake_all(&mut state.poppers);
        wake_all(&mut state.pushers);
        if let Some(consumer) = &state.consumer {
            consumer.wake_by_ref();
        }
    }

    /// Drops every queued item.
    pub(crate) fn clear(&self) {
        let drained: Vec<T> = {
            let mut state = self.lock();
            let items = state.queue.drain(..).collect();
            self.len.store(0, Ordering::Release);
            wake_all(&mut state.pushers);
            items
        };
        drop(drained);
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Items queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn bounded_close_and_force() {
        let mb = Mailbox::new(2);
        assert!(mb.try_push(1).is_ok());
        assert!(mb.try_push(2).is_ok());
        assert!(matches!(mb.try_push(3), Err(PushError::Full(3))));
        assert!(mb.force_push(4).is_ok());
        assert_eq!(mb.len(), 3);
        let flag = Arc::new(Flag(Default::default()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(mb.poll_pop(&mut cx), Poll::Ready(Some(1)));
        mb.close();
        assert!(matches!(mb.try_push(5), Err(PushError::Closed(5))));
        assert_eq!(mb.poll_pop(&mut cx), Poll::Ready(Some(2)));
        assert_eq!(mb.poll_pop(&mut cx), Poll::Ready(Some(4)));
        assert_eq!(mb.poll_pop(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn pop_waits_and_is_woken() {
        let mb = Mailbox::<u8>::new(1);
        let flag = Arc::new(Flag(Default::default()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(mb.poll_pop(&mut cx), Poll::Pending);
        mb.try_push(7).unwrap();
        assert!(flag.0.load(Ordering::SeqCst));
        assert_eq!(mb.poll_pop(&mut cx), Poll::Ready(Some(7)));
        mb.try_push(8).unwrap();
        mb.clear();
        assert_eq!(mb.len(), 0);
        assert!(!mb.is_closed());
    }
}
