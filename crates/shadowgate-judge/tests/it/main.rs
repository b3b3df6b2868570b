//! Integration tests of the judge through its public interface.

mod monte_carlo;
mod simulate;
