//! The outbox's mailbox layout: the emails appended, a thousand to a file, to `mboxrd` files
//! (RFC 4155's `application/mbox`, with `>From ` quoting), which a mail reader opens as they
//! are and `grep` reads like the `.eml` files. It is the layout of `simulate`, whose runs send
//! a hundred thousand emails and more: one file per email costs an inode each, and on this
//! machine's filesystem a file created costs more than the rest of a transaction.
//!
//! The store's outbox index keeps each email's file, offset and length, so one email reads
//! back alone, exactly as it was rendered (its quoting taken off).

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::local::embedded::store::Span;

/// Emails per file.
pub const EMAILS_PER_FILE: i64 = 1000;

/// The file that holds email `number` (from 1).
pub fn file_of(folder: &Path, number: i64) -> PathBuf {
    let first = (number - 1).div_euclid(EMAILS_PER_FILE) * EMAILS_PER_FILE + 1;
    folder.join(format!("{first:06}-{:06}.mbox", first + EMAILS_PER_FILE - 1))
}

/// Appends messages to the mailbox files, keeping the one being filled open between them: a
/// thousand emails go to a file, and opening it for each cost as much as writing it. The
/// messages wait in a buffer until [`flush`](Appender::flush) (the store's commit of the rows
/// that point at them, or a reader): a system call per commit instead of one per email.
#[derive(Debug, Default)]
pub struct Appender {
    /// The file open for appending, and its length with the buffer's bytes.
    open: Option<(PathBuf, std::fs::File, u64)>,
    /// What is not written to the open file yet.
    buffered: Vec<u8>,
    /// A write of the buffer failed since the last commit: rows of the open group point at
    /// what it held, and that commit must fail.
    lost: bool,
}

fn lost() -> std::io::Error {
    std::io::Error::other("a write of the outbox's mailbox failed: emails of this commit are not in the file")
}

/// The most a buffer holds before it is written without waiting for a commit: about sixty
/// emails, a write each instead of one per email, and no more memory than that per mailer
/// (a tick sends a few hundred).
const BUFFER_LIMIT: usize = 256 << 10;

impl Appender {
    /// Appends one message to `file`: the `From ` separator line, the message with its lines
    /// that look like separators quoted, and the blank line that ends it. Returns where the
    /// message itself (quoted) lies.
    pub fn append(
        &mut self,
        file: &Path,
        sender: &str,
        sent_at: DateTime<Utc>,
        message: &str,
    ) -> std::io::Result<Span> {
        if self.open.as_ref().is_some_and(|open| open.0 != file) {
            self.flush()?;
            self.open = None;
        }
        let length = match &mut self.open {
            Some((_, _, length)) => length,
            open => {
                if let Some(folder) = file.parent() {
                    std::fs::create_dir_all(folder)?;
                }
                let out = std::fs::OpenOptions::new().create(true).append(true).open(file)?;
                let length = out.metadata()?.len();
                &mut open.insert((file.to_path_buf(), out, length)).2
            }
        };
        let separator = format!("From {sender} {}\n", sent_at.format("%a %b %e %H:%M:%S %Y"));
        let quoted = quote(message);
        let span = Span {
            offset: *length + separator.len() as u64,
            length: quoted.len() as u64,
        };
        let before = self.buffered.len();
        self.buffered.extend_from_slice(separator.as_bytes());
        self.buffered.extend_from_slice(quoted.as_bytes());
        if !quoted.ends_with('\n') {
            self.buffered.push(b'\n');
        }
        self.buffered.push(b'\n');
        *length += (self.buffered.len() - before) as u64;
        if self.buffered.len() >= BUFFER_LIMIT {
            self.flush()?;
        }
        Ok(span)
    }

    /// Writes what waits in the buffer to its file. After a write that failed, it fails
    /// until the commit that follows ([`flush_for_commit`](Appender::flush_for_commit)).
    pub fn flush(&mut self) -> std::io::Result<()> {
        if self.lost {
            return Err(lost());
        }
        self.write_buffer()
    }

    /// As [`flush`](Appender::flush), before the store commits the rows that point at the
    /// buffer: an error fails that commit (its rows are rolled back with it), and the
    /// appender starts clean after it.
    pub fn flush_for_commit(&mut self) -> std::io::Result<()> {
        let written = if std::mem::take(&mut self.lost) {
            Err(lost())
        } else {
            self.write_buffer()
        };
        self.lost = false;
        written
    }

    fn write_buffer(&mut self) -> std::io::Result<()> {
        if self.buffered.is_empty() {
            return Ok(());
        }
        let written = match &mut self.open {
            Some((_, out, _)) => out.write_all(&self.buffered),
            None => Ok(()),
        };
        self.buffered.clear();
        if written.is_err() {
            // How much of it is in the file is unknown: the next append looks again.
            self.open = None;
            self.lost = true;
        }
        written
    }
}

/// Reads one message back, its quoting taken off.
pub fn read(file: &Path, span: Span) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut input = std::fs::File::open(file)?;
    input.seek(SeekFrom::Start(span.offset))?;
    let mut bytes = vec![0; span.length as usize];
    input.read_exact(&mut bytes)?;
    let text = String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok(unquote(&text))
}

/// Cuts `file` back to the end of the message at `span` (what a crash wrote past the last
/// email the index holds) and removes the files after it. `None`: no email is indexed, so
/// every mailbox file goes.
pub fn truncate_after(folder: &Path, last: Option<(i64, Span)>) -> std::io::Result<()> {
    let keep = last.map(|(number, span)| (file_of(folder, number), span.offset + span.length));
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "mbox") {
            continue;
        }
        match &keep {
            Some((file, _)) if path < *file => {}
            Some((file, end)) if path == *file => {
                // The message's own newline, if it lacked one, and the blank line after it.
                let text = std::fs::read(&path)?;
                let mut cut = (*end as usize).min(text.len());
                if text.get(cut - 1) != Some(&b'\n') && text.get(cut) == Some(&b'\n') {
                    cut += 1;
                }
                if text.get(cut) == Some(&b'\n') {
                    cut += 1;
                }
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(cut as u64)?;
            }
            _ => std::fs::remove_file(&path)?,
        }
    }
    Ok(())
}

/// mboxrd: a line that starts with any number of `>` then `From ` gets one more `>`. Most
/// messages have none (their header is `From:`), and are taken as they are.
fn quote(message: &str) -> Cow<'_, str> {
    let at_line_start = |at: usize| {
        let before = message[..at].trim_end_matches('>');
        before.is_empty() || before.ends_with('\n')
    };
    if !message.match_indices("From ").any(|(at, _)| at_line_start(at)) {
        return Cow::Borrowed(message);
    }
    Cow::Owned(map_lines(message, |line| is_from_line(line).then_some(">"), |_| 0))
}

fn unquote(message: &str) -> String {
    map_lines(
        message,
        |_| None,
        |line| usize::from(line.starts_with('>') && is_from_line(&line[1..])),
    )
}

fn is_from_line(line: &str) -> bool {
    line.trim_start_matches('>').starts_with("From ")
}

fn map_lines(message: &str, prefix: impl Fn(&str) -> Option<&'static str>, drop: impl Fn(&str) -> usize) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    for line in message.split_inclusive('\n') {
        if let Some(prefix) = prefix(line) {
            out.push_str(prefix);
        }
        out.push_str(&line[drop(line)..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One message appended by an appender of its own (a runtime that sends one email).
    fn append(file: &Path, sender: &str, sent_at: DateTime<Utc>, message: &str) -> std::io::Result<Span> {
        let mut appender = Appender::default();
        let span = appender.append(file, sender, sent_at, message)?;
        appender.flush()?;
        Ok(span)
    }

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("txn-notify-mbox-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const TRICKY: &str = "Subject: x\r\n\r\nFrom here on\r\n>From there\r\n>>From afar\r\nFromage\r\n";

    /// A message waits in the buffer until the appender is flushed (the store's commit);
    /// moving on to the next file writes out what the last one was waiting for.
    #[test]
    fn messages_wait_in_the_buffer_until_flushed_and_a_new_file_writes_out_the_last() {
        let dir = folder("buffer");
        let (first, second) = (dir.join("000001-001000.mbox"), dir.join("001001-002000.mbox"));
        let at = DateTime::parse_from_rfc3339("2026-12-03T09:05:07Z").unwrap().to_utc();
        let mut appender = Appender::default();
        let one = appender
            .append(&first, "a@example.com", at, "Subject: one\r\n\r\nbody\r\n")
            .unwrap();
        let two = appender.append(&first, "a@example.com", at, TRICKY).unwrap();
        assert_eq!(
            std::fs::metadata(&first).unwrap().len(),
            0,
            "nothing written before a flush"
        );
        appender.flush().unwrap();
        assert_eq!(read(&first, one).unwrap(), "Subject: one\r\n\r\nbody\r\n");
        assert_eq!(read(&first, two).unwrap(), TRICKY);
        let three = appender
            .append(&first, "a@example.com", at, "Subject: three\r\n\r\n")
            .unwrap();
        let four = appender
            .append(&second, "a@example.com", at, "Subject: four\r\n\r\n")
            .unwrap();
        assert_eq!(read(&first, three).unwrap(), "Subject: three\r\n\r\n");
        assert_eq!(std::fs::metadata(&second).unwrap().len(), 0);
        appender.flush().unwrap();
        assert_eq!(read(&second, four).unwrap(), "Subject: four\r\n\r\n");
        // Dropped with a message waiting (a crash before the commit): it never reaches the file.
        let mut appender = Appender::default();
        appender
            .append(&second, "a@example.com", at, "Subject: five\r\n\r\n")
            .unwrap();
        let length = std::fs::metadata(&second).unwrap().len();
        drop(appender);
        assert_eq!(std::fs::metadata(&second).unwrap().len(), length);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A write that fails (a full disk: `/dev/full`) fails every flush until the commit
    /// that follows, so the rows of the emails it held never commit; then it starts clean.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_write_fails_the_commit_of_the_emails_it_held() {
        let full = Path::new("/dev/full");
        let at = DateTime::parse_from_rfc3339("2026-12-03T09:05:07Z").unwrap().to_utc();
        let mut appender = Appender::default();
        appender
            .append(full, "a@example.com", at, "Subject: one\r\n\r\n")
            .unwrap();
        assert!(appender.flush().is_err(), "the disk is full");
        assert!(appender.flush().is_err(), "a reader's flush does not clear it");
        assert!(appender.flush_for_commit().is_err(), "the commit fails");
        assert!(appender.flush_for_commit().is_ok(), "clean after that commit");
        assert!(appender.flush().is_ok());
    }

    #[test]
    fn emails_go_a_thousand_to_a_file() {
        let dir = Path::new("/o");
        assert_eq!(file_of(dir, 1), dir.join("000001-001000.mbox"));
        assert_eq!(file_of(dir, 1000), dir.join("000001-001000.mbox"));
        assert_eq!(file_of(dir, 1001), dir.join("001001-002000.mbox"));
    }

    #[test]
    fn a_message_reads_back_exactly_and_its_separator_lines_are_quoted_in_the_file() {
        let dir = folder("quote");
        let file = dir.join("000001-001000.mbox");
        let at = DateTime::parse_from_rfc3339("2026-12-03T09:05:07Z").unwrap().to_utc();
        let first = append(&file, "alerts@example.com", at, TRICKY).unwrap();
        let second = append(
            &file,
            "alerts@example.com",
            at,
            "Subject: y\r\n\r\nno newline at the end",
        )
        .unwrap();
        assert_eq!(read(&file, first).unwrap(), TRICKY);
        assert_eq!(read(&file, second).unwrap(), "Subject: y\r\n\r\nno newline at the end");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("From alerts@example.com Thu Dec  3 09:05:07 2026\n"),
            "{text}"
        );
        assert!(
            text.contains("\n>From here on\r\n>>From there\r\n>>>From afar\r\nFromage\r\n\nFrom "),
            "{text}"
        );
        // Every separator a reader splits on is one of ours.
        assert_eq!(text.lines().filter(|l| l.starts_with("From ")).count(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_lines_that_start_with_a_from_separator_are_quoted() {
        let cases = [
            "Subject: x\r\n\r\nno separator here\r\n",
            "From the start",
            "a line\nFrom here\n",
            ">From quoted\n>>From twice\n",
            "mid-line From is left alone, >From too\r\nFrom: a header is not one\r\n",
            "\n\nFrom \n",
            "x>From y\n\r\n>From",
            "",
        ];
        for message in cases {
            let slow = map_lines(message, |line| is_from_line(line).then_some(">"), |_| 0);
            assert_eq!(quote(message), slow, "{message:?}");
            assert_eq!(unquote(&quote(message)), message);
        }
        assert!(matches!(quote("Subject: x\r\nFrom: a@b\r\n\r\nbody"), Cow::Borrowed(_)));
    }

    #[test]
    fn an_appender_keeps_its_file_open_and_moves_to_the_next_one() {
        let dir = folder("appender");
        let at = Utc::now();
        let mut appender = Appender::default();
        let spans: Vec<(i64, Span)> = [1, 2, 1000, 1001]
            .into_iter()
            .map(|number| {
                let message = format!("Subject: {number}\r\n\r\nFrom the body of {number}\r\n");
                (
                    number,
                    appender
                        .append(&file_of(&dir, number), "a@example.com", at, &message)
                        .unwrap(),
                )
            })
            .collect();
        // Written out (the store's commit), one more from a fresh appender (a new runtime)
        // lands after them.
        appender.flush().unwrap();
        let later = append(&file_of(&dir, 1002), "a@example.com", at, "Subject: 1002\r\n\r\nx").unwrap();
        for (number, span) in spans {
            let text = read(&file_of(&dir, number), span).unwrap();
            assert_eq!(text, format!("Subject: {number}\r\n\r\nFrom the body of {number}\r\n"));
        }
        assert_eq!(read(&file_of(&dir, 1002), later).unwrap(), "Subject: 1002\r\n\r\nx");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn what_a_crash_wrote_past_the_index_is_cut_off() {
        let dir = folder("truncate");
        let at = Utc::now();
        let file = file_of(&dir, 1);
        let kept = append(&file, "a@example.com", at, "Subject: kept\r\n\r\nbody").unwrap();
        let whole = std::fs::read(&file).unwrap();
        append(&file, "a@example.com", at, "Subject: lost\r\n\r\nbody\r\n").unwrap();
        append(&file_of(&dir, 1001), "a@example.com", at, "Subject: lost too\r\n").unwrap();
        truncate_after(&dir, Some((1, kept))).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), whole);
        assert!(!file_of(&dir, 1001).exists());
        truncate_after(&dir, None).unwrap();
        assert!(!file.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
