//! Live output of a process (a container or an exec) to its attached clients, without loss:
//! every subscriber has its own bounded queue, and a full queue holds the pumping thread,
//! and so the process writing into the pipe, until that client reads, as dockerd's attach
//! does. A subscriber that goes away is dropped at once, so it never holds the process.
//! Once the process has exited, what is left in its pipes is queued with a far larger bound,
//! so a slow client never delays the exit being recorded.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use berth_api::stream::StreamKind;
use bytes::Bytes;
use tokio::sync::Notify;

/// Queued bytes per subscriber above which the process is held back.
const RUNNING_LIMIT: usize = 256 * 1024;

/// The bound once the process has exited: room for what its pipes still hold.
const EXITED_LIMIT: usize = 16 * 1024 * 1024;

/// What a queued chunk costs beyond its bytes, so many tiny lines are bounded too.
const CHUNK_OVERHEAD: usize = 64;

/// A piece of output: a line from a pipe, or what a terminal gave in one read.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub kind: StreamKind,
    pub bytes: Bytes,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The subscribers of one process's output.
#[derive(Default)]
pub struct Fanout {
    state: Mutex<FanoutState>,
}

#[derive(Default)]
struct FanoutState {
    subscribers: Vec<Arc<Queue>>,
    /// The process has exited: new queues take the larger bound too.
    exited: bool,
}

/// One subscriber's queue.
struct Queue {
    stdout: bool,
    stderr: bool,
    state: Mutex<QueueState>,
    /// Signalled when the reader takes chunks or goes away, or the bound grows.
    room: Condvar,
    /// Signalled when a chunk is queued or the output ends.
    ready: Notify,
}

struct QueueState {
    chunks: VecDeque<Chunk>,
    /// Queued bytes, with [`CHUNK_OVERHEAD`] per chunk.
    cost: usize,
    limit: usize,
    /// Every chunk has been queued: the reader ends after taking them.
    ended: bool,
    /// The reader dropped its [`Subscription`].
    reader_gone: bool,
}

impl Queue {
    fn wants(&self, kind: StreamKind) -> bool {
        match kind {
            StreamKind::Stderr => self.stderr,
            _ => self.stdout,
        }
    }

    /// Queues `chunk`, waiting while the queue is full. Returns `false` when the reader is
    /// gone.
    fn push(&self, chunk: &Chunk) -> bool {
        let mut state = lock(&self.state);
        while !state.reader_gone && state.cost >= state.limit {
            state = match self.room.wait(state) {
                Ok(state) => state,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
        if state.reader_gone {
            return false;
        }
        state.cost += chunk.bytes.len() + CHUNK_OVERHEAD;
        state.chunks.push_back(chunk.clone());
        drop(state);
        self.ready.notify_one();
        true
    }

    fn raise_limit(&self) {
        lock(&self.state).limit = EXITED_LIMIT;
        self.room.notify_all();
    }

    fn end(&self) {
        lock(&self.state).ended = true;
        self.ready.notify_one();
    }
}

impl Fanout {
    /// A new subscription to the output to come, on the streams wanted, until the process
    /// (or, when it has not started yet, its next run) ends.
    pub fn subscribe(&self, stdout: bool, stderr: bool) -> Subscription {
        let mut state = lock(&self.state);
        let queue = Arc::new(Queue {
            stdout,
            stderr,
            state: Mutex::new(QueueState {
                chunks: VecDeque::new(),
                cost: 0,
                limit: if state.exited {
                    EXITED_LIMIT
                } else {
                    RUNNING_LIMIT
                },
                ended: false,
                reader_gone: false,
            }),
            room: Condvar::new(),
            ready: Notify::new(),
        });
        state.subscribers.push(Arc::clone(&queue));
        Subscription { queue }
    }

    /// Hands `chunk` to every subscriber that wants its stream, waiting for room in each
    /// (blocking: call it from the pump's thread). Subscribers that went away are dropped.
    pub fn send(&self, chunk: Chunk) {
        let subscribers = lock(&self.state).subscribers.clone();
        let mut gone = Vec::new();
        for queue in subscribers.iter().filter(|queue| queue.wants(chunk.kind)) {
            if !queue.push(&chunk) {
                gone.push(Arc::as_ptr(queue));
            }
        }
        if !gone.is_empty() {
            lock(&self.state)
                .subscribers
                .retain(|queue| !gone.contains(&Arc::as_ptr(queue)));
        }
    }

    /// The process has exited: what its pipes still hold is queued without waiting for
    /// slow readers (up to a far larger bound), so its exit is recorded promptly.
    pub fn exited(&self) {
        let mut state = lock(&self.state);
        state.exited = true;
        for queue in &state.subscribers {
            queue.raise_limit();
        }
    }

    /// Every chunk has been sent: current subscribers end once they have read them all.
    /// Later subscribers get the next run's output.
    pub fn end(&self) {
        let mut state = lock(&self.state);
        state.exited = false;
        for queue in state.subscribers.drain(..) {
            queue.end();
        }
    }
}

/// A client's view of a process's output.
pub struct Subscription {
    queue: Arc<Queue>,
}

impl Subscription {
    /// Moves every queued chunk into `into`, waiting for at least one. Returns `false`
    /// (with nothing moved) once the output has ended and everything was taken.
    pub async fn next_chunks(&mut self, into: &mut Vec<Chunk>) -> bool {
        loop {
            {
                let mut state = lock(&self.queue.state);
                if !state.chunks.is_empty() {
                    into.extend(state.chunks.drain(..));
                    state.cost = 0;
                    drop(state);
                    self.queue.room.notify_all();
                    return true;
                }
                if state.ended {
                    return false;
                }
            }
            // A chunk queued since the check left a permit, so this cannot miss it.
            self.queue.ready.notified().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = lock(&self.queue.state);
        state.reader_gone = true;
        state.chunks.clear();
        drop(state);
        self.queue.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &'static str) -> Chunk {
        Chunk {
            kind: StreamKind::Stdout,
            bytes: Bytes::from_static(text.as_bytes()),
        }
    }

    #[tokio::test]
    async fn a_full_queue_holds_the_sender_until_the_reader_reads() {
        let fanout = Arc::new(Fanout::default());
        let mut subscription = fanout.subscribe(true, true);
        let sender = {
            let fanout = Arc::clone(&fanout);
            std::thread::spawn(move || {
                for _ in 0..100_000 {
                    fanout.send(chunk("line\n"));
                }
                fanout.end();
            })
        };
        let mut received = 0;
        let mut chunks = Vec::new();
        while subscription.next_chunks(&mut chunks).await {
            received += chunks.len();
            chunks.clear();
            tokio::task::yield_now().await;
        }
        sender.join().unwrap();
        assert_eq!(received, 100_000);
    }

    #[tokio::test]
    async fn a_reader_that_goes_away_never_holds_the_sender() {
        let fanout = Arc::new(Fanout::default());
        let subscription = fanout.subscribe(true, true);
        let sender = {
            let fanout = Arc::clone(&fanout);
            std::thread::spawn(move || {
                for _ in 0..100_000 {
                    fanout.send(chunk("line\n"));
                }
            })
        };
        drop(subscription);
        sender.join().unwrap();
        assert!(lock(&fanout.state).subscribers.is_empty());
    }

    #[tokio::test]
    async fn unwanted_streams_are_not_queued() {
        let fanout = Fanout::default();
        let mut subscription = fanout.subscribe(false, true);
        fanout.send(chunk("out\n"));
        fanout.send(Chunk {
            kind: StreamKind::Stderr,
            bytes: Bytes::from_static(b"err\n"),
        });
        fanout.end();
        let mut chunks = Vec::new();
        assert!(subscription.next_chunks(&mut chunks).await);
        assert_eq!(chunks.len(), 1);
        assert_eq!(&chunks[0].bytes[..], b"err\n");
        chunks.clear();
        assert!(!subscription.next_chunks(&mut chunks).await);
    }
}
