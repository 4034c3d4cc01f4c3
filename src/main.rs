//! The `faultline` binary: a thin front over `faultline::cli`.

fn main() {
    let code = faultline::cli::main_with_args(std::env::args().collect());
    std::process::exit(code);
}
