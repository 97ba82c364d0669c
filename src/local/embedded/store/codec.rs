//! The texts the store keeps (ledger items, audit records, archived events, notifications)
//! are JSON that repeats the same names and values row after row. Each is kept as one zstd
//! frame compressed with a dictionary trained on its kind of text
//! (`scripts/train-dictionaries.py`): a kilobyte of JSON takes 100 to 150 bytes, where
//! compressing each row on its own would leave about half of it.
//!
//! | a stored value is… | read as |
//! |---|---|
//! | TEXT (a store written before compression, a row another tool wrote) | the text itself |
//! | a BLOB: a zstd frame naming one of [`DICTIONARIES`] | the frame decompressed with it |
//! | a BLOB: a zstd frame made without a dictionary | the frame decompressed |
//! | a BLOB naming a dictionary this build does not know, or not a frame | a read error of that row |
//!
//! A dictionary trained again gets a new id; the old file stays listed, so rows written
//! with it still read.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::LazyLock;

use rusqlite::types::{FromSqlError, ValueRef};
use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

/// The kinds of text, each compressed with its own dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    LedgerItem,
    AuditRecord,
    ArchivedEvent,
    Notification,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::LedgerItem,
        Kind::AuditRecord,
        Kind::ArchivedEvent,
        Kind::Notification,
    ];

    /// The dictionary new rows of this kind are written with.
    fn dictionary(self) -> &'static [u8] {
        match self {
            Kind::LedgerItem => LEDGER_1584930134,
            Kind::AuditRecord => AUDIT_439862907,
            Kind::ArchivedEvent => ARCHIVE_1183966571,
            Kind::Notification => NOTIFICATIONS_684316036,
        }
    }
}

const LEDGER_1584930134: &[u8] = include_bytes!("dictionaries/ledger-1584930134.zdict");
const AUDIT_439862907: &[u8] = include_bytes!("dictionaries/audit-439862907.zdict");
const ARCHIVE_1183966571: &[u8] = include_bytes!("dictionaries/archive-1183966571.zdict");
const NOTIFICATIONS_684316036: &[u8] = include_bytes!("dictionaries/notifications-684316036.zdict");

/// Every dictionary a stored frame may name: the current ones and any earlier one.
const DICTIONARIES: [&[u8]; 4] = [
    LEDGER_1584930134,
    AUDIT_439862907,
    ARCHIVE_1183966571,
    NOTIFICATIONS_684316036,
];

/// zstd's level: with a dictionary, levels 2 and 3 leave these texts no smaller than
/// level 1 (within 5 %) and take longer.
const LEVEL: i32 = 1;

static ENCODERS: LazyLock<Vec<EncoderDictionary<'static>>> = LazyLock::new(|| {
    Kind::ALL
        .iter()
        .map(|kind| EncoderDictionary::copy(kind.dictionary(), LEVEL))
        .collect()
});

static DECODERS: LazyLock<Vec<(u32, DecoderDictionary<'static>)>> = LazyLock::new(|| {
    DICTIONARIES
        .iter()
        .map(|dictionary| {
            let id = zstd::zstd_safe::get_dict_id_from_dict(dictionary).map_or(0, |id| id.get());
            (id, DecoderDictionary::copy(dictionary))
        })
        .collect()
});

thread_local! {
    /// A compressor per kind and a decompressor per dictionary, made once per thread.
    static COMPRESSORS: RefCell<Vec<Compressor<'static>>> = RefCell::new(
        ENCODERS
            .iter()
            .map(|dictionary| Compressor::with_prepared_dictionary(dictionary).expect("a zstd compressor"))
            .collect(),
    );
    static DECOMPRESSORS: RefCell<Vec<Decompressor<'static>>> = RefCell::new(
        DECODERS
            .iter()
            .map(|(_, dictionary)| Decompressor::with_prepared_dictionary(dictionary).expect("a zstd decompressor"))
            .collect(),
    );
}

/// The text as the store keeps it.
pub(super) fn pack(kind: Kind, text: &str) -> Vec<u8> {
    let index = Kind::ALL.iter().position(|k| *k == kind).expect("every kind is listed");
    COMPRESSORS.with(|compressors| {
        compressors.borrow_mut()[index]
            .compress(text.as_bytes())
            .expect("zstd compresses any input into a growing buffer")
    })
}

/// Why a stored value does not read back as text.
#[derive(Debug, thiserror::Error)]
pub(super) enum UnpackError {
    #[error("a stored frame names zstd dictionary {0}, which this build does not know")]
    UnknownDictionary(u32),
    #[error("a stored value is not a zstd frame of a known size")]
    NotAFrame,
    #[error("a stored frame does not decompress: {0}")]
    Corrupt(std::io::Error),
    #[error("a stored text is not UTF-8")]
    NotUtf8,
}

/// The text of a stored value (see the module's table).
pub(super) fn unpack(value: ValueRef<'_>) -> Result<Cow<'_, str>, UnpackError> {
    match value {
        ValueRef::Text(text) => std::str::from_utf8(text)
            .map(Cow::Borrowed)
            .map_err(|_| UnpackError::NotUtf8),
        ValueRef::Blob(frame) => {
            let size = match zstd::zstd_safe::get_frame_content_size(frame) {
                Ok(Some(size)) => size as usize,
                _ => return Err(UnpackError::NotAFrame),
            };
            let bytes = match zstd::zstd_safe::get_dict_id_from_frame(frame) {
                // A frame made without a dictionary.
                None => zstd::bulk::decompress(frame, size).map_err(UnpackError::Corrupt)?,
                Some(id) => {
                    let index = DECODERS
                        .iter()
                        .position(|(known, _)| *known == id.get())
                        .ok_or(UnpackError::UnknownDictionary(id.get()))?;
                    DECOMPRESSORS.with(|decompressors| {
                        decompressors.borrow_mut()[index]
                            .decompress(frame, size)
                            .map_err(UnpackError::Corrupt)
                    })?
                }
            };
            String::from_utf8(bytes)
                .map(Cow::Owned)
                .map_err(|_| UnpackError::NotUtf8)
        }
        _ => Err(UnpackError::NotAFrame),
    }
}

/// [`unpack`] as a column read of rusqlite.
pub(super) fn text_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<String> {
    let value = row.get_ref(index)?;
    unpack(value).map(Cow::into_owned).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            value.data_type(),
            Box::new(FromSqlError::Other(Box::new(error))),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_what_it_packed_and_takes_far_less() {
        let audit = r#"{"event_id":"71d1aae2-59e4-5e8f-b345-8e3736e2a57b","account_id":"acc-002a-00014","occurred_at":"2026-12-05T09:28:21.374843171Z","detail_type":"Transaction Recorded","source":"txn-notify","detail":{"account_id":"acc-002a-00014","category":"shopping","change":"inserted","event_id":"71d1aae2-59e4-5e8f-b345-8e3736e2a57b","findings":[],"occurred_at":"2026-12-05T09:28:21.374843171Z","schema_version":1,"severity":"info","transaction":{"account_id":"acc-002a-00014","amount_minor":11421,"balance_after_minor":141065,"booked_at":"2026-12-05T09:28:21.374843171Z","card_last4":"1500","channel":"pos","currency":"EUR","kind":"card_purchase","merchant":{"city":"Paris","country":"FR","mcc":"5651","name":"Zara"},"status":"approved","transaction_id":"txn-002a-0003621"}},"replay_name":null,"received_at":"2026-12-06T05:07:40.201132066Z","expires_at":1830748060}"#;
        for kind in Kind::ALL {
            let packed = pack(kind, audit);
            assert_eq!(unpack(ValueRef::Blob(&packed)).unwrap(), audit);
        }
        assert!(pack(Kind::AuditRecord, audit).len() * 4 < audit.len());
        // Any text, even one unlike the dictionary's and not JSON.
        for text in ["", "é", "x\u{0}y", &"z".repeat(100_000)] {
            assert_eq!(unpack(ValueRef::Blob(&pack(Kind::LedgerItem, text))).unwrap(), text);
        }
    }

    #[test]
    fn a_text_value_reads_as_itself_and_a_frame_of_no_dictionary_too() {
        assert_eq!(unpack(ValueRef::Text(b"{\"a\":1}")).unwrap(), "{\"a\":1}");
        let plain = zstd::bulk::compress(b"{}", 3).unwrap();
        assert_eq!(unpack(ValueRef::Blob(&plain)).unwrap(), "{}");
    }

    #[test]
    fn what_is_not_a_frame_of_a_known_dictionary_is_an_error() {
        assert!(matches!(
            unpack(ValueRef::Blob(b"not zstd")),
            Err(UnpackError::NotAFrame)
        ));
        assert!(matches!(unpack(ValueRef::Integer(1)), Err(UnpackError::NotAFrame)));
        let packed = pack(Kind::Notification, "{\"decision\":\"sent\"}");
        assert!(
            unpack(ValueRef::Blob(&packed[..packed.len() - 2])).is_err(),
            "a cut frame"
        );
        // The same frame naming a dictionary this build does not have.
        let id = zstd::zstd_safe::get_dict_id_from_frame(&packed).unwrap().get();
        let at = packed
            .windows(4)
            .position(|w| w == id.to_le_bytes())
            .expect("the id in the header");
        let mut foreign = packed.clone();
        foreign[at..at + 4].copy_from_slice(&(id ^ 0x5a5a_5a5a).to_le_bytes());
        assert!(matches!(
            unpack(ValueRef::Blob(&foreign)),
            Err(UnpackError::UnknownDictionary(other)) if other == id ^ 0x5a5a_5a5a
        ));
    }
}
