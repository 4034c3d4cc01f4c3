//! The `faultline` binary: a thin front over `faultline::cli`.

/// mimalloc: per-thread heaps, so readers on both cores do not queue on
/// the kernel's memory map lock as glibc's arenas do.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = faultline::cli::main_with_args(std::env::args().collect());
    std::process::exit(code);
}
