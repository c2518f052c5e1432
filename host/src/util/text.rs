//! Text a component controls, made safe to show: every string that comes out of a guest (its
//! errors and panics, its captured stdout and stderr, what `describe()` says) is untrusted. A
//! contributed component could fill a terminal with escape sequences (retitle the window, clear
//! the screen, move the cursor up and print a fake "Done"), forge lines in a log or a CSV, or
//! flood every place it is shown. So it is made visible and bounded once, where it enters the
//! host (the sandbox), and everything downstream (terminal, run log, JSON progress, failures
//! file, HTML report, results metadata) only ever sees the safe form.

/// The most characters of one piece of guest text that stratbox keeps.
pub const MAX_GUEST_TEXT: usize = 600;

/// `text` with every control character written as a visible escape (`\e`, `\r`, `\n`, `\t`,
/// `\u{7}`, ...; also the Unicode controls that reorder or hide text, such as U+202E), and cut
/// to at most `max` characters, saying how much was cut. Printable text, including non-ASCII
/// letters, is kept as it is.
pub fn escape_untrusted(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 32));
    let mut shown = 0usize;
    let mut chars = text.chars();
    for c in chars.by_ref() {
        let escaped = match c {
            '\\' => Some("\\\\".to_string()),
            '\n' => Some("\\n".to_string()),
            '\r' => Some("\\r".to_string()),
            '\t' => Some("\\t".to_string()),
            '\u{1b}' => Some("\\e".to_string()),
            c if is_hidden(c) => Some(format!("\\u{{{:x}}}", c as u32)),
            _ => None,
        };
        let width = escaped.as_ref().map_or(1, |e| e.chars().count());
        if shown + width > max {
            let rest = 1 + chars.count();
            out.push_str(&format!("... ({rest} more characters)"));
            return out;
        }
        shown += width;
        match escaped {
            Some(e) => out.push_str(&e),
            None => out.push(c),
        }
    }
    out
}

/// [`escape_untrusted`] with the default bound.
pub fn untrusted(text: &str) -> String {
    escape_untrusted(text, MAX_GUEST_TEXT)
}

/// Control characters, and the format characters that change how the text around them looks
/// (bidirectional overrides and isolates, zero-width joiners, the BOM).
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences_become_visible() {
        let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\rDone: 4620 of 4620 ok\u{1b}[1A";
        let shown = untrusted(hostile);
        assert_eq!(shown, "\\e]0;pwned\\u{7}\\e[2J\\rDone: 4620 of 4620 ok\\e[1A");
        assert!(!shown.chars().any(|c| c.is_control()));
        assert_eq!(untrusted("line 1\nline 2\t\\ é"), "line 1\\nline 2\\t\\\\ é");
        assert_eq!(untrusted("a\u{202e}b\u{200b}c"), "a\\u{202e}b\\u{200b}c");
    }

    #[test]
    fn long_text_is_cut_and_says_so() {
        assert_eq!(escape_untrusted("abcdef", 4), "abcd... (2 more characters)");
        assert_eq!(escape_untrusted("abcd", 4), "abcd");
        // An escape is never cut in half.
        assert_eq!(escape_untrusted("abc\n", 4), "abc... (1 more characters)");
        assert_eq!(
            untrusted(&"x".repeat(10_000)).chars().count(),
            MAX_GUEST_TEXT + 26
        );
    }
}
