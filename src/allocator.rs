//! The memory allocator's settings.
//!
//! The `faultline` binary allocates with mimalloc: reading a history on both
//! cores makes millions of small allocations from two threads at once, and
//! glibc's allocator made the whole check of a million register operations
//! about 40% slower (1.2 s against 0.8 s, docs/performance.md).
//!
//! Two settings keep its memory to what the history and the checkers use
//! (measured on that check: 303 MB peak with the defaults, 270 MB with
//! both): it is built without transparent huge pages (the `no_thp` feature:
//! a 2 MB page is resident as soon as one byte of it is touched), and
//! [`configure`] makes it return freed memory to the system at once
//! instead of a second later.

/// mimalloc's option number of `purge_delay` (mimalloc.h, `mi_option_e`;
/// the same in its versions 2 and 3).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets mimalloc's options; call first thing in `main`. Harmless when
/// mimalloc is not the global allocator (its options then go unused).
pub fn configure() {
    // SAFETY: plain setters of mimalloc's option table, called before any
    // other thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}
