//! Tests of toxic construction and validation.

use std::collections::BTreeMap;

use super::{AttributeError, Stream, TOXIC_TYPES, ToxicKind, validate_toxicity};

fn build(type_name: &str, attributes: &[(&str, u64)]) -> Result<Option<ToxicKind>, AttributeError> {
    let map: BTreeMap<&str, u64> = attributes.iter().copied().collect();
    ToxicKind::from_attributes(type_name, |name| map.get(name).copied())
}

#[test]
fn every_type_round_trips_through_its_attributes() {
    for type_name in TOXIC_TYPES {
        let names = ToxicKind::attribute_names(type_name).expect("known type");
        let values: Vec<(&str, u64)> =
            names.iter().enumerate().map(|(index, name)| (*name, 10 - index as u64)).collect();
        let kind = build(type_name, &values).expect("valid").expect("known type");
        assert_eq!(kind.type_name(), type_name);
        assert_eq!(kind.attributes(), values);
    }
}

#[test]
fn missing_attributes_are_zero_as_in_toxiproxy() {
    assert_eq!(
        build("latency", &[("latency", 5)]),
        Ok(Some(ToxicKind::Latency { latency_ms: 5, jitter_ms: 0 }))
    );
    assert_eq!(build("bandwidth", &[]), Ok(Some(ToxicKind::Bandwidth { rate_kb_per_s: 0 })));
}

#[test]
fn unknown_types_are_not_an_attribute_error() {
    assert_eq!(build("packet_loss", &[]), Ok(None));
    assert_eq!(ToxicKind::attribute_names("packet_loss"), None);
}

#[test]
fn impossible_attributes_name_the_field() {
    let error = build("slicer", &[("average_size", 0)]).unwrap_err();
    assert_eq!(error.attribute, "average_size");
    let error = build("slicer", &[("average_size", 10), ("size_variation", 10)]).unwrap_err();
    assert_eq!(error.attribute, "size_variation");
    assert!(error.to_string().starts_with("attributes.size_variation: must be less than"));
    let error = build("latency", &[("latency", 86_400_001)]).unwrap_err();
    assert_eq!(error.attribute, "latency");
    assert!(error.message.contains("milliseconds"), "{}", error.message);
    let error = build("bandwidth", &[("rate", 2_000_000_000)]).unwrap_err();
    assert_eq!(error.attribute, "rate");
}

#[test]
fn toxicity_must_be_a_probability() {
    assert!(validate_toxicity(0.0).is_ok());
    assert!(validate_toxicity(1.0).is_ok());
    assert!(validate_toxicity(1.5).unwrap_err().contains("between 0 and 1"));
    assert!(validate_toxicity(-0.1).is_err());
    assert!(validate_toxicity(f64::NAN).is_err());
}

#[test]
fn streams_parse_their_api_names_only() {
    assert_eq!(Stream::parse("upstream"), Some(Stream::Upstream));
    assert_eq!(Stream::parse("downstream"), Some(Stream::Downstream));
    assert_eq!(Stream::parse("Upstream"), None);
    assert_eq!(Stream::Downstream.to_string(), "downstream");
}
