//! The `[traffic]` model and the deterministic request plan derived from it.
