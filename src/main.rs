//! The `faultline` binary: a thin front over `faultline::cli`.

/// mimalloc, configured first thing in `main`: why, in `faultline::allocator`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    faultline::allocator::configure();
    let code = faultline::cli::main_with_args(std::env::args().collect());
    std::process::exit(code);
}
