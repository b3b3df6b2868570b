//! The catalog cache: the interface both releases implement, and a bounded cache to build on.
//!
//! Catalog reads dominate the request mix, so both releases keep rendered catalog JSON in
//! memory. What they key it by and whether it is bounded is each release's own code (see
//! `release/v1.rs` and `release/v2.rs`); the server only sees [`CatalogCache`], and reports
//! its size as the `inventory_cache_entries` and `inventory_cache_bytes` metrics.

use std::{collections::HashMap, hash::Hash};

use bytes::Bytes;

/// A catalog read that may be answered from the cache.
#[derive(Clone, Copy, Debug)]
pub enum CatalogRequest<'a> {
    /// `GET /items/{id}`. `target` is the request's path and query string as received.
    Item { item_id: i64, target: &'a str },
    /// `GET /items?...`. `target` is the request's path and query string as received.
    Listing { target: &'a str },
}

/// The size of a cache, as reported in metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    /// The bytes held by keys and values (not counting the map's own overhead).
    pub bytes: usize,
}

/// What the cache holds for one catalog read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The rendered JSON: the item object for an item, the whole body for a listing.
    pub rendered: Bytes,
    /// For an item, its list price, which the response falls back to when pricing fails.
    pub list_price_cents: Option<i64>,
}

impl CatalogEntry {
    /// The bytes this entry keeps alive.
    pub fn weight(&self) -> usize {
        self.rendered.len() + std::mem::size_of::<Option<i64>>()
    }
}

/// A store of rendered catalog JSON, shared by all requests.
pub trait CatalogCache: Send + Sync + 'static {
    /// The cached entry for `request`, if any.
    fn get(&self, request: &CatalogRequest<'_>) -> Option<CatalogEntry>;
    /// Offers the entry for `request` to the cache, which may keep it or not.
    fn put(&self, request: &CatalogRequest<'_>, entry: CatalogEntry);
    /// Forgets what the cache knows about an item whose stock changed.
    fn invalidate_item(&self, item_id: i64);
    fn stats(&self) -> CacheStats;
}

/// A fixed-capacity map that evicts with the CLOCK (second chance) policy.
///
/// CLOCK approximates least-recently-used eviction with one reference bit per slot instead of
/// a linked list: a hit sets the bit, and the eviction hand clears set bits as it sweeps,
/// evicting the first slot whose bit is already clear. Lookups and insertions are O(1)
/// amortized. Not synchronized; callers wrap it in a lock.
#[derive(Debug)]
pub struct ClockCache<K, V> {
    capacity: usize,
    index: HashMap<K, usize>,
    slots: Vec<ClockSlot<K, V>>,
    hand: usize,
    value_bytes: usize,
}

#[derive(Debug)]
struct ClockSlot<K, V> {
    key: K,
    value: V,
    /// The bytes the caller said `value` holds.
    bytes: usize,
    referenced: bool,
}

impl<K: Hash + Eq + Clone, V: Clone> ClockCache<K, V> {
    /// A cache that holds at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> ClockCache<K, V> {
        let capacity = capacity.max(1);
        ClockCache {
            capacity,
            index: HashMap::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            hand: 0,
            value_bytes: 0,
        }
    }

    pub fn get(&mut self, key: &K) -> Option<V> {
        let slot_idx = *self.index.get(key)?;
        let slot = &mut self.slots[slot_idx];
        slot.referenced = true;
        Some(slot.value.clone())
    }

    /// Inserts or replaces `key`'s value, which holds `bytes` bytes, evicting another entry
    /// when full.
    pub fn insert(&mut self, key: K, value: V, bytes: usize) {
        if let Some(&slot_idx) = self.index.get(&key) {
            let slot = &mut self.slots[slot_idx];
            self.value_bytes = self.value_bytes - slot.bytes + bytes;
            *slot = ClockSlot { key, value, bytes, referenced: true };
            return;
        }
        self.value_bytes += bytes;
        if self.slots.len() < self.capacity {
            self.index.insert(key.clone(), self.slots.len());
            self.slots.push(ClockSlot { key, value, bytes, referenced: false });
            return;
        }
        let victim_idx = self.next_victim();
        let victim = &mut self.slots[victim_idx];
        self.value_bytes -= victim.bytes;
        self.index.remove(&victim.key);
        self.index.insert(key.clone(), victim_idx);
        *victim = ClockSlot { key, value, bytes, referenced: false };
    }

    /// Removes `key`, if present.
    pub fn remove(&mut self, key: &K) {
        let Some(slot_idx) = self.index.remove(key) else {
            return;
        };
        let removed = self.slots.swap_remove(slot_idx);
        self.value_bytes -= removed.bytes;
        if let Some(moved) = self.slots.get(slot_idx) {
            self.index.insert(moved.key.clone(), slot_idx);
        }
        if self.hand >= self.slots.len() {
            self.hand = 0;
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The bytes held by values, as given to [`ClockCache::insert`].
    pub fn value_bytes(&self) -> usize {
        self.value_bytes
    }

    fn next_victim(&mut self) -> usize {
        loop {
            let slot_idx = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            let slot = &mut self.slots[slot_idx];
            if slot.referenced {
                slot.referenced = false;
            } else {
                return slot_idx;
            }
        }
    }
}

#[cfg(test)]
mod tests;
