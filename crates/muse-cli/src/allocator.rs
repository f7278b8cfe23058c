//! The process allocator: mimalloc, and the one place its behaviour is tuned.

use libmimalloc_sys::{mi_option_set, mi_option_t};

/// mimalloc: a scan of a large tree makes hundreds of thousands of small allocations, and they
/// cost about half as much as with the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the vendored mimalloc 3 (`mimalloc.h`, `enum mi_option_e`); the
/// `-sys` crate exports no constant for it. A test checks the index against its default value.
const PURGE_DELAY: mi_option_t = 15;

/// Trades a little speed for a smaller peak, for the rest of the process:
/// - no transparent huge pages: mimalloc reserves its arenas (1 GiB) before `main` and asks the
///   kernel for huge pages there, and with them a touched 4 KiB page can make 2 MiB resident.
///   The kernel checks the process's flag at each page fault, so it applies to the arenas
///   already reserved (which mimalloc's own `MIMALLOC_ALLOW_THP` cannot do once running);
/// - freed memory goes back to the system at once instead of after a second (the vendored
///   mimalloc 3's delay; mimalloc reads the option each time it purges).
///
/// `muse gc` on psf/requests: peak 133 → 80 MB, in the same time (bench/gc-results.md).
/// Best effort: a kernel without the flag leaves things as they were.
pub fn prefer_small_footprint() {
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    // SAFETY: a plain store into mimalloc's option table, made before the command starts any
    // thread, as mimalloc asks of `mi_option_set` ("not thread safe").
    unsafe { mi_option_set(PURGE_DELAY, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::mi_option_get;

    #[test]
    fn the_option_index_names_the_purge_delay() {
        // The vendored mimalloc 3 sets `purge_delay` to 1000 (ms) in options.c; if an upgrade
        // renumbered the options, this index would read another option's value.
        // SAFETY: a read of the option table.
        assert_eq!(unsafe { mi_option_get(PURGE_DELAY) }, 1000, "mimalloc's option numbering changed");
    }
}
