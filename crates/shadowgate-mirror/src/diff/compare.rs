//! Comparing two lifted responses field by field.

use std::{cmp::Ordering, collections::BTreeMap};

use super::{
    DiffConfig,
    lift::{FAILURE_FIELD, Leaf},
    report::DifferenceKind,
};

/// One field that differs between two lifted responses.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldDifference {
    pub field: String,
    pub kind: DifferenceKind,
    pub left: Option<String>,
    pub right: Option<String>,
}

/// The differing fields of two lifted responses, in field order.
pub(crate) fn compare(
    left: &BTreeMap<String, Leaf>,
    right: &BTreeMap<String, Leaf>,
    config: &DiffConfig,
) -> Vec<FieldDifference> {
    let left_failed = left.contains_key(FAILURE_FIELD);
    let right_failed = right.contains_key(FAILURE_FIELD);
    if left_failed || right_failed {
        // One failure explains every other difference; listing each missing field would bury it.
        let describe = |fields: &BTreeMap<String, Leaf>, failed: bool| {
            if failed {
                fields.get(FAILURE_FIELD).map(Leaf::display)
            } else {
                Some("<response>".to_owned())
            }
        };
        let left_text = describe(left, left_failed);
        let right_text = describe(right, right_failed);
        if left_text == right_text {
            return Vec::new();
        }
        return vec![FieldDifference {
            field: FAILURE_FIELD.to_owned(),
            kind: DifferenceKind::Failure,
            left: left_text,
            right: right_text,
        }];
    }
    let mut res = Vec::new();
    let mut left_iter = left.iter().peekable();
    let mut right_iter = right.iter().peekable();
    loop {
        let order = match (left_iter.peek(), right_iter.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((left_field, _)), Some((right_field, _))) => left_field.cmp(right_field),
        };
        let (field, kind, left_leaf, right_leaf) = match order {
            Ordering::Less => {
                let Some((field, leaf)) = left_iter.next() else { break };
                (field, DifferenceKind::Missing, Some(leaf), None)
            }
            Ordering::Greater => {
                let Some((field, leaf)) = right_iter.next() else { break };
                (field, DifferenceKind::Extra, None, Some(leaf))
            }
            Ordering::Equal => {
                let (Some((field, left_leaf)), Some((_, right_leaf))) =
                    (left_iter.next(), right_iter.next())
                else {
                    break;
                };
                match leaf_difference(left_leaf, right_leaf, config) {
                    Some(kind) => (field, kind, Some(left_leaf), Some(right_leaf)),
                    None => continue,
                }
            }
        };
        res.push(FieldDifference {
            field: field.clone(),
            kind,
            left: left_leaf.map(Leaf::display),
            right: right_leaf.map(Leaf::display),
        });
    }
    res
}

fn leaf_difference(left: &Leaf, right: &Leaf, config: &DiffConfig) -> Option<DifferenceKind> {
    if left == right {
        return None;
    }
    if let (Leaf::Number(left_number), Leaf::Number(right_number)) = (left, right)
        && left_number.as_f64().is_some()
        && left_number.as_f64() == right_number.as_f64()
    {
        return None;
    }
    if let (Some(left_text), Some(right_text)) =
        (left.text_for_matching(), right.text_for_matching())
    {
        let equal_by_rule = config
            .equal_value_regexes
            .iter()
            .any(|regex| full_match(regex, &left_text) && full_match(regex, &right_text));
        if equal_by_rule {
            return None;
        }
    }
    if std::mem::discriminant(left) == std::mem::discriminant(right) {
        Some(DifferenceKind::Changed)
    } else {
        Some(DifferenceKind::TypeChanged)
    }
}

fn full_match(regex: &regex_lite::Regex, text: &str) -> bool {
    regex.find(text).is_some_and(|found| found.start() == 0 && found.end() == text.len())
}
