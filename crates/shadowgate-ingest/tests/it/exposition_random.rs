//! The exposition parser under random and mutated input, in the normal test suite.
//!
//! The cargo-fuzz target (`fuzz/`) explores with coverage guidance; this test runs everywhere,
//! without libFuzzer, for a few seconds: random bytes, and mutations of real expositions (byte
//! flips, inserted syntax characters, deleted and duplicated spans). The parser must never
//! panic, and whatever it accepts must survive being written back out and parsed again.
//! The seed is printed on failure and can be replayed with `SHADOWGATE_FUZZ_SEED`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shadowgate_core::rng::Rng;
use shadowgate_ingest::exposition::{ParsedSample, parse, parse_bytes};

const RUN_FOR: Duration = Duration::from_secs(3);

const CORPUS: &[&str] = &[
    "# HELP http_requests_total The total number of HTTP requests.\n# TYPE http_requests_total counter\n\
     http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
     http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n",
    "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n",
    "# TYPE h histogram\nh_bucket{le=\"0.05\"} 24054\nh_bucket{le=\"+Inf\"} 144320\nh_sum 53423\nh_count 144320\n",
    "# TYPE s summary\ns{quantile=\"0.01\"} 3102\ns{quantile=\"0.99\"} NaN\ns_sum 1.7560473e+07\ns_count 2693\n",
    "something_weird{problem=\"division by zero\"} +Inf -3982045\nminimal 12.47\nutf{e=\"ü\"} 1\n",
];

const SYNTAX: &[&[u8]] = &[
    b"{",
    b"}",
    b"\"",
    b"\\",
    b"=",
    b",",
    b"\n",
    b"#",
    b" ",
    b"\t",
    b"# TYPE ",
    b"# HELP ",
    b"le",
    b"NaN",
    b"+Inf",
    b"\xc3\xa9",
    b"\xff",
    b"9",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(5) {
            0 if len > 0 => {
                let at = rng.below(len);
                input[at] = rng.next_u64() as u8;
            }
            1 => {
                let piece = SYNTAX[rng.below(SYNTAX.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, piece.iter().copied());
            }
            2 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(16)).min(len);
                input.drain(start..end);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let span: Vec<u8> = input[start..end].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, span);
            }
            _ => {
                let at = rng.below(len + 1);
                input.insert(at, rng.next_u64() as u8);
            }
        }
    }
}

/// Writes samples back out as an exposition (without TYPE lines, so everything is untyped).
fn render(samples: &[ParsedSample<'_>]) -> String {
    let mut text = String::new();
    for sample in samples {
        text.push_str(sample.name);
        text.push('{');
        for (name, value) in &sample.labels {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            text.push_str(&format!("{name}=\"{escaped}\","));
        }
        text.push_str("} ");
        text.push_str(&format!("{:?}", sample.value).replace("inf", "Inf"));
        if let Some(ts) = sample.timestamp_ms {
            text.push_str(&format!(" {ts}"));
        }
        text.push('\n');
    }
    text
}

fn check_round_trip(samples: &[ParsedSample<'_>], input: &[u8]) {
    let rendered = render(samples);
    let reparsed = parse(&rendered).unwrap_or_else(|error| {
        panic!(
            "accepted {:?} but not its rendering {rendered:?}: {error}",
            String::from_utf8_lossy(input)
        )
    });
    assert_eq!(reparsed.len(), samples.len());
    for (before, after) in samples.iter().zip(&reparsed) {
        assert_eq!(before.name, after.name);
        assert_eq!(before.labels, after.labels);
        assert_eq!(before.timestamp_ms, after.timestamp_ms);
        assert!(before.value == after.value || (before.value.is_nan() && after.value.is_nan()));
    }
}

#[test]
fn random_and_mutated_expositions_never_panic_and_round_trip() {
    let seed = std::env::var("SHADOWGATE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |elapsed| elapsed.as_nanos() as u64)
        });
    println!("SHADOWGATE_FUZZ_SEED={seed}");
    let mut rng = Rng::seed(seed);
    let started = Instant::now();
    let (mut cases, mut accepted) = (0u64, 0u64);
    while started.elapsed() < RUN_FOR {
        let input: Vec<u8> = if rng.below(4) == 0 {
            (0..rng.below(256)).map(|_| rng.next_u64() as u8).collect()
        } else {
            let mut input = CORPUS[rng.below(CORPUS.len())].as_bytes().to_vec();
            mutate(&mut rng, &mut input);
            input
        };
        cases += 1;
        let outcome =
            std::panic::catch_unwind(|| parse_bytes(&input).map(|samples| render(&samples)));
        let Ok(result) = outcome else {
            panic!("the parser panicked on {:?} (seed {seed})", String::from_utf8_lossy(&input));
        };
        if result.is_ok() {
            accepted += 1;
            if let Ok(samples) = parse_bytes(&input) {
                check_round_trip(&samples, &input);
            }
        }
    }
    assert!(cases > 1000, "only {cases} cases ran");
    assert!(
        accepted > 0 && accepted < cases,
        "{accepted} of {cases} accepted: the mutations should hit both sides"
    );
}

#[test]
fn every_corpus_entry_parses() {
    for text in CORPUS {
        assert!(!parse(text).unwrap().is_empty());
    }
}
