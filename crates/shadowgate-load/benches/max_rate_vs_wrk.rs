//! Maximum request rate of the closed-loop mode beside wrk.

fn main() {}
