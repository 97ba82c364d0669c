//! Early writeback of the store's files. With `synchronous = NORMAL` SQLite syncs only at a
//! checkpoint: the WAL before it copies the WAL into the database, the database after. Left
//! alone, the operating system keeps what was written since the last checkpoint in its
//! cache, and the checkpoint's two syncs write all of it while the pipeline waits (75 ms per
//! checkpoint of 64 MB, a seventh of the wall clock of a 100,000-transaction run on this
//! machine).
//!
//! So a thread of the store's own syncs both files after the group commits, at most once per
//! [`INTERVAL`]: the disk takes the writes while the pipeline goes on, and the checkpoint's
//! syncs find little left to write. What reaches the disk, and when SQLite says it has, is
//! unchanged: a sync more is never a promise less. An idle store wakes nobody.
//!
//! Linux only: elsewhere (macOS's `F_FULLFSYNC`) a sync also flushes the drive's own cache,
//! far too dear to make a hundred times a second; SQLite's syncs do it all there, as before.
//!
//! The thread opens each file once and keeps it open until the connection is closed: closing
//! a descriptor of the database file would release the locks SQLite holds on it (POSIX locks
//! belong to the process and the file, not to a descriptor). [`Writeback`] is dropped after
//! the connection for that reason.

use std::path::Path;
use std::sync::mpsc::{self, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

/// Between two syncs, at most: about 2 MB of WAL at a 100,000-transaction run's pace.
/// Measured there (2026-12-07): every 10 ms, the pipeline waited 1.9 s on SQLite's syncs
/// instead of 5.1 s; every 50 ms gave about half the throughput that 10 ms gave.
const INTERVAL: Duration = Duration::from_millis(10);

/// The thread, stopped and joined when dropped (its files closed then).
pub(super) struct Writeback {
    commits: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Writeback {
    /// Syncs `database` and its WAL (`<database>-wal`) after commits, until dropped. A file
    /// is opened once it exists (the WAL appears at the first write).
    pub(super) fn start(database: &Path) -> Writeback {
        if !cfg!(target_os = "linux") {
            return Writeback {
                commits: None,
                thread: None,
            };
        }
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        let paths = [database.to_path_buf(), wal.into()];
        // One pending signal is enough: a sync covers every commit before it.
        let (commits, committed) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("store-writeback".into())
            .spawn(move || {
                let mut files: [Option<std::fs::File>; 2] = [None, None];
                // Ends when the store drops its sender.
                while committed.recv().is_ok() {
                    for (path, file) in paths.iter().zip(files.iter_mut()) {
                        if file.is_none() {
                            *file = std::fs::File::open(path).ok();
                        }
                        if let Some(file) = file {
                            // A sync that fails costs nothing: SQLite's own comes later.
                            let _ = file.sync_data();
                        }
                    }
                    std::thread::sleep(INTERVAL);
                }
            })
            .ok();
        Writeback {
            commits: thread.is_some().then_some(commits),
            thread,
        }
    }

    /// Tells the thread a group has committed; never waits.
    pub(super) fn committed(&self) {
        if let Some(commits) = &self.commits {
            // Full: a sync is already due, and covers this commit too.
            let _ = commits.try_send(());
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        self.commits.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
