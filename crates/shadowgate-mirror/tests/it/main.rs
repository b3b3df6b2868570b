//! Integration tests of the mirroring proxy, recorder, replayer and live diff.
