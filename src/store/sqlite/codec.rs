//! Conversions between Rust values and the SQLite columns: timestamps as fixed-width
//! RFC 3339 text, JSON bodies, and the integer columns. Every decoding failure becomes
//! `StoreError::Corrupt` naming the row it came from, so a bad row is reported, never a panic.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{DeserializeOwned, Error as _};
use serde::Serialize;

use crate::store::{Result, StoreError};

/// A timestamp as stored: UTC, exactly nine fractional digits and a `Z`, so that comparing
/// the text (as `ORDER BY` does) orders by time, and reading it back gives the same value.
pub(super) fn encode_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(super) fn decode_time(text: &str, what: impl FnOnce() -> String) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|e| {
            corrupt(
                what(),
                serde_json::Error::custom(format!("bad timestamp {text:?}: {e}")),
            )
        })
}

/// Serialises a body for a JSON column. Baton's types always serialise, but the failure is
/// still an error (an encoding one), not a panic.
pub(super) fn encode_json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))
}

pub(super) fn decode_json<T: DeserializeOwned>(
    text: &str,
    what: impl FnOnce() -> String,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(what(), e))
}

/// A version number read from an INTEGER column.
pub(super) fn decode_version(value: i64, what: impl FnOnce() -> String) -> Result<u32> {
    u32::try_from(value)
        .ok()
        .filter(|version| *version >= 1)
        .ok_or_else(|| {
            corrupt(
                what(),
                serde_json::Error::custom(format!("bad version {value}")),
            )
        })
}

pub(super) fn corrupt(what: String, source: serde_json::Error) -> StoreError {
    StoreError::Corrupt { what, source }
}

/// True when `error` is SQLite refusing a row that a unique key already holds.
pub(super) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// True when `error` is SQLite refusing a row whose pipeline is not stored.
pub(super) fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    #[test]
    fn times_are_fixed_width_and_sort_as_text() {
        let base = Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap();
        let times = [
            base,
            base + Duration::nanoseconds(1),
            base + Duration::microseconds(999_999),
            base + Duration::seconds(1),
            base + Duration::days(400),
        ];
        let texts: Vec<String> = times.iter().copied().map(encode_time).collect();
        assert_eq!(texts[0], "2025-03-04T05:06:07.000000000Z");
        assert!(texts.iter().all(|text| text.len() == texts[0].len()));
        assert!(texts.windows(2).all(|pair| pair[0] < pair[1]));
        for (time, text) in times.iter().zip(&texts) {
            assert_eq!(decode_time(text, String::new).unwrap(), *time);
        }
    }

    #[test]
    fn bad_values_are_corrupt_and_named() {
        let err = decode_time("yesterday", || "event 7".to_owned()).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { what, .. } if what == "event 7"),
            "{err}"
        );

        let err = decode_json::<Vec<u32>>("[1, 2", || "execution x".to_owned()).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { what, .. } if what == "execution x"),
            "{err}"
        );

        assert!(decode_version(0, String::new).is_err());
        assert!(decode_version(i64::from(u32::MAX) + 1, String::new).is_err());
        assert_eq!(decode_version(3, String::new).unwrap(), 3);
    }
}
