//! The Numenta Anomaly Benchmark (NAB v1.1): its corpus format, anomaly windows and scoring.
//!
//! NAB is the public yardstick for streaming anomaly detectors on real telemetry, and its
//! scoreboard (ARTime 74.9, HTM about 70, Random Cut Forest 51.7, Windowed Gaussian 39.6 on the
//! standard profile) is only comparable if the scoring is NAB's own. So this module
//! re-implements the rules of NAB's `sweeper.py`, `labeler.py` and `runner.py` (commit
//! ea702d75cc22) rather than an approximation of them:
//!
//! - Each labelled anomaly gets a window 10 % of the file long divided by the number of
//!   anomalies, centred on the label; overlapping windows merge ([`corpus`]).
//! - The first 15 % of each file (at most 750 rows) is probationary and not scored.
//! - Inside a window only the earliest detection counts, weighted by a scaled sigmoid of its
//!   position (earlier is better); a window without detection costs the false-negative weight;
//!   a detection outside windows costs the false-positive weight, less when it falls just after
//!   a window ([`scoring`]).
//! - Scores are normalised to 100 for the perfect detector and 0 for the null detector, and a
//!   detector's threshold is optimised over the whole corpus per profile. Because that
//!   threshold is tuned on the test data, [`evaluation`] also reports a threshold fixed in
//!   advance.

pub mod corpus;
pub mod evaluation;
pub mod scoring;
pub mod timestamp;
