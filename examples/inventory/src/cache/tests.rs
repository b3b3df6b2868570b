//! Tests of the CLOCK cache.

use super::*;

fn value(text: &str) -> String {
    text.to_string()
}

#[test]
fn returns_what_was_inserted() {
    let mut cache = ClockCache::new(4);
    cache.insert(1, value("one"), "one".len());
    cache.insert(2, value("two"), "two".len());
    assert_eq!(cache.get(&1), Some(value("one")));
    assert_eq!(cache.get(&2), Some(value("two")));
    assert_eq!(cache.get(&3), None);
    assert_eq!(cache.value_bytes(), 6);
}

#[test]
fn never_holds_more_than_its_capacity() {
    let mut cache = ClockCache::new(100);
    for key in 0..10_000 {
        cache.insert(key, value("0123456789"), "0123456789".len());
        assert!(cache.len() <= 100);
    }
    assert_eq!(cache.len(), 100);
    assert_eq!(cache.value_bytes(), 100 * 10);
    // The most recent insertions survive a sweep that evicts unreferenced entries in order.
    assert_eq!(cache.get(&9_999), Some(value("0123456789")));
    assert_eq!(cache.get(&0), None);
}

#[test]
fn a_referenced_entry_gets_a_second_chance() {
    let mut cache = ClockCache::new(3);
    cache.insert("a", value("a"), "a".len());
    cache.insert("b", value("b"), "b".len());
    cache.insert("c", value("c"), "c".len());
    assert!(cache.get(&"a").is_some());
    cache.insert("d", value("d"), "d".len());
    assert!(cache.get(&"a").is_some(), "a was referenced, so b is evicted instead");
    assert_eq!(cache.get(&"b"), None);
    assert!(cache.get(&"c").is_some());
    assert!(cache.get(&"d").is_some());
}

#[test]
fn replacing_a_value_keeps_the_byte_count_exact() {
    let mut cache = ClockCache::new(2);
    cache.insert(1, value("short"), "short".len());
    cache.insert(1, value("much longer"), "much longer".len());
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.value_bytes(), "much longer".len());
    cache.insert(2, value("xy"), "xy".len());
    cache.insert(3, value("xyz"), "xyz".len());
    assert_eq!(cache.len(), 2);
    let expected: usize =
        [1, 2, 3].iter().filter_map(|key| cache.get(key)).map(|text| text.len()).sum();
    assert_eq!(cache.value_bytes(), expected);
}

#[test]
fn zero_capacity_is_treated_as_one() {
    let mut cache = ClockCache::new(0);
    cache.insert(1, value("x"), "x".len());
    cache.insert(2, value("y"), "y".len());
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.get(&2), Some(value("y")));
}

#[test]
fn removing_keeps_the_other_entries_reachable() {
    let mut cache = ClockCache::new(4);
    for key in 1..=4 {
        cache.insert(key, value("abcd"), 4);
    }
    cache.remove(&2);
    cache.remove(&2);
    assert_eq!(cache.len(), 3);
    assert_eq!(cache.value_bytes(), 12);
    assert_eq!(cache.get(&2), None);
    for key in [1, 3, 4] {
        assert_eq!(cache.get(&key), Some(value("abcd")), "{key}");
    }
    cache.insert(5, value("e"), 1);
    cache.insert(6, value("f"), 1);
    assert_eq!(cache.len(), 4);
    assert_eq!(cache.get(&6), Some(value("f")));
}
