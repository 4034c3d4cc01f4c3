#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use faultline::history::History;
fn cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}
fn main() {
    faultline::allocator::configure();
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut best = f64::MAX;
    for _ in 0..7 {
        let c = cpu();
        let t = std::time::Instant::now();
        let h = History::parse_str(&text, "x", None).unwrap();
        let d = t.elapsed();
        let c = cpu() - c;
        best = best.min(c);
        eprintln!(
            "{} events wall {:?} cpu {:.3}s {:.0} MB/s-cpu",
            h.ops().len(),
            d,
            c,
            text.len() as f64 / c / 1e6
        );
        drop(h);
    }
    eprintln!("best cpu {:.0} MB/s", text.len() as f64 / best / 1e6);
}
