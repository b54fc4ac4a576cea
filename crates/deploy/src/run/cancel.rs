//! The run's interrupt flag, and the child processes an interrupt is forwarded to (each runs in
//! its own process group, so a terminal's Ctrl-C reaches them only through here).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The run's interrupt flag and the processes to forward an interrupt to.
#[derive(Debug, Default)]
pub struct Cancel {
    flag: AtomicBool,
    children: Mutex<BTreeSet<u32>>,
}

impl Cancel {
    pub fn new() -> Arc<Cancel> {
        Arc::new(Cancel::default())
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Starts no new step from now on and sends SIGINT to every running child process (they run
    /// in their own process groups, so a terminal's Ctrl-C reaches them only through here:
    /// Terraform takes a second interrupt as "abort now", which must not happen by accident).
    pub fn interrupt(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        for pid in children.iter() {
            interrupt(*pid);
        }
    }

    pub(crate) fn register(&self, pid: u32) {
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pid);
        // An interrupt that raced with the spawn still reaches the new child.
        if self.is_cancelled() {
            interrupt(pid);
        }
    }

    pub(crate) fn unregister(&self, pid: u32) {
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&pid);
    }

    /// Sleeps up to `d`, returning early (with `true`) when interrupted.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.is_cancelled() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
        }
        self.is_cancelled()
    }
}

/// Sends SIGINT to a child's process group (it leads its own group).
pub fn interrupt(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::INT);
    }
}
