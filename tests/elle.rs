//! Elle-style transactional checker: fixtures in histories/ and property
//! tests over generated serial executions with injected anomalies.

use faultline::checker::elle::gen::{list_append, GenOptions, Injection};
use faultline::checker::elle::{analyze, Anomaly, ElleChecker, ElleKind};
use faultline::checker::{Budget, Checker, Verdict};
use faultline::history::History;
use proptest::prelude::*;
use std::path::Path;

fn types(h: &History) -> Vec<String> {
    let a = analyze(h, None, &Budget::default()).unwrap();
    a.anomaly_types
        .iter()
        .map(|t| t.as_str().to_string())
        .collect()
}

/// What an injection must report: the type itself plus what it
/// necessarily brings along (documented in histories/README.md).
fn expected(inj: Injection) -> Vec<&'static str> {
    use Injection::*;
    let mut v = match inj {
        G0 => vec!["G0"],
        G1a => vec!["G1a"],
        G1b => vec!["G1b"],
        G1c => vec!["G1c"],
        GSingle => vec!["G-single"],
        G2Item => vec!["G2-item"],
        // Both read x at one version and append: the second's read misses
        // the first's append (rw) while its append follows it (ww).
        LostUpdate => vec!["G-single", "lost-update"],
        GSingleRealtime => vec!["G-single-realtime"],
        GSingleProcess => vec!["G-single-process"],
        G0Realtime => vec!["G0-realtime"],
        G1cRealtime => vec!["G1c-realtime"],
        Internal => vec!["internal"],
        DuplicateElements => vec!["duplicate-elements"],
        IncompatibleOrder => vec!["incompatible-order"],
    };
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn generated_serial_histories_are_valid() {
    for concurrent in [false, true] {
        let opts = GenOptions {
            txns: 2000,
            processes: 6,
            keys: 15,
            concurrent,
            seed: 7,
            ..GenOptions::default()
        };
        let h = list_append(&opts, &[]);
        assert_eq!(types(&h), Vec::<String>::new(), "concurrent={concurrent}");
        let r = ElleChecker::default().check(&h, &Budget::default());
        assert_eq!(r.verdict, Verdict::Valid, "{}", r.explanation);
    }
}

#[test]
fn each_injection_reports_exactly_its_type() {
    for inj in Injection::ALL {
        for concurrent in [false, true] {
            let opts = GenOptions {
                txns: 300,
                processes: 4,
                keys: 8,
                concurrent,
                seed: 3,
                ..GenOptions::default()
            };
            let h = list_append(&opts, &[(150, inj)]);
            let got = sorted(types(&h));
            let want: Vec<String> = expected(inj).into_iter().map(String::from).collect();
            assert_eq!(got, want, "{inj:?} concurrent={concurrent}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn random_serial_executions_are_valid(seed in any::<u64>(), procs in 1usize..8, keys in 1usize..20, concurrent in any::<bool>()) {
        let opts = GenOptions { txns: 400, processes: procs, keys, concurrent, seed, ..GenOptions::default() };
        let h = list_append(&opts, &[]);
        prop_assert_eq!(types(&h), Vec::<String>::new());
    }

    #[test]
    fn injected_anomaly_is_reported_exactly(seed in any::<u64>(), which in 0usize..Injection::ALL.len(), at in 0usize..300, concurrent in any::<bool>()) {
        let inj = Injection::ALL[which];
        let opts = GenOptions { txns: 300, processes: 5, keys: 10, concurrent, seed, ..GenOptions::default() };
        let h = list_append(&opts, &[(at, inj)]);
        let got = sorted(types(&h));
        let want: Vec<String> = expected(inj).into_iter().map(String::from).collect();
        prop_assert_eq!(got, want);
    }
}
