//! The benchmarks' global allocator: mimalloc, the allocator the `kubetwin` binary ships with,
//! so that in-process figures are those of the server a user runs, behind a byte counter for
//! the memory figures. The counter is off unless a benchmark turns it on (one relaxed load per
//! allocation otherwise), and can be limited to threads that marked themselves, such as a
//! server runtime's workers.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// Which threads' allocations [`start_counting`] counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    All,
    /// Only threads that called [`mark_current_thread`].
    Marked,
}

struct CountingHeap;

thread_local! {
    static MARKED: Cell<bool> = const { Cell::new(false) };
}
static COUNTING: AtomicBool = AtomicBool::new(false);
static ONLY_MARKED: AtomicBool = AtomicBool::new(false);
static COUNTED: AtomicIsize = AtomicIsize::new(0);

/// Marks the calling thread for [`Threads::Marked`] counting (a runtime's `on_thread_start`).
pub fn mark_current_thread() {
    MARKED.with(|marked| marked.set(true));
}

/// Starts counting the bytes allocated net of frees.
pub fn start_counting(threads: Threads) {
    ONLY_MARKED.store(threads == Threads::Marked, Ordering::SeqCst);
    COUNTED.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
}

/// Stops counting and returns the bytes allocated, net of frees, since [`start_counting`].
pub fn stop_counting() -> isize {
    COUNTING.store(false, Ordering::SeqCst);
    COUNTED.load(Ordering::SeqCst)
}

fn count(bytes: isize) {
    if COUNTING.load(Ordering::Relaxed)
        && (!ONLY_MARKED.load(Ordering::Relaxed) || MARKED.try_with(Cell::get).unwrap_or(false))
    {
        COUNTED.fetch_add(bytes, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for CountingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded unchanged to mimalloc.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded unchanged to mimalloc.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: forwarded unchanged to mimalloc.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded unchanged to mimalloc.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static HEAP: CountingHeap = CountingHeap;
