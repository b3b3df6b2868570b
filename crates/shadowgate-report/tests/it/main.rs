//! Integration tests of the report renderings through the crate's public interface.

mod browser_chromium;
mod diff_section;
mod escaping_hostile;
mod fixture;
mod html_structure;
mod json_reading;
mod junit_structure;
mod report_golden;
mod summary_terminal;
mod xml_tree;
