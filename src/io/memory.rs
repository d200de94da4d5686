//! Handing freed memory back to the system. Allocators keep what a program freed for its
//! next allocations; after a one-off burst (indexing a large capture on a loader thread
//! that has ended) that is memory the process holds for nothing.
//!
//! The binary's allocator is mimalloc (src/main.rs). These calls reach it through its C
//! library, linked into every target by the `mimalloc` dependency, and are harmless where
//! another allocator is the global one (mimalloc's heaps are then empty).

/// Returns the memory freed so far to the system, whichever allocator holds it.
pub fn release_free_memory() {
    // SAFETY: mi_collect only releases memory mimalloc holds free; no pointer is involved.
    unsafe { libmimalloc_sys::mi_collect(true) };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// From now on, pages mimalloc frees go back to the system at once instead of a second
/// later.
/// For a process whose memory must stay low at its peak (the capture browser while it
/// indexes: the loader frees a message's parse as the next one is read); it costs a few
/// more system calls.
pub fn return_freed_pages_at_once() {
    // SAFETY: sets one of mimalloc's documented options; no pointer is involved.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// `mi_option_purge_delay` in mimalloc.h (v3, what libmimalloc-sys builds), which
/// libmimalloc-sys does not name: the option between `eager_commit_delay` (14) and
/// `use_numa_nodes` (16). A test checks its default, 1000 ms.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads an option.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(default, 1000, "mimalloc v3's default purge delay");
        }
        return_freed_pages_at_once();
        // SAFETY: reads an option.
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
            0
        );
        release_free_memory();
    }
}
