use faultline::checker::elle::ElleChecker;
use faultline::checker::{Budget, Checker};
use faultline::history::History;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let h = History::read_file(std::path::Path::new(&args[1]), None).unwrap();
    let c = ElleChecker::new(
        args.get(2)
            .map(|s| s.as_str())
            .unwrap_or("strict-serializable"),
        None,
    )
    .unwrap();
    let r = c.check(&h, &Budget::default());
    println!("{}\n{}\n{}", r.verdict, r.summary, r.explanation);
}
