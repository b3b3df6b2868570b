//! Integration tests of the judge.
