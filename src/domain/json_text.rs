//! JSON text written straight from typed values, for the processor's hot path: a transaction
//! snapshot and the details of the events about a transaction are written once each, into
//! their own buffer, with no serializer state machine in between.
//!
//! It writes exactly what serde_json writes for the same values: keys in declaration order,
//! integers as `itoa` prints them, strings escaped as serde_json escapes them. The derived
//! `Serialize` impls stay the reference; the differential tests of `events` hold each writer
//! to them, and those below hold the strings to serde_json's.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::money::Money;
use super::time::format_rfc3339_into;

/// An object key as written, `"name":`, made at compile time by `json_key!` (a key is a
/// field name of our own types: plain ASCII, nothing to escape).
#[derive(Clone, Copy)]
pub struct JsonKey(&'static str);

impl JsonKey {
    /// For `json_key!` only.
    #[doc(hidden)]
    pub const fn quoted(text: &'static str) -> JsonKey {
        JsonKey(text)
    }
}

/// `json_key!("name")`: the key `"name":`, written in one copy.
macro_rules! json_key {
    ($name:literal) => {
        $crate::domain::json_text::JsonKey::quoted(concat!("\"", $name, "\":"))
    };
}
pub(crate) use json_key;

/// A JSON object being written; `close` ends it.
pub struct ObjectWriter<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> ObjectWriter<'o> {
    pub fn open(out: &'o mut String) -> ObjectWriter<'o> {
        out.push('{');
        ObjectWriter { out, first: true }
    }

    fn key(&mut self, key: JsonKey) {
        debug_assert!(
            key.0.len() >= 3
                && key.0.starts_with('"')
                && key.0.ends_with("\":")
                && !needs_escape(&key.0.as_bytes()[1..key.0.len() - 2]),
            "{} is a plain name",
            key.0
        );
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(key.0);
    }

    pub fn str(&mut self, key: JsonKey, value: &str) -> &mut Self {
        self.key(key);
        write_string(self.out, value);
        self
    }

    /// Omitted when None (`skip_serializing_if = "Option::is_none"`).
    pub fn opt_str(&mut self, key: JsonKey, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.str(key, value);
        }
        self
    }

    pub fn int(&mut self, key: JsonKey, value: impl itoa::Integer) -> &mut Self {
        self.key(key);
        self.out.push_str(itoa::Buffer::new().format(value));
        self
    }

    pub fn time(&mut self, key: JsonKey, time: &DateTime<Utc>) -> &mut Self {
        self.key(key);
        format_rfc3339_into(time, self.out);
        self
    }

    pub fn money(&mut self, key: JsonKey, money: &Money) -> &mut Self {
        self.object(key, |object| {
            object
                .int(json_key!("amount_minor"), money.amount_minor)
                .str(json_key!("currency"), money.currency.code());
        })
    }

    /// Text that is already JSON, copied as it is.
    pub fn raw(&mut self, key: JsonKey, json: &str) -> &mut Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    /// A value of the cold path (metadata), written by serde_json.
    pub fn serde(&mut self, key: JsonKey, value: &impl Serialize) -> &mut Self {
        self.key(key);
        self.out
            .push_str(&serde_json::to_string(value).expect("values of our own types serialize"));
        self
    }

    /// A key, then a value its own writer writes.
    pub fn key_then(&mut self, key: JsonKey, value: impl FnOnce(&mut String)) -> &mut Self {
        self.key(key);
        value(self.out);
        self
    }

    pub fn object(&mut self, key: JsonKey, fields: impl FnOnce(&mut ObjectWriter<'_>)) -> &mut Self {
        self.key(key);
        let mut object = ObjectWriter::open(self.out);
        fields(&mut object);
        object.close();
        self
    }

    pub fn array<T>(
        &mut self,
        key: JsonKey,
        items: impl IntoIterator<Item = T>,
        mut element: impl FnMut(&mut String, T),
    ) -> &mut Self {
        self.key(key);
        self.out.push('[');
        for (at, item) in items.into_iter().enumerate() {
            if at > 0 {
                self.out.push(',');
            }
            element(self.out, item);
        }
        self.out.push(']');
        self
    }

    pub fn close(self) {
        self.out.push('}');
    }
}

/// A JSON string as serde_json writes it. The value is copied first and checked where it
/// landed: a short one in the sixteen bytes that end with it, one load with no copy into a
/// padded block (the bytes before it are masked off); one that needs escapes is taken back
/// and written again run by run ([`write_escaped`]).
pub fn write_string(out: &mut String, value: &str) {
    let start = out.len();
    out.reserve(value.len() + 2);
    out.push('"');
    out.push_str(value);
    let written = out.as_bytes();
    let special = if value.len() < 16 && written.len() >= 16 {
        special_in_last(
            written[written.len() - 16..].try_into().expect("sixteen bytes"),
            value.len(),
        )
    } else {
        needs_escape(value.as_bytes())
    };
    if special {
        out.truncate(start);
        write_escaped(out, value);
        return;
    }
    out.push('"');
}

/// The length of what [`write_string`] writes for `value`, quotes included: for a buffer
/// sized once (an SQS event of a hundred 50 KB statements, whose bodies are a fifth quotes,
/// would otherwise grow by doubling to twice its size).
pub fn written_len(value: &str) -> usize {
    let bytes = value.as_bytes();
    let mut len = bytes.len() + 2;
    let mut at = 0;
    while let Some(offset) = first_special(&bytes[at..]) {
        let special = at + offset;
        len += match bytes[special] {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0C => 1,
            _ => 5,
        };
        at = special + 1;
    }
    len
}

/// A JSON string with escapes, as serde_json escapes it: the runs between special bytes
/// copied whole (found sixteen bytes at a time), each special byte escaped. A JSON text
/// carried as a string (an SQS message's body) has a quote every few bytes: serde_json
/// looks each byte up and writes each run through its writer.
fn write_escaped(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    // A quote every eight bytes or so, for a JSON text.
    out.reserve(bytes.len() + bytes.len() / 8 + 2);
    out.push('"');
    let mut at = 0;
    while let Some(offset) = first_special(&bytes[at..]) {
        let special = at + offset;
        // A special byte is ASCII: both ends of the run are character boundaries.
        out.push_str(&value[at..special]);
        push_escape(out, bytes[special]);
        at = special + 1;
    }
    out.push_str(&value[at..]);
    out.push('"');
}

/// The escape serde_json writes for a special byte: JSON's short forms, else `\u00` and
/// two lower-case hex digits.
fn push_escape(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => "\\\"",
        b'\\' => "\\\\",
        b'\n' => "\\n",
        b'\r' => "\\r",
        b'\t' => "\\t",
        0x08 => "\\b",
        0x0C => "\\f",
        _ => {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0F)]));
            return;
        }
    };
    out.push_str(short);
}

/// Whether any of the last `count` (at most 16) bytes of `block` is special.
#[inline]
fn special_in_last(block: &[u8; 16], count: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // The block's last `count` bytes are the top `count` bits of its mask.
        (sse2::special_mask(block) >> (16 - count)) != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        first_special_by_words(&block[16 - count..]).is_some()
    }
}

/// Whether a byte is one JSON escapes: `"`, `\` or a control character below 0x20.
fn needs_escape(bytes: &[u8]) -> bool {
    first_special(bytes).is_some()
}

/// Where the first byte JSON treats specially inside a string is (`"`, `\` or a control
/// character below 0x20): how a reader finds a string's end and a writer whether it must
/// escape. Sixteen bytes at a time with SSE2 (part of every x86-64), eight at a time in a
/// machine word elsewhere.
#[inline]
pub fn first_special(bytes: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::first_special(bytes)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        first_special_by_words(bytes)
    }
}

/// `first_special` eight bytes at a time, in a machine word (the tests hold it to a byte
/// by byte scan on every machine).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn first_special_by_words(bytes: &[u8]) -> Option<usize> {
    let mut offset = 0;
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let special = special_bytes_of_word(word);
        if special != 0 {
            return Some(offset + (special.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|p| offset + p)
}

/// The high bit of each byte of `word` that is special: a byte equal to `"` or `\` has a
/// zero XOR, and one below 0x20 borrows when 0x20 is taken from it.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn special_bytes_of_word(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    zero_in(word ^ (ONES * b'"' as u64))
        | zero_in(word ^ (ONES * b'\\' as u64))
        | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// `first_special` sixteen bytes at a time. A tail shorter than a block (most keys and
    /// values are) is checked in a copy padded with spaces, never read past its end.
    #[inline]
    pub(super) fn first_special(bytes: &[u8]) -> Option<usize> {
        let mut offset = 0;
        while offset + 16 <= bytes.len() {
            let mask = special_mask(bytes[offset..offset + 16].try_into().expect("sixteen bytes"));
            if mask != 0 {
                return Some(offset + mask.trailing_zeros() as usize);
            }
            offset += 16;
        }
        let tail = &bytes[offset..];
        if !tail.is_empty() {
            let mut padded = [b' '; 16];
            padded[..tail.len()].copy_from_slice(tail);
            let mask = special_mask(&padded);
            if mask != 0 {
                return Some(offset + mask.trailing_zeros() as usize);
            }
        }
        None
    }

    /// A bit per byte of `block` that is `"`, `\` or below 0x20.
    #[inline(always)]
    pub(super) fn special_mask(block: &[u8; 16]) -> u32 {
        // SAFETY: SSE2 is in every x86-64 CPU; the load is unaligned and reads the sixteen
        // bytes of `block`.
        unsafe {
            let block = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(block, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(block, _mm_set1_epi8(b'\\' as i8));
            // min(b, 0x1F) == b exactly when b <= 0x1F (unsigned).
            let control = _mm_cmpeq_epi8(_mm_min_epu8(block, _mm_set1_epi8(0x1F)), block);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(value: &str) -> String {
        let mut out = String::new();
        write_string(&mut out, value);
        out
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for value in [
            "",
            "plain",
            "quote \" inside",
            "back\\slash",
            "\u{0}\u{1f}\n\r\t\u{8}\u{c}",
            "\u{7f} del and é€😀 are kept",
            "seven!!",
            "exactly8",
            "sixteen bytes!!!\"",
            "</script>",
        ] {
            assert_eq!(written(value), serde_json::to_string(value).unwrap(), "{value:?}");
        }
    }

    proptest! {
        #[test]
        fn a_string_thick_with_special_bytes_is_written_as_serde_json_writes_it(
            value in "[\"\\\\\\x00-\\x1f\\x7f a-z/é€😀]{0,80}"
        ) {
            prop_assert_eq!(written(&value), serde_json::to_string(&value).unwrap());
        }

        #[test]
        fn any_string_is_written_as_serde_json_writes_it(value in any::<String>()) {
            prop_assert_eq!(written(&value), serde_json::to_string(&value).unwrap());
        }

        #[test]
        fn the_written_length_is_known_before_writing(value in "[\"\\\\\\x00-\\x1f\\x7f a-z/é€😀]{0,80}", other in any::<String>()) {
            prop_assert_eq!(written_len(&value), written(&value).len());
            prop_assert_eq!(written_len(&other), written(&other).len());
        }

        /// After text of its own (quotes, escapes, controls: what the last block also holds).
        #[test]
        fn any_string_after_any_text_is_written_as_serde_json_writes_it(before in any::<String>(), value in any::<String>()) {
            let mut out = before.clone();
            write_string(&mut out, &value);
            prop_assert_eq!(out, format!("{before}{}", serde_json::to_string(&value).unwrap()));
        }

        #[test]
        fn a_byte_needs_escaping_wherever_it_stands(
            prefix in "[a-z]{0,20}",
            special in prop::sample::select(vec!['"', '\\', '\u{0}', '\u{1f}', '\n']),
            suffix in "[a-z]{0,20}",
        ) {
            let value = format!("{prefix}{special}{suffix}");
            prop_assert!(needs_escape(value.as_bytes()));
            let plain = format!("{prefix}{suffix}");
            prop_assert!(!needs_escape(plain.as_bytes()));
        }

        /// Every length across the 16- and 8-byte blocks and the tail, every byte value
        /// (0x20 and 0x1F, 0x7F and 0x80 and above are where a sign or a borrow would err).
        #[test]
        fn the_first_special_byte_is_found_as_a_byte_by_byte_scan_finds_it(
            bytes in prop::collection::vec(
                prop_oneof![4 => 0x20u8..=0x7F, 1 => any::<u8>(), 1 => prop::sample::select(vec![b'"', b'\\', 0x1F, 0x20, 0x7F, 0x80, 0xFF, 0])],
                0..80,
            ),
        ) {
            let expected = bytes.iter().position(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(first_special(&bytes), expected);
            prop_assert_eq!(first_special_by_words(&bytes), expected);
            prop_assert_eq!(needs_escape(&bytes), expected.is_some());
        }
    }

    /// Every short length after every length of text made of quotes (each byte before the
    /// value special), with a special byte at each place of the value or none.
    #[test]
    fn a_short_string_is_judged_by_its_own_bytes_alone() {
        for before in 0..40 {
            for length in 0..20 {
                for special in [None, Some('"'), Some('\\'), Some('\u{1}')] {
                    for at in 0..length.max(1) {
                        let mut value: Vec<char> = vec!['a'; length];
                        if let Some(special) = special {
                            if length == 0 {
                                continue;
                            }
                            value[at] = special;
                        }
                        let value: String = value.into_iter().collect();
                        let mut out = "\"".repeat(before);
                        write_string(&mut out, &value);
                        let expected = format!("{}{}", "\"".repeat(before), serde_json::to_string(&value).unwrap());
                        assert_eq!(out, expected, "{before} {length} {special:?} {at}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_special_byte_is_found_at_every_position_of_every_length() {
        for length in 0..70 {
            let plain = vec![b'a'; length];
            assert_eq!(first_special(&plain), None, "{length}");
            assert_eq!(first_special_by_words(&plain), None, "{length}");
            assert!(!needs_escape(&plain), "{length}");
            for at in 0..length {
                for special in [b'"', b'\\', 0x00, 0x1F] {
                    let mut bytes = plain.clone();
                    bytes[at] = special;
                    // A later special byte must not be the one found.
                    if at + 1 < length {
                        bytes[length - 1] = b'"';
                    }
                    assert_eq!(first_special(&bytes), Some(at), "{length} {at} {special}");
                    assert_eq!(first_special_by_words(&bytes), Some(at), "{length} {at} {special}");
                    assert!(needs_escape(&bytes[..=at]), "{length} {at} {special}");
                    assert!(needs_escape(&bytes[at..]), "{length} {at} {special}");
                }
            }
        }
    }

    #[test]
    fn an_object_is_written_as_a_struct_serializes() {
        #[derive(Serialize)]
        struct Shape<'a> {
            name: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            city: Option<&'a str>,
            count: i64,
            inner: Money,
            tags: Vec<&'a str>,
            raw: serde_json::Value,
        }
        let money = Money::new(-1_250, crate::domain::money::Currency::from_code("EUR").unwrap());
        let shape = Shape {
            name: "a \"name\"",
            city: None,
            count: i64::MIN,
            inner: money,
            tags: vec!["x", "y\n"],
            raw: serde_json::json!({"k": [1, 2.5, null]}),
        };
        let mut out = String::new();
        let mut object = ObjectWriter::open(&mut out);
        object
            .str(json_key!("name"), shape.name)
            .opt_str(json_key!("city"), shape.city)
            .int(json_key!("count"), shape.count)
            .money(json_key!("inner"), &shape.inner)
            .array(json_key!("tags"), &shape.tags, |out, tag| write_string(out, tag))
            .raw(json_key!("raw"), &shape.raw.to_string());
        object.close();
        assert_eq!(out, serde_json::to_string(&shape).unwrap());
    }
}
