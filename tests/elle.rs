//! Elle-style transactional checker: fixtures in histories/ and property
//! tests over generated serial executions with injected anomalies.

use faultline::checker::elle::gen::{list_append, GenOptions, Injection};
use faultline::checker::elle::infer::RegisterOrders;
use faultline::checker::elle::{
    analyze_with, Anomaly, ConsistencyModel, ElleChecker, ElleFlags, ElleKind, ElleOptions,
};
use faultline::checker::{Budget, Checker, Verdict};
use faultline::history::History;
use proptest::prelude::*;
use std::path::Path;

/// Every anomaly type found under Elle's default options
/// (strict-serializable: real-time edges).
fn types(h: &History) -> Vec<String> {
    types_with(h, &ElleOptions::default())
}

fn types_with(h: &History, opts: &ElleOptions) -> Vec<String> {
    let a = analyze_with(h, opts, &Budget::default()).unwrap();
    a.anomaly_types
        .iter()
        .map(|t| t.as_str().to_string())
        .collect()
}

/// The options an injection is checked with: process anomalies need a
/// session model (Elle then uses process edges instead of real time).
fn options_for(inj: Injection) -> ElleOptions {
    if inj == Injection::GSingleProcess {
        ElleOptions {
            models: vec![ConsistencyModel::StrongSessionSnapshotIsolation],
            ..ElleOptions::default()
        }
    } else {
        ElleOptions::default()
    }
}

/// What an injection must report: the type itself plus what it
/// necessarily brings along (documented in histories/README.md).
fn expected(inj: Injection) -> Vec<&'static str> {
    use Injection::*;
    let mut v = match inj {
        G0 => vec!["G0"],
        G1a => vec!["G1a"],
        // The reader misses the writer's second append (rw) and reads its
        // first (wr): Elle reports that G-single-item too.
        G1b => vec!["G1b", "G-single-item"],
        G1c => vec!["G1c"],
        GSingle => vec!["G-single-item"],
        G2Item => vec!["G2-item"],
        // Both read x at one version and append: the second's read misses
        // the first's append (rw) while its append follows it (ww).
        LostUpdate => vec!["G-single-item", "lost-update"],
        GSingleRealtime => vec!["G-single-item-realtime"],
        GSingleProcess => vec!["G-single-item-process"],
        G0Realtime => vec!["G0-realtime"],
        G1cRealtime => vec!["G1c-realtime"],
        Internal => vec!["internal"],
        DuplicateElements => vec!["duplicate-elements"],
        // The longest read is taken as the order (Elle's rule), so the
        // other append comes after it, and its reader misses it.
        IncompatibleOrder => vec!["G-single-item-realtime", "incompatible-order"],
        // A nonadjacent cycle is a G2-item cycle too; Elle names only the
        // stronger type in a component.
        LongFork => vec!["G-nonadjacent-item"],
        FutureRead => vec!["future-read"],
        UnreadWriteSkew => vec!["G2-item"],
        // The read that shows the failed append is an aborted read too.
        DirtyUpdate => vec!["G1a", "dirty-update"],
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
            let got = sorted(types_with(&h, &options_for(inj)));
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
        let got = sorted(types_with(&h, &options_for(inj)));
        let want: Vec<String> = expected(inj).into_iter().map(String::from).collect();
        prop_assert_eq!(got, want);
    }
}

/// (file, anomaly types found under Elle's default options, exactly).
const FIXTURES: &[(&str, &[&str])] = &[
    ("elle-la-valid.jsonl", &[]),
    ("elle-la-completions-only.edn", &[]),
    ("elle-la-g0.edn", &["G0"]),
    ("elle-la-g1a.jsonl", &["G1a"]),
    ("elle-la-g1b.jsonl", &["G1b", "G-single-item"]),
    ("elle-la-g1c.edn", &["G1c"]),
    ("elle-la-g-single.jsonl", &["G-single-item"]),
    ("elle-la-g2-item.edn", &["G2-item"]),
    ("elle-la-long-fork.edn", &["G-nonadjacent-item"]),
    (
        "elle-la-lost-update.jsonl",
        &["G-single-item", "lost-update"],
    ),
    ("elle-la-g1c-process.jsonl", &["G1c-realtime"]),
    ("elle-la-future-read.jsonl", &["future-read"]),
    (
        "elle-la-g-single-realtime.jsonl",
        &["G-single-item-realtime"],
    ),
    (
        "elle-la-g-single-process.jsonl",
        &["G-single-item-realtime"],
    ),
    ("elle-la-g2-item-realtime.jsonl", &["G2-item-realtime"]),
    ("elle-la-g0-realtime.jsonl", &["G0-realtime"]),
    ("elle-la-internal.jsonl", &["internal"]),
    ("elle-la-duplicate.jsonl", &["duplicate-elements"]),
    (
        "elle-la-incompatible-order.jsonl",
        &["G-single-item-realtime", "incompatible-order"],
    ),
    ("elle-la-write-skew-unread.edn", &["G2-item"]),
    ("elle-la-read-skew-unread.jsonl", &["G-single-item"]),
    ("elle-la-unread-after-longest.edn", &["G-single-item"]),
    ("elle-la-dirty-update.edn", &["G1a", "dirty-update"]),
    ("elle-la-empty-graph.edn", &["empty-transaction-graph"]),
    ("elle-la-all-info.jsonl", &["empty-transaction-graph"]),
    ("elle-la-nil-reads.edn", &["G2-item"]),
    (
        "elle-la-g-nonadjacent-process.jsonl",
        &["G-nonadjacent-item-realtime"],
    ),
    (
        "elle-la-si-g2-item.edn",
        &["G-single-item-realtime", "G2-item"],
    ),
    ("elle-rr-valid.jsonl", &[]),
    ("elle-rr-g2-item.jsonl", &[]),
    ("elle-rr-g1.jsonl", &["G1a", "G1b"]),
    ("elle-rr-sequential-keys.jsonl", &[]),
    ("elle-rr-linearizable-keys.jsonl", &[]),
    ("elle-rr-cyclic-versions.jsonl", &[]),
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

/// The checker a README row's arguments ask for.
fn checker_for(args: &str) -> ElleChecker {
    let words: Vec<&str> = args.split_whitespace().collect();
    let value = |flag: &str| {
        words
            .iter()
            .position(|w| *w == flag)
            .and_then(|i| words.get(i + 1))
            .map(|s| s.to_string())
    };
    let flags = ElleFlags {
        anomalies: value("--anomalies"),
        wfr_keys: words.contains(&"--wfr-keys"),
        sequential_keys: words.contains(&"--sequential-keys"),
        linearizable_keys: words.contains(&"--linearizable-keys"),
    };
    ElleChecker::from_flags(value("--consistency-model").as_deref(), None, &flags)
        .unwrap_or_else(|e| panic!("{args}: {e}"))
}

/// Every elle row of histories/README.md: the checker, asked what the row
/// asks, gives the row's verdict; every fixture has a row.
#[test]
fn readme_rows_match_the_checker() {
    let text = std::fs::read_to_string("histories/README.md").unwrap();
    let mut seen = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("| elle-")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let (file, args, verdict) = (cells[0], cells[1].trim_matches('`'), cells[2]);
        let r = checker_for(args).check(&load(file), &Budget::default());
        assert_eq!(
            r.verdict.as_str(),
            verdict,
            "{file} with {args}: {}\n{}",
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

/// Elle's result for a history: verdict, reported anomaly types, `not`.
fn elle_result(h: &History, checker: &ElleChecker) -> (Verdict, Vec<String>, Vec<String>) {
    let r = checker.check(h, &Budget::default());
    let list = |k: &str| -> Vec<String> {
        let mut v: Vec<String> = r.details[k]
            .as_array()
            .unwrap_or_else(|| panic!("no {k} in {}", r.details))
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    (r.verdict, list("anomaly_types"), list("not"))
}

fn edn(text: &str) -> History {
    History::parse_str(text, "t.edn", None).unwrap()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Elle's reporting rules on its own small scenarios (written here as our
/// own histories): only prohibited anomalies are reported, `not` names the
/// weakest models ruled out, and a check with nothing prohibited is valid.
#[test]
fn reports_follow_elles_result_rules() {
    let anomalies = |a: &str| {
        ElleChecker::from_flags(
            None,
            None,
            &ElleFlags {
                anomalies: Some(a.into()),
                ..ElleFlags::default()
            },
        )
        .unwrap()
    };
    let model = |m: &str| ElleChecker::new(m, None).unwrap();
    // G1b plus the G-single-item it implies with its writer.
    let g1b = edn(concat!(
        "{:process 0, :type :invoke, :f :txn, :value [[:append :x 1] [:append :x 2]]}\n",
        "{:process 0, :type :ok, :f :txn, :value [[:append :x 1] [:append :x 2]]}\n",
        "{:process 0, :type :invoke, :f :txn, :value [[:r :x nil]]}\n",
        "{:process 0, :type :ok, :f :txn, :value [[:r :x [1]]]}\n",
    ));
    assert_eq!(
        elle_result(&g1b, &anomalies("G0")),
        (Verdict::Valid, vec![], vec![])
    );
    assert_eq!(
        elle_result(&g1b, &anomalies("G1")),
        (Verdict::Invalid, strs(&["G1b"]), strs(&["read-committed"]))
    );
    assert_eq!(
        elle_result(&g1b, &anomalies("G2")),
        (
            Verdict::Invalid,
            strs(&["G-single-item"]),
            strs(&["read-committed"])
        )
    );
    assert_eq!(
        elle_result(&g1b, &model("strict-serializable")),
        (
            Verdict::Invalid,
            strs(&["G-single-item", "G1b"]),
            strs(&["read-committed"])
        )
    );
    // A read skew rules out consistent view and repeatable read.
    let gs = edn(concat!(
        "{:process 0, :type :ok, :f :txn, :value [[:append :x 1] [:append :y 1]]}\n",
        "{:process 0, :type :ok, :f :txn, :value [[:append :x 2] [:r :y nil]]}\n",
        "{:process 0, :type :ok, :f :txn, :value [[:r :x [1 2]]]}\n",
    ));
    assert_eq!(
        elle_result(&gs, &anomalies("G-single")),
        (
            Verdict::Invalid,
            strs(&["G-single-item"]),
            strs(&["consistent-view", "repeatable-read"])
        )
    );
    assert_eq!(elle_result(&gs, &anomalies("G1")).0, Verdict::Valid);
    // An aborted read with nothing else: unknown under read uncommitted.
    let g1a = edn(concat!(
        "{:process 0, :type :fail, :f :txn, :value [[:append :x 1]]}\n",
        "{:process 0, :type :ok, :f :txn, :value [[:r :x [1]]]}\n",
    ));
    assert_eq!(
        elle_result(&g1a, &model("read-uncommitted")),
        (
            Verdict::Unknown,
            strs(&["empty-transaction-graph"]),
            strs(&["read-committed"])
        )
    );
    assert_eq!(
        elle_result(&g1a, &model("repeatable-read")),
        (
            Verdict::Invalid,
            strs(&["G1a", "empty-transaction-graph"]),
            strs(&["read-committed"])
        )
    );
    // A stale read after the write completed: real time only.
    let rt = edn(concat!(
        "{:process 0, :type :invoke, :f :txn, :value [[:append :x 1]]}\n",
        "{:process 0, :type :ok, :f :txn, :value [[:append :x 1]]}\n",
        "{:process 1, :type :invoke, :f :txn, :value [[:append :x 2]]}\n",
        "{:process 1, :type :ok, :f :txn, :value [[:append :x 2]]}\n",
        "{:process 2, :type :invoke, :f :txn, :value [[:r :x nil]]}\n",
        "{:process 2, :type :ok, :f :txn, :value [[:r :x [1]]]}\n",
        "{:process 3, :type :invoke, :f :txn, :value [[:r :x nil]]}\n",
        "{:process 3, :type :ok, :f :txn, :value [[:r :x [1 2]]]}\n",
    ));
    assert_eq!(elle_result(&rt, &model("serializable")).0, Verdict::Valid);
    assert_eq!(
        elle_result(&rt, &model("strict-serializable")),
        (
            Verdict::Invalid,
            strs(&["G-single-item-realtime"]),
            strs(&["strong-snapshot-isolation"])
        )
    );
    // Lost update: two readers of [0] both append.
    let lu = edn(concat!(
        "{:process 0, :type :invoke, :f :txn, :value [[:append :x 0]]}\n",
        "{:process 0, :type :ok, :f :txn, :value [[:append :x 0]]}\n",
        "{:process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:append :x 1]]}\n",
        "{:process 0, :type :ok, :f :txn, :value [[:r :x [0]] [:append :x 1]]}\n",
        "{:process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:append :x 2]]}\n",
        "{:process 0, :type :ok, :f :txn, :value [[:r :x [0]] [:append :x 2]]}\n",
    ));
    assert_eq!(
        elle_result(&lu, &ElleChecker::default()),
        (
            Verdict::Invalid,
            strs(&["G2-item", "lost-update"]),
            strs(&["cursor-stability", "update-atomic"])
        )
    );
}

#[test]
fn cycle_explanations_name_each_edge() {
    let r = ElleChecker::new("serializable", Some(ElleKind::ListAppend))
        .unwrap()
        .check(&load("elle-la-g-single.jsonl"), &Budget::default());
    assert_eq!(r.verdict, Verdict::Invalid);
    let inst = &r.details["anomalies"]["G-single-item"][0];
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
fn bad_names_list_the_valid_ones() {
    let e = ElleChecker::new("snapshot", None).unwrap_err();
    assert!(
        e.contains("snapshot-isolation") && e.contains("strong-serializable"),
        "{e}"
    );
    let e = ElleChecker::new("serializable,nope", None).unwrap_err();
    assert!(e.contains("\"nope\""), "{e}");
    let flags = ElleFlags {
        anomalies: Some("G1,G7".into()),
        ..ElleFlags::default()
    };
    let e = ElleChecker::from_flags(None, None, &flags).unwrap_err();
    assert!(e.contains("G7") && e.contains("G-single-item"), "{e}");
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

    /// The generator's transactions read a key before writing it, so the
    /// version order comes from writes-follow-reads.
    fn wfr() -> ElleOptions {
        ElleOptions {
            kind: Some(ElleKind::RwRegister),
            register: RegisterOrders {
                wfr_keys: true,
                ..RegisterOrders::default()
            },
            ..ElleOptions::default()
        }
    }

    fn expected(inj: RegisterInjection) -> Vec<String> {
        use RegisterInjection::*;
        let v: Vec<&str> = match inj {
            G2Item => vec!["G2-item"],
            GSingle => vec!["G-single-item"],
            G1c => vec!["G1c"],
            G1a => vec!["G1a"],
            // The reader misses the writer's second append (rw) and reads its
            // first (wr): Elle reports that G-single-item too.
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
            let a = analyze_with(&h, &wfr(), &Budget::default()).unwrap();
            prop_assert!(a.anomaly_types.is_empty(), "{:?}", a.anomaly_types);
        }

        #[test]
        fn injected_register_anomaly_is_reported_exactly(seed in any::<u64>(), which in 0usize..RegisterInjection::ALL.len(), at in 0usize..200) {
            let inj = RegisterInjection::ALL[which];
            let opts = GenOptions { txns: 200, processes: 4, keys: 6, seed, ..GenOptions::default() };
            let h = rw_register(&opts, &[(at, inj)]);
            prop_assert_eq!(sorted(types_with(&h, &wfr())), expected(inj));
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
    // Nothing to analyse is no evidence: Elle's empty-transaction-graph.
    let empty = History::new(Vec::new());
    assert_eq!(
        ElleChecker::default()
            .check(&empty, &Budget::default())
            .verdict,
        Verdict::Unknown
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

/// A write skew hidden in one 3,000-transaction strongly connected
/// component of data edges is found, and the search is not cut short
/// (histories up to 10,000 transactions are searched exhaustively).
#[test]
fn big_component_search_is_exact() {
    let ring = GenOptions {
        txns: 3000,
        processes: 6,
        keys: 40,
        concurrent: true,
        wrap_with_data: true,
        seed: 9,
        ..GenOptions::default()
    };
    let h = list_append(&ring, &[(1500, Injection::UnreadWriteSkew)]);
    let opts = ElleOptions {
        models: vec![ConsistencyModel::Serializable],
        ..ElleOptions::default()
    };
    let a = analyze_with(&h, &opts, &Budget::default()).unwrap();
    assert!(a.largest_component >= 2500, "{}", a.largest_component);
    assert!(
        !a.anomaly_types.contains(&Anomaly::CycleSearchTimeout),
        "{:?}",
        a.notes
    );
    let (verdict, reported) = a.verdict(&opts);
    assert_eq!(verdict, Verdict::Invalid);
    assert!(reported.contains(&Anomaly::G2Item), "{reported:?}");
    // Cancelled, the same search says so and cannot confirm anything.
    let budget = Budget::default();
    budget.cancel();
    let a = analyze_with(&h, &opts, &budget).unwrap();
    assert!(a.anomaly_types.contains(&Anomaly::CycleSearchTimeout));
    assert_ne!(a.verdict(&opts).0, Verdict::Valid);
}
