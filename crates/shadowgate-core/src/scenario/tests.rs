use std::time::Duration;

use super::*;

fn scenario(name: &str, at: u64, duration: Option<u64>, fault: &str) -> Scenario {
    Scenario {
        name: name.into(),
        at: HumanDuration::from_secs(at),
        duration: duration.map(HumanDuration::from_secs),
        tags: Vec::new(),
        fault: fault.into(),
        dependency: None,
        latency: None,
        jitter: None,
        rate: None,
        free: None,
        path: None,
        size: None,
        memory: None,
        cpu: None,
        restart: None,
        method: None,
    }
}

fn all(scenarios: &[Scenario]) -> Vec<(usize, String)> {
    (0..scenarios.len()).map(|i| (i, "always".to_string())).collect()
}

#[test]
fn timeline_orders_stops_before_starts_at_the_same_instant() {
    let mut cpu = scenario("cut", 2, Some(3), "cpu");
    cpu.cpu = Some(0.1);
    let disk = scenario("full", 5, Some(2), "disk_full");
    let hang = scenario("hang", 1, Some(1), "hang");
    let list = [cpu, disk, hang];
    let t = Timeline::plan(&list, &all(&list), Duration::from_secs(10)).unwrap();
    let order: Vec<(u64, Edge, &str)> = t
        .actions
        .iter()
        .map(|a| (a.at.as_secs(), a.edge, t.faults[a.fault].name.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            (1, Edge::Start, "hang"),
            (2, Edge::Stop, "hang"),
            (2, Edge::Start, "cut"),
            (5, Edge::Stop, "cut"),
            (5, Edge::Start, "full"),
            (7, Edge::Stop, "full"),
        ]
    );
    // Which fault is active when: start inclusive, end exclusive.
    let names = |at_ms: u64| -> Vec<&str> {
        t.active_at(Duration::from_millis(at_ms))
            .into_iter()
            .map(|i| t.faults[i].name.as_str())
            .collect()
    };
    assert_eq!(names(999), Vec::<&str>::new());
    assert_eq!(names(1000), vec!["hang"]);
    assert_eq!(names(2000), vec!["cut"]);
    assert_eq!(names(4999), vec!["cut"]);
    assert_eq!(names(5000), vec!["full"]);
    assert_eq!(names(7000), Vec::<&str>::new());
}

#[test]
fn crash_without_restart_has_no_end_and_stays_active() {
    let list = [scenario("kill", 3, None, "crash")];
    let t = Timeline::plan(&list, &all(&list), Duration::from_secs(10)).unwrap();
    assert_eq!(t.actions.len(), 1);
    assert_eq!(t.faults[0].end, None);
    assert_eq!(t.faults[0].fault, Fault::Crash { restart: false });
    assert_eq!(t.active_at(Duration::from_secs(9)), vec![0]);
}

#[test]
fn a_fault_past_the_end_of_the_load_is_an_error() {
    let list = [scenario("late", 8, Some(3), "hang")];
    let err = Timeline::plan(&list, &all(&list), Duration::from_secs(10)).unwrap_err();
    assert_eq!(err.name, "late");
    assert!(err.message.contains("ends at 11s"), "{}", err.message);
    // Only the selected scenarios are planned.
    let t = Timeline::plan(&list, &[], Duration::from_secs(10)).unwrap();
    assert!(t.faults.is_empty());
}

#[test]
fn keys_that_do_not_belong_to_the_kind_are_named() {
    let mut s = scenario("x", 1, Some(1), "disk_full");
    s.latency = Some(HumanDuration::from_millis(5));
    let problems = s.resolve().unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, "latency");
    assert!(problems[0].2.as_deref().unwrap().contains("takes: free"));
    let missing = scenario("y", 1, Some(1), "memory_limit").resolve().unwrap_err();
    assert_eq!(missing[0].1, "a `memory_limit` fault needs `memory`");
    let typo = scenario("z", 1, Some(1), "dsk_full").resolve().unwrap_err();
    assert!(typo[0].2.as_deref().unwrap().starts_with("did you mean `disk_full`?"));
}

#[test]
fn overlapping_faults_on_the_same_knob_are_rejected() {
    let mut a = scenario("a", 1, Some(5), "cpu");
    a.cpu = Some(0.2);
    let mut b = a.clone();
    b.name = "b".into();
    b.at = HumanDuration::from_secs(3);
    let mut c = scenario("c", 2, Some(5), "memory_pressure");
    c.size = Some(ByteSize::mib(10));
    let problems = validate(&[a.clone(), b, c], &[], &[]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "scenarios[1].at");
    // Back to back is fine.
    let mut d = a.clone();
    d.name = "d".into();
    d.at = HumanDuration::from_secs(6);
    assert!(validate(&[a, d], &[], &[]).is_empty());
}

#[test]
fn selection_follows_risk_tags() {
    let memory = vec!["memory".to_string(), "nightly".to_string()];
    let plain = vec!["nightly".to_string()];
    assert_eq!(selection(&plain, &[], false).unwrap(), "always: it has no risk tag");
    assert_eq!(selection(&memory, &[], false), None);
    assert_eq!(selection(&memory, &[RiskKind::LoadAboveTested], false), None);
    assert!(
        selection(&memory, &[RiskKind::MemoryTrendingUp], false)
            .unwrap()
            .starts_with("predicted risk `memory`")
    );
    assert!(selection(&memory, &[], true).unwrap().starts_with("--all-tests"));
}

#[test]
fn latency_and_disk_risks_select_their_tags_and_say_which_flag_did() {
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let db = tags(&["db-latency"]);
    let disk = tags(&["disk", "nightly"]);
    let volume = tags(&["volume"]);
    assert_eq!(
        selection(&db, &[RiskKind::DependencyLatency], false).unwrap(),
        "predicted risk `db-latency` (dependency_latency) in the conditions"
    );
    assert_eq!(
        selection(&disk, &[RiskKind::MemoryTrendingUp, RiskKind::DiskFilling], false).unwrap(),
        "predicted risk `disk` (disk_filling) in the conditions"
    );
    // More rows than tested select disk and volume tests alike.
    for t in [&disk, &volume] {
        assert!(
            selection(t, &[RiskKind::DataAboveTested], false)
                .unwrap()
                .ends_with("(data_above_tested) in the conditions")
        );
    }
    // Each risk selects only its own tags.
    assert_eq!(selection(&db, &[RiskKind::DiskFilling, RiskKind::DataAboveTested], false), None);
    assert_eq!(selection(&disk, &[RiskKind::DependencyLatency], false), None);
    // An error changepoint says the errors changed, not why: it selects nothing by itself.
    for t in [&db, &disk, &volume, &tags(&["memory"])] {
        assert_eq!(selection(t, &[RiskKind::ErrorChangepoint], false), None);
    }
}

#[test]
fn every_risk_tag_but_none_for_errors_is_reachable_from_a_risk_kind() {
    for tag in RISK_TAGS {
        assert!(
            RiskKind::ALL.iter().any(|k| risk_tags(*k).contains(tag)),
            "no predicted risk selects `{tag}`"
        );
    }
    for kind in RiskKind::ALL {
        assert!(risk_tags(kind).iter().all(|t| RISK_TAGS.contains(t)), "{kind:?}");
    }
    assert!(risk_tags(RiskKind::ErrorChangepoint).is_empty());
}
