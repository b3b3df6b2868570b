//! Integration tests of the fault proxy on real loopback sockets: every toxic, live changes,
//! the HTTP API, and the third-party Toxiproxy clients.

mod api;
mod clients;
mod live;
mod support;
mod toxics;
