//! A JSON reader by hand, for the hot paths that read a known shape out of a large text (a
//! stream batch, an SQS batch): it validates the JSON as serde_json does (whitespace,
//! strings and their escapes, control characters, numbers, literals) and says, where it
//! stops, whether the text is not JSON at all or only not of a shape it reads, so that its
//! caller hands that part to serde. Strings are found sixteen bytes at a time
//! ([`first_special`]); one with escapes is decoded run by run.
//!
//! `M` is the caller's own state (how the stream reader takes a NewImage); each caller adds
//! the methods of its shape in its own module.

use std::borrow::Cow;

use crate::domain::json_text::first_special;

/// Deeper than any DynamoDB item nests (32 levels): left to serde.
pub(crate) const MAX_DEPTH: usize = 64;

/// Why a value was not read here: the input is not valid JSON (the whole text goes to the
/// slow path), or it is but this reader does not read it (serde reads that part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unread {
    Invalid,
    NotMine,
}

pub(crate) type Read<T> = Result<T, Unread>;

pub(crate) struct JsonReader<'a, M> {
    pub(crate) text: &'a str,
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
    pub(crate) mode: M,
}

impl<'a, M> JsonReader<'a, M> {
    pub(crate) fn new(text: &'a str, mode: M) -> Self {
        JsonReader {
            text,
            bytes: text.as_bytes(),
            at: 0,
            mode,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    pub(crate) fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    pub(crate) fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    pub(crate) fn space(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    /// A top-level key: only one without escapes is read here.
    pub(crate) fn plain_key(&mut self) -> Option<&'a str> {
        match self.string() {
            Ok(Cow::Borrowed(key)) => Some(key),
            _ => None,
        }
    }

    /// Runs `field` on each member of an object; a name given twice is not read here (the
    /// derive refuses it).
    pub(crate) fn object(&mut self, mut field: impl FnMut(&mut Self, Cow<'a, str>) -> Read<()>) -> Read<()> {
        self.object_with(&mut (), |_, _| false, |reader, _, key| field(reader, key))
    }

    /// `object`, where `member` first tries each member whole (true: read, up to its end);
    /// what it does not take goes to `field` with its name read. Both fill `state`.
    pub(crate) fn object_with<S>(
        &mut self,
        state: &mut S,
        mut member: impl FnMut(&mut Self, &mut S) -> bool,
        mut field: impl FnMut(&mut Self, &mut S, Cow<'a, str>) -> Read<()>,
    ) -> Read<()> {
        if self.next().ok_or(Unread::Invalid)? != b'{' {
            return Err(Unread::NotMine);
        }
        self.space();
        if self.peek().ok_or(Unread::Invalid)? == b'}' {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.space();
            if self.peek().ok_or(Unread::Invalid)? != b'"' {
                return Err(Unread::Invalid);
            }
            if !member(self, state) {
                let key = match self.plain_name() {
                    Some(key) => key,
                    None => {
                        let key = self.string()?;
                        self.space();
                        if self.next().ok_or(Unread::Invalid)? != b':' {
                            return Err(Unread::Invalid);
                        }
                        key
                    }
                };
                self.space();
                field(self, state, key)?;
            }
            self.space();
            match self.next().ok_or(Unread::Invalid)? {
                b',' => continue,
                b'}' => return Ok(()),
                _ => return Err(Unread::Invalid),
            }
        }
    }

    /// A member's name with nothing to decode and its colon right after it (`"name":`), the
    /// reader then past the colon; anything else consumes nothing.
    #[inline]
    pub(crate) fn plain_name(&mut self) -> Option<Cow<'a, str>> {
        let (name, end) = self.plain_string_at(self.at)?;
        if self.bytes.get(end) != Some(&b':') {
            return None;
        }
        self.at = end + 1;
        Some(Cow::Borrowed(name))
    }

    /// The string whose opening quote is at `at`, when it holds nothing to decode, and
    /// where it ends (past its closing quote).
    #[inline(always)]
    pub(crate) fn plain_string_at(&self, at: usize) -> Option<(&'a str, usize)> {
        if self.bytes.get(at) != Some(&b'"') {
            return None;
        }
        let start = at + 1;
        let end = start + first_special(self.bytes.get(start..)?)?;
        (self.bytes[end] == b'"').then(|| (&self.text[start..end], end + 1))
    }

    pub(crate) fn list<T>(&mut self, mut element: impl FnMut(&mut Self) -> Read<T>) -> Read<Vec<T>> {
        if self.next().ok_or(Unread::Invalid)? != b'[' {
            return Err(Unread::NotMine);
        }
        let mut items = Vec::new();
        self.space();
        if self.peek().ok_or(Unread::Invalid)? == b']' {
            self.at += 1;
            return Ok(items);
        }
        loop {
            self.space();
            items.push(element(self)?);
            self.space();
            match self.next().ok_or(Unread::Invalid)? {
                b',' => continue,
                b']' => return Ok(items),
                _ => return Err(Unread::Invalid),
            }
        }
    }

    pub(crate) fn boolean(&mut self) -> Read<bool> {
        match self.peek().ok_or(Unread::Invalid)? {
            b't' => self.word(b"true").map(|_| true),
            b'f' => self.word(b"false").map(|_| false),
            _ => Err(Unread::NotMine),
        }
    }

    /// Null, or else nothing consumed.
    pub(crate) fn literal_null(&mut self) -> Read<bool> {
        if self.peek() == Some(b'n') {
            self.word(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    pub(crate) fn word(&mut self, word: &[u8]) -> Read<()> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(Unread::Invalid)
        }
    }

    /// The text of a number, checked against JSON's grammar; not a number: not read here.
    pub(crate) fn number_text(&mut self) -> Read<&'a str> {
        let start = self.at;
        match self.peek().ok_or(Unread::Invalid)? {
            b'-' | b'0'..=b'9' => self.skip_number()?,
            _ => return Err(Unread::NotMine),
        }
        Ok(&self.text[start..self.at])
    }

    /// Where the next `"`, `\\` or control character is, from `at`.
    pub(crate) fn special_from(&self, at: usize) -> Read<usize> {
        first_special(&self.bytes[at..])
            .map(|offset| at + offset)
            .ok_or(Unread::Invalid)
    }

    /// A string that opens here, its escapes decoded; a `\u` escape is left to serde (it
    /// judges surrogates as it reads).
    pub(crate) fn string(&mut self) -> Read<Cow<'a, str>> {
        // Most strings hold nothing to decode: one scan to their closing quote.
        if let Some((text, end)) = self.plain_string_at(self.at) {
            self.at = end;
            return Ok(Cow::Borrowed(text));
        }
        self.at += 1;
        let start = self.at;
        let mut owned: Option<String> = None;
        let mut run = start;
        loop {
            self.at = self.special_from(self.at)?;
            match self.bytes[self.at] {
                b'"' => {
                    let tail = &self.text[run..self.at];
                    self.at += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut text) => {
                            text.push_str(tail);
                            Cow::Owned(text)
                        }
                    });
                }
                b'\\' => {
                    let text = owned.get_or_insert_with(String::new);
                    text.push_str(&self.text[run..self.at]);
                    let decoded = match self.bytes.get(self.at + 1).ok_or(Unread::Invalid)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => match self.unicode_escape() {
                            Some((decoded, length)) => {
                                text.push(decoded);
                                self.at += length;
                                run = self.at;
                                continue;
                            }
                            // A lone surrogate, or not hex: serde says which.
                            None => {
                                self.skip_string_from(self.at)?;
                                return Err(Unread::NotMine);
                            }
                        },
                        _ => return Err(Unread::Invalid),
                    };
                    text.push(decoded);
                    self.at += 2;
                    run = self.at;
                }
                _ => return Err(Unread::Invalid),
            }
        }
    }

    /// The character of the `\\uXXXX` escape at `at` (a surrogate pair counts as one) and
    /// the length of its text; None for anything but a scalar value.
    pub(crate) fn unicode_escape(&self) -> Option<(char, usize)> {
        let hex = |from: usize| -> Option<u32> {
            let digits = std::str::from_utf8(self.bytes.get(from..from + 4)?).ok()?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(digits, 16).ok()
        };
        let first = hex(self.at + 2)?;
        match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.at + 6..self.at + 8)? != b"\\u" {
                    return None;
                }
                let second = hex(self.at + 8)?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return None;
                }
                char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)).map(|c| (c, 12))
            }
            0xDC00..=0xDFFF => None,
            _ => char::from_u32(first).map(|c| (c, 6)),
        }
    }

    /// Checks the rest of a string from `at` (inside it) as serde's ignore would.
    pub(crate) fn skip_string_from(&mut self, at: usize) -> Read<()> {
        self.at = at;
        loop {
            self.at = self.special_from(self.at)?;
            match self.bytes[self.at] {
                b'"' => {
                    self.at += 1;
                    return Ok(());
                }
                b'\\' => match self.bytes.get(self.at + 1).ok_or(Unread::Invalid)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
                    b'u' => {
                        let hex = self.bytes.get(self.at + 2..self.at + 6).ok_or(Unread::Invalid)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(Unread::Invalid);
                        }
                        self.at += 6;
                    }
                    _ => return Err(Unread::Invalid),
                },
                _ => return Err(Unread::Invalid),
            }
        }
    }

    pub(crate) fn skip_number(&mut self) -> Read<()> {
        let digits = |reader: &mut Self| {
            let start = reader.at;
            while matches!(reader.peek(), Some(b'0'..=b'9')) {
                reader.at += 1;
            }
            reader.at - start
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.at += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(Unread::Invalid);
                }
            }
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(Unread::Invalid),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(Unread::Invalid);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(Unread::Invalid);
            }
        }
        Ok(())
    }

    /// Checks and passes any value, as serde's ignore does (at any depth).
    pub(crate) fn skip_value(&mut self, depth: usize) -> Read<()> {
        match self.peek().ok_or(Unread::Invalid)? {
            b'"' => self.skip_string_from(self.at + 1),
            b'-' | b'0'..=b'9' => self.skip_number(),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            b'[' => {
                if depth > MAX_DEPTH {
                    return Err(Unread::NotMine);
                }
                self.at += 1;
                self.space();
                if self.peek().ok_or(Unread::Invalid)? == b']' {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    self.space();
                    self.skip_value(depth + 1)?;
                    self.space();
                    match self.next().ok_or(Unread::Invalid)? {
                        b',' => continue,
                        b']' => return Ok(()),
                        _ => return Err(Unread::Invalid),
                    }
                }
            }
            b'{' => {
                if depth > MAX_DEPTH {
                    return Err(Unread::NotMine);
                }
                self.object(|reader, _| reader.skip_value(depth + 1))
            }
            _ => Err(Unread::Invalid),
        }
    }
}

/// A field read once; a second time, not read here (serde's derive refuses it).
pub(crate) fn once<T>(slot: &mut Option<T>, value: T) -> Read<()> {
    if slot.is_some() {
        return Err(Unread::NotMine);
    }
    *slot = Some(value);
    Ok(())
}
