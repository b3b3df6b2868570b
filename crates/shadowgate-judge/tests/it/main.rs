//! Integration tests of the judge through its public interface.

mod classification;
mod config;
mod monte_carlo;
mod rank_test;
mod report;
mod scoring;
mod simulate;
