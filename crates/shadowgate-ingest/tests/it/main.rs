//! Integration tests of shadowgate-ingest.
