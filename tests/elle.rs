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
        // A nonadjacent cycle has two rw edges: it is a G2-item cycle too.
        LongFork => vec!["G-nonadjacent", "G2-item"],
        FutureRead => vec!["future-read"],
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

/// (file, anomaly types the checker must report exactly).
const FIXTURES: &[(&str, &[&str])] = &[
    ("elle-la-valid.jsonl", &[]),
    ("elle-la-completions-only.edn", &[]),
    ("elle-la-g0.edn", &["G0"]),
    ("elle-la-g1a.jsonl", &["G1a"]),
    ("elle-la-g1b.jsonl", &["G1b"]),
    ("elle-la-g1c.edn", &["G1c"]),
    ("elle-la-g-single.jsonl", &["G-single"]),
    ("elle-la-g2-item.edn", &["G2-item"]),
    ("elle-la-long-fork.edn", &["G-nonadjacent", "G2-item"]),
    ("elle-la-lost-update.jsonl", &["G-single", "lost-update"]),
    ("elle-la-g1c-process.jsonl", &["G1c-process"]),
    ("elle-la-future-read.jsonl", &["future-read"]),
    ("elle-la-g-single-realtime.jsonl", &["G-single-realtime"]),
    ("elle-la-g-single-process.jsonl", &["G-single-process"]),
    ("elle-la-g2-item-realtime.jsonl", &["G2-item-realtime"]),
    ("elle-la-g0-realtime.jsonl", &["G0-realtime"]),
    ("elle-la-internal.jsonl", &["internal"]),
    ("elle-la-duplicate.jsonl", &["duplicate-elements"]),
    ("elle-la-incompatible-order.jsonl", &["incompatible-order"]),
    ("elle-rr-valid.jsonl", &[]),
    ("elle-rr-g2-item.jsonl", &["G2-item"]),
    ("elle-rr-g1.jsonl", &["G1a", "G1b"]),
];

fn load(file: &str) -> History {
    History::read_file(&Path::new("histories").join(file), None)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn fixtures_report_exactly_their_anomalies() {
    for (file, want) in FIXTURES {
        let got = sorted(types(&load(file)));
        let want: Vec<String> = sorted(want.iter().map(|s| s.to_string()).collect());
        assert_eq!(got, want, "{file}");
    }
}

/// Every elle row of histories/README.md: the checker, asked for the row's
/// consistency model, gives the row's verdict; every fixture has a row.
#[test]
fn readme_rows_match_the_checker() {
    let text = std::fs::read_to_string("histories/README.md").unwrap();
    let mut seen = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("| elle-")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let (file, args, verdict) = (cells[0], cells[1].trim_matches('`'), cells[2]);
        let words: Vec<&str> = args.split_whitespace().collect();
        let model = words
            .iter()
            .position(|w| *w == "--consistency-model")
            .and_then(|i| words.get(i + 1))
            .unwrap_or_else(|| panic!("{file}: no --consistency-model in {args}"));
        let checker = ElleChecker::new(model, None).unwrap();
        let r = checker.check(&load(file), &Budget::default());
        assert_eq!(
            r.verdict.as_str(),
            verdict,
            "{file} under {model}: {}\n{}",
            r.summary,
            r.explanation
        );
        seen.push(file.to_string());
    }
    for (file, _) in FIXTURES {
        assert!(
            seen.iter().any(|s| s == file),
            "{file} has no row in histories/README.md"
        );
    }
}

#[test]
fn cycle_explanations_name_each_edge() {
    let r = ElleChecker::new("serializable", Some(ElleKind::ListAppend))
        .unwrap()
        .check(&load("elle-la-g-single.jsonl"), &Budget::default());
    assert_eq!(r.verdict, Verdict::Invalid);
    let inst = &r.details["anomalies"]["G-single"][0];
    let edges = inst["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2, "{inst}");
    let kinds: Vec<&str> = edges.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"rw") && kinds.contains(&"wr"), "{kinds:?}");
    assert!(
        r.explanation
            .contains("T5 read key x as [1], missing T4's append of 2, so T5 rw→ T4."),
        "{}",
        r.explanation
    );
    assert!(r.explanation.contains("so T4 wr→ T5."), "{}", r.explanation);
    assert_eq!(inst["txns"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_model_names_list_the_valid_ones() {
    let e = ElleChecker::new("snapshot", None).unwrap_err();
    assert!(
        e.contains("snapshot-isolation") && e.contains("strict-serializable"),
        "{e}"
    );
    let c = ElleChecker {
        consistency_model: "nope".into(),
        kind: None,
    };
    let r = c.check(&load("elle-la-valid.jsonl"), &Budget::default());
    assert_eq!(r.verdict, Verdict::Unknown);
}

#[test]
fn anomaly_names_round_trip() {
    for a in Anomaly::ALL {
        assert_eq!(Anomaly::parse(a.as_str()), Some(a));
    }
}

mod register {
    use super::*;
    use faultline::checker::elle::gen::{rw_register, RegisterInjection};

    fn expected(inj: RegisterInjection) -> Vec<String> {
        use RegisterInjection::*;
        let v: Vec<&str> = match inj {
            G2Item => vec!["G2-item"],
            GSingle => vec!["G-single"],
            G1c => vec!["G1c"],
            G1a => vec!["G1a"],
            G1b => vec!["G1b"],
            // Each read x's first version and the other wrote its successor.
            LostUpdate => vec!["G2-item", "lost-update"],
        };
        sorted(v.into_iter().map(String::from).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

        #[test]
        fn serial_register_executions_are_valid(seed in any::<u64>(), keys in 1usize..12) {
            let opts = GenOptions { txns: 400, processes: 4, keys, seed, ..GenOptions::default() };
            let h = rw_register(&opts, &[]);
            let a = analyze(&h, Some(ElleKind::RwRegister), &Budget::default()).unwrap();
            prop_assert!(a.anomaly_types.is_empty(), "{:?}", a.anomaly_types);
        }

        #[test]
        fn injected_register_anomaly_is_reported_exactly(seed in any::<u64>(), which in 0usize..RegisterInjection::ALL.len(), at in 0usize..200) {
            let inj = RegisterInjection::ALL[which];
            let opts = GenOptions { txns: 200, processes: 4, keys: 6, seed, ..GenOptions::default() };
            let h = rw_register(&opts, &[(at, inj)]);
            prop_assert_eq!(sorted(types(&h)), expected(inj));
        }
    }
}

#[test]
fn cancelled_budget_cannot_confirm_a_cyclic_history() {
    // A history whose only cycle needs real time: with the search cancelled
    // the checker must not claim strict serializability.
    let h = load("elle-la-g-single-realtime.jsonl");
    let budget = Budget::default();
    budget.cancel();
    let r = ElleChecker::default().check(&h, &budget);
    assert_eq!(r.verdict, Verdict::Unknown, "{}", r.summary);
    // An acyclic history needs no search and stays decidable.
    let r = ElleChecker::default().check(&load("elle-la-valid.jsonl"), &budget);
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.summary);
    // Anomalies found without the search still rule models out.
    let r = ElleChecker::default().check(&load("elle-la-g1a.jsonl"), &budget);
    assert_eq!(r.verdict, Verdict::Invalid, "{}", r.summary);
}

#[test]
fn non_transactional_histories_are_unknown_not_valid() {
    let h = load("register-valid.jsonl");
    let r = ElleChecker::default().check(&h, &Budget::default());
    assert_eq!(r.verdict, Verdict::Unknown, "{}", r.summary);
    assert!(
        r.explanation.contains("no `txn` operations"),
        "{}",
        r.explanation
    );
    let empty = History::new(Vec::new());
    assert_eq!(
        ElleChecker::default()
            .check(&empty, &Budget::default())
            .verdict,
        Verdict::Valid
    );
}

#[test]
fn repeated_values_make_a_clean_verdict_unknown() {
    let text = concat!(
        "{\"process\":0,\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]]}\n",
        "{\"process\":1,\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]]}\n",
        "{\"process\":2,\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"r\",\"x\",[1,1]]]}\n",
    );
    let h = History::parse_str(text, "dup.jsonl", None).unwrap();
    let r = ElleChecker::new("serializable", None)
        .unwrap()
        .check(&h, &Budget::default());
    // The duplicate element still rules out read uncommitted and above.
    assert_eq!(r.verdict, Verdict::Invalid, "{}", r.summary);
    assert!(
        r.explanation.contains("written more than once"),
        "{}",
        r.explanation
    );
    let text = concat!(
        "{\"process\":0,\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"w\",\"x\",1]]}\n",
        "{\"process\":1,\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"w\",\"x\",1]]}\n",
        "{\"process\":2,\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"r\",\"x\",1]]}\n",
    );
    let h = History::parse_str(text, "dup.jsonl", None).unwrap();
    let r = ElleChecker::default().check(&h, &Budget::default());
    assert_eq!(r.verdict, Verdict::Unknown, "{}", r.summary);
}
