//! nab
