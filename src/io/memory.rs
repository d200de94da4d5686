//! Handing freed memory back to the system. Allocators keep what a program freed for its
//! next allocations; after a one-off burst (indexing a large capture on a loader thread
//! that has ended) that is memory the process holds for nothing.

// The binary's allocator (src/main.rs); linked into every target through the `mimalloc`
// dependency, and harmless where another allocator is the global one (its heaps are empty).
extern crate mimalloc;

extern "C" {
    /// mimalloc: frees what it can now; `force` also takes back the pages of threads that
    /// have ended and returns free memory to the system at once.
    fn mi_collect(force: bool);
}

/// Returns the memory freed so far to the system, whichever allocator holds it.
pub fn release_free_memory() {
    // SAFETY: mi_collect only releases memory mimalloc holds free; no pointer is involved.
    unsafe { mi_collect(true) };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
