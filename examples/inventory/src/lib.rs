//! The example inventory/orders service (work in progress).
