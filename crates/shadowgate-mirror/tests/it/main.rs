//! Integration tests of the mirroring proxy, recorder, replayer and live diff, over real
//! loopback sockets with real servers and clients.

mod live_diff;
mod proxy_isolation;
mod proxy_metrics;
mod proxy_transparency;
mod record_replay;
mod support;
