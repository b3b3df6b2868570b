//! Integration tests of the report renderings through the crate's public interface.

mod fixture;
mod report_golden;
