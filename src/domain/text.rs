//! Text that people read in an email: what may not be in it. Bidirectional controls
//! (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C), zero-width and other invisible
//! format characters (Unicode category Cf, U+FEFF among them) and the line and paragraph
//! separators (Zl, Zp) let a name or a merchant read differently from what it is:
//! "Shop\u{202E}gnp.exe" shows as "Shopexe.png". Ingest refuses them; the notifier strips
//! them from whatever reached the ledger another way.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

fn invisible() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(r"[\p{Cf}\p{Zl}\p{Zp}]").expect("a valid pattern"))
}

/// The first invisible format character of the text, if any.
pub fn first_invisible_format(text: &str) -> Option<char> {
    invisible().find(text).and_then(|m| m.as_str().chars().next())
}

/// The text without its invisible format characters.
pub fn strip_invisible_format(text: &str) -> Cow<'_, str> {
    if !any_invisible_format(text) {
        return Cow::Borrowed(text);
    }
    invisible().replace_all(text, "")
}

/// Whether the text holds a character of the pattern, found without running the pattern
/// over the whole text (an email's body is kilobytes of ASCII): its classes hold no ASCII
/// character, so only the others are tested, each on its own.
fn any_invisible_format(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(start) = next_non_ascii(bytes, at) {
        let Some(character) = text[start..].chars().next() else {
            return false;
        };
        if is_invisible(character) {
            return true;
        }
        at = start + character.len_utf8();
    }
    false
}

/// Characters below this have their verdict kept once the pattern gave it: an email's
/// accents, spaces and currency signs are a few dozen characters met again and again.
const REMEMBERED_BELOW: usize = 0x3000;

/// Whether the pattern matches the character alone; below [`REMEMBERED_BELOW`], asked of
/// the pattern once per character and process.
fn is_invisible(character: char) -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    const UNKNOWN: u8 = 0;
    const VISIBLE: u8 = 1;
    const INVISIBLE: u8 = 2;
    static VERDICTS: [AtomicU8; REMEMBERED_BELOW] = [const { AtomicU8::new(UNKNOWN) }; REMEMBERED_BELOW];
    let by_pattern = || invisible().is_match(character.encode_utf8(&mut [0; 4]));
    let Some(verdict) = VERDICTS.get(character as usize) else {
        return by_pattern();
    };
    match verdict.load(Ordering::Relaxed) {
        VISIBLE => false,
        INVISIBLE => true,
        _ => {
            let invisible = by_pattern();
            verdict.store(if invisible { INVISIBLE } else { VISIBLE }, Ordering::Relaxed);
            invisible
        }
    }
}

/// Where the first byte at or after `at` that is not ASCII is, sixteen bytes at a time.
fn next_non_ascii(bytes: &[u8], mut at: usize) -> Option<usize> {
    const HIGH_BITS: u128 = u128::from_ne_bytes([0x80; 16]);
    while let Some(block) = bytes.get(at..at + 16) {
        let word = u128::from_ne_bytes(block.try_into().expect("sixteen bytes"));
        if word & HIGH_BITS != 0 {
            break;
        }
        at += 16;
    }
    bytes
        .get(at..)?
        .iter()
        .position(|b| !b.is_ascii())
        .map(|offset| at + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bidi_control_and_invisible_format_character_is_found() {
        let named = [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
            '\u{200E}', '\u{200F}', '\u{061C}', '\u{2028}', '\u{2029}', '\u{FEFF}',
        ];
        // Other Cf characters: soft hyphen, zero width space/joiners, word joiner, Arabic
        // number sign, interlinear annotation, a language tag.
        let others = [
            '\u{00AD}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{0600}',
            '\u{FFF9}',
            '\u{E0041}',
        ];
        for c in named.into_iter().chain(others) {
            let text = format!("Shop{c}gnp.exe");
            assert_eq!(first_invisible_format(&text), Some(c), "U+{:04X}", c as u32);
            assert_eq!(strip_invisible_format(&text), "Shopgnp.exe");
        }
    }

    #[test]
    fn ordinary_text_of_any_script_is_left_alone() {
        for text in [
            "Café de l'Été",
            "Zoë O'Brien-Łukasz",
            "محمد",
            "東京駅",
            "Ünal Göçer",
            "tab\there",
        ] {
            assert_eq!(first_invisible_format(text), None, "{text}");
            assert!(matches!(strip_invisible_format(text), Cow::Borrowed(_)));
        }
    }

    /// Every verdict kept is the pattern's, for every character kept and a few past them.
    #[test]
    fn every_remembered_verdict_is_the_patterns_asked_twice() {
        for code in 0..REMEMBERED_BELOW as u32 + 0x200 {
            let Some(character) = char::from_u32(code) else {
                continue;
            };
            let by_pattern = invisible().is_match(&character.to_string());
            // The first time asks the pattern, the second reads what was kept.
            assert_eq!(is_invisible(character), by_pattern, "U+{code:04X}");
            assert_eq!(is_invisible(character), by_pattern, "U+{code:04X}, kept");
        }
    }

    /// The check before the pattern finds what the pattern finds: every character the
    /// tests above name, and ordinary ones, at every position of texts of every length
    /// around the sixteen-byte blocks.
    #[test]
    fn invisible_characters_are_found_wherever_they_are_in_a_text() {
        let mut characters: Vec<char> =
            ['\u{AD}', '\u{202E}', '\u{2028}', '\u{FEFF}', '\u{E0041}', '\u{110BD}'].to_vec();
        characters.extend(['e', 'é', '€', '\u{A0}', '\u{202F}', '😀', '\u{85}', '\u{AC}', '\u{AE}']);
        for length in 0..40 {
            for at in 0..=length {
                for &character in &characters {
                    let mut text: String = "a".repeat(at);
                    text.push(character);
                    text.push_str(&"b".repeat(length - at));
                    let by_pattern = invisible().replace_all(&text, "");
                    assert_eq!(strip_invisible_format(&text), by_pattern, "{text:?}");
                    assert_eq!(any_invisible_format(&text), invisible().is_match(&text), "{text:?}");
                }
            }
        }
    }
}
