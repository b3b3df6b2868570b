//! A small element tree built with quick-xml, for asserting on the JUnit output.
//!
//! Parsing fails on anything a strict XML 1.0 reader rejects: mismatched or unclosed tags,
//! unknown entities, characters XML 1.0 cannot carry, or text after the root element.

use quick_xml::{
    XmlVersion,
    events::{BytesStart, Event},
    reader::Reader,
};
use std::collections::BTreeMap;

/// One element with its attributes (unescaped), children and text content.
#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The value of attribute `name`; panics with the element's name when it is missing.
    pub fn attribute(&self, name: &str) -> &str {
        self.attributes
            .get(name)
            .unwrap_or_else(|| panic!("<{}> has no attribute `{name}`", self.name))
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |it| it.name == name)
    }

    pub fn child<'a>(&'a self, name: &'a str) -> Option<&'a Element> {
        self.children_named(name).next()
    }
}

/// Whether XML 1.0 allows `it` in a document at all.
fn is_xml_char(it: char) -> bool {
    matches!(it, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Parses a whole document into its root element.
pub fn parse(xml: &str) -> Result<Element, String> {
    if let Some(bad) = xml.chars().find(|it| !is_xml_char(*it)) {
        return Err(format!("the document contains U+{:04X}, which XML 1.0 forbids", bad as u32));
    }
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|error| {
            format!("not well-formed at byte {}: {error}", reader.buffer_position())
        })?;
        match event {
            Event::Start(start) => stack.push(element_of(&start)?),
            Event::Empty(start) => attach(&mut stack, &mut root, element_of(&start)?)?,
            Event::End(_) => {
                let element = stack.pop().ok_or("an end tag without a start tag")?;
                attach(&mut stack, &mut root, element)?;
            }
            Event::Text(text) => {
                let content = text.xml_content(XmlVersion::Implicit1_0);
                match stack.last_mut() {
                    Some(parent) => parent.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(format!("text outside the root element: {content:?}")),
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(it)) => it.to_string(),
                    Ok(None) => match reference.as_ref() {
                        "amp" => "&".to_string(),
                        "lt" => "<".to_string(),
                        "gt" => ">".to_string(),
                        "quot" => "\"".to_string(),
                        "apos" => "'".to_string(),
                        other => return Err(format!("unknown entity &{other};")),
                    },
                    Err(error) => return Err(format!("bad character reference: {error}")),
                };
                let parent = stack.last_mut().ok_or("a reference outside the root element")?;
                parent.text.push_str(&resolved);
            }
            Event::CData(data) => {
                let parent = stack.last_mut().ok_or("CDATA outside the root element")?;
                parent.text.push_str(&data.xml_content(XmlVersion::Implicit1_0));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(format!("<{}> is never closed", stack[stack.len() - 1].name));
    }
    root.ok_or_else(|| "the document has no root element".to_string())
}

fn element_of(start: &BytesStart<'_>) -> Result<Element, String> {
    let mut element = Element { name: start.name().as_ref().to_string(), ..Element::default() };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| format!("bad attribute: {error}"))?;
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|error| format!("bad attribute value: {error}"))?;
        let key = attribute.key.as_ref().to_string();
        if element.attributes.insert(key.clone(), value.into_owned()).is_some() {
            return Err(format!("<{}> repeats attribute `{key}`", element.name));
        }
    }
    Ok(element)
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err(format!("a second root element <{}>", element.name)),
    }
    Ok(())
}
