//! Escaping and the replacement of characters that XML cannot carry.

use super::{attribute, text};

#[test]
fn markup_characters_are_escaped_in_text_and_attributes() {
    let hostile = r#"<script>alert('x')</script> & "q""#;
    let expected = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;";
    assert_eq!(text(hostile), expected);
    assert_eq!(attribute(hostile), expected);
}

#[test]
fn attributes_keep_newlines_and_tabs_as_references_but_text_keeps_them_raw() {
    assert_eq!(attribute("a\nb\tc"), "a&#10;b&#9;c");
    assert_eq!(text("a\nb\tc"), "a\nb\tc");
}

#[test]
fn control_characters_become_visible_pictures() {
    assert_eq!(text("nul\u{0}bell\u{7}vt\u{b}del\u{7f}"), "nul␀bell␇vt␋del␡");
}

#[test]
fn c1_controls_and_noncharacters_become_replacement_characters() {
    assert_eq!(text("a\u{85}b\u{9f}c\u{fffe}d\u{ffff}"), "a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}");
}

#[test]
fn ansi_colour_and_hyperlink_sequences_are_dropped() {
    let coloured =
        "\u{1b}[1;31merror\u{1b}[0m: \u{1b}]8;;http://x.test\u{7}link\u{1b}]8;;\u{1b}\\ done";
    assert_eq!(text(coloured), "error: link done");
}

#[test]
fn a_lone_escape_at_the_end_is_dropped() {
    assert_eq!(text("end\u{1b}"), "end");
}

#[test]
fn carriage_returns_end_lines() {
    assert_eq!(text("a\r\nb\rc"), "a\nb\nc");
}

#[test]
fn other_text_passes_unchanged() {
    let text_in = "v1 → v2 · 99 % · ✓ 😀 日本";
    assert_eq!(text(text_in), text_in);
}
