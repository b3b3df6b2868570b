//! Escaping for XML and HTML, shared by the JUnit and HTML renderings, and the terminal-safe
//! form of text for the summary.
//!
//! Release names, messages and test output come from users and from programs that print
//! terminal colour codes. XML 1.0 cannot carry most control characters at all, not even as
//! character references, so they are made visible instead: ANSI escape sequences are
//! dropped, other C0 controls become their Unicode "control picture" (U+2400 block, so a NUL
//! shows as `␀`), and C1 controls and the noncharacters U+FFFE/U+FFFF become `�`. Carriage
//! returns end lines like newlines, since progress bars use them that way.

use std::fmt::Write;

/// Escapes `text` for element content.
pub(crate) fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_text(&mut out, text);
    out
}

/// Escapes `text` for an attribute value in double quotes; newlines and tabs become
/// character references so that parsers keep them.
pub(crate) fn attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_attribute(&mut out, text);
    out
}

/// `text` with the replacements described in the module documentation but no escaping: safe
/// to print on a terminal, where an escape sequence from a user could move the cursor or
/// recolour the rest of the output.
pub(crate) fn printable(text: &str) -> String {
    printable_chars(text).collect()
}

/// Appends `text` escaped for element content.
pub(crate) fn push_text(out: &mut String, text: &str) {
    for it in printable_chars(text) {
        match it {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
}

/// Appends `text` escaped for an attribute value in double quotes.
pub(crate) fn push_attribute(out: &mut String, text: &str) {
    for it in printable_chars(text) {
        match it {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => {
                let _ = write!(out, "&#{};", u32::from(it));
            }
            other => out.push(other),
        }
    }
}

/// The characters of `text` that markup can carry, with the replacements described in the
/// module documentation.
fn printable_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    let mut chars = text.chars().peekable();
    std::iter::from_fn(move || {
        loop {
            let it = chars.next()?;
            match it {
                '\u{1b}' => skip_escape_sequence(&mut chars),
                '\r' => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    return Some('\n');
                }
                '\t' | '\n' => return Some(it),
                '\u{0}'..='\u{1f}' => {
                    return Some(char::from_u32(0x2400 + u32::from(it)).unwrap_or('\u{fffd}'));
                }
                '\u{7f}' => return Some('\u{2421}'),
                '\u{80}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' => return Some('\u{fffd}'),
                other => return Some(other),
            }
        }
    })
}

/// Consumes the rest of an ANSI escape sequence whose ESC was just read: a CSI sequence
/// (`ESC [` parameters, final byte `@`..`~`), an OSC sequence (`ESC ]` up to BEL or `ESC \`),
/// or a two-character escape.
fn skip_escape_sequence(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for it in chars.by_ref() {
                if ('@'..='~').contains(&it) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(it) = chars.next() {
                if it == '\u{7}' {
                    break;
                }
                if it == '\u{1b}' && chars.peek() == Some(&'\\') {
                    chars.next();
                    break;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
