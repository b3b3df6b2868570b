//! shadowgate's prediction core: forecasting, anomaly detection and resource recommendation.
//!
//! A release is safe only if it survives the conditions it will meet, and those conditions are
//! in production telemetry. This crate turns telemetry series into the three predictions the
//! rest of shadowgate acts on:
//!
//! - [`forecast`]: the load a release will face over a horizon, with 80 % and 95 % intervals.
//!   Candidate models (MSTL with an AutoETS trend, MSTL with a naive trend, seasonal naïve)
//!   compete on a rolling-origin backtest, so the chosen forecast is never worse than
//!   seasonal naïve on that backtest, and the backtest's MASE and interval coverage travel
//!   with the result so that a reader can judge it.
//! - [`anomaly`]: streaming detectors that score each row from the rows before it (seasonal
//!   residual with CUSUM, a contextual sequence memory, and the two combined), and
//!   [`nab`], the Numenta Anomaly Benchmark's scoring, so that the detector is measured by the
//!   same rules as the published detectors.
//! - [`recommend`]: a faithful re-implementation of the Kubernetes VPA recommender as the
//!   reference, our forecast-aware recommender, and a replay evaluator that counts OOM events,
//!   throttling and slack for any recommender on the same trace.
//! - [`risk`]: the rules that flag what makes a release riskier (memory growth, an error
//!   changepoint, load, dependency latency, disk and data volume), each with its evidence.
//!
//! The crate is pure: it reads no files, clocks or random sources. Series arrive as slices of
//! `(timestamp, value)` pairs with timestamps in seconds since the Unix epoch, and seeds and
//! "now" are arguments. Parsing helpers for NAB's text formats are pure functions over strings;
//! reading the files is the caller's job.

pub mod anomaly;
pub mod forecast;
pub mod nab;
pub mod recommend;
pub mod risk;
pub mod series;
pub mod stats;
