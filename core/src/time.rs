//! Dates and times, on `jiff`: the one place virsnap turns epoch seconds
//! into text and back.
//!
//! - [`format_local`]: virsh's "Creation Time" column, in the local time
//!   zone `TZ` names (zoneinfo name or path, POSIX rule, empty = UTC; unset
//!   = `/etc/localtime`).
//! - [`format_utc_iso`] / [`parse_datetime`]: ISO 8601 as VirtualBox and the
//!   seed `<creationdate>` form write it.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// `%Y-%m-%d %H:%M:%S %z` of Unix time `t` in the local time zone, as
/// virsh 9.0 prints it (GLib's `g_date_time_format`: the year unpadded, the
/// offset truncated to minutes). `None` outside local years 1..=9999,
/// where GLib fails too.
///
/// Since 0.1.0.
pub fn format_local(t: i64) -> Option<String> {
    // jiff's Timestamp stops a day short of the civil range, so the offset
    // is taken at the nearest instant it holds and the civil time computed
    // from epoch seconds.
    let ts = Timestamp::from_second(t).unwrap_or(if t < 0 { Timestamp::MIN } else { Timestamp::MAX });
    let off = TimeZone::system().to_offset(ts).seconds();
    let (date, secs) = civil(t.checked_add(i64::from(off))?)?;
    if !(1..=9999).contains(&date.year()) {
        return None;
    }
    let a = off.unsigned_abs();
    Some(format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02} {}{:02}{:02}",
        date.year(),
        date.month(),
        date.day(),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        if off < 0 { '-' } else { '+' },
        a / 3600,
        a % 3600 / 60
    ))
}

/// The date and second of day `s` seconds after 1970-01-01T00:00:00.
fn civil(s: i64) -> Option<(Date, i64)> {
    let days = Span::new().try_days(s.div_euclid(86_400)).ok()?;
    Some((Date::constant(1970, 1, 1).checked_add(days).ok()?, s.rem_euclid(86_400)))
}

/// Unix time `t` as `YYYY-MM-DDTHH:MM:SSZ` (VirtualBox's `timeStamp`).
/// Times beyond jiff's civil range (years -9999..=9999) are clamped to it.
///
/// Since 0.1.0.
pub fn format_utc_iso(t: i64) -> String {
    let (date, secs) = civil(t).unwrap_or(if t < 0 { (Date::MIN, 0) } else { (Date::MAX, 86_399) });
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", date.year(), date.month(), date.day(), secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Splits a leading `YYYY-MM-DD?HH:MM:SS` off `s` (`?` one of `seps`) and
/// returns its Unix time read as UTC, with the rest of `s`. Lenient as
/// virsnap always was: a day up to 31 in any month counts on into the next
/// (`02-31` is March 3rd or 2nd), a second of 60 into the next minute.
///
/// Since 0.1.0.
pub fn parse_datetime<'a>(s: &'a str, seps: &[u8]) -> Option<(i64, &'a str)> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !seps.contains(&b[10]) || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    Some((unix_from_civil(y, mo, d, h, mi, se)?, s.get(19..)?))
}

/// Unix time of the civil date and time `y-mo-d h:mi:se` read as UTC;
/// `None` outside month 1..=12, day 1..=31, hour 0..=23, minute 0..=59,
/// second 0..=60 or jiff's years (-9999..=9999). A day past the month's
/// end counts on into the next month, a second of 60 into the next minute.
///
/// Since 0.1.0.
pub fn unix_from_civil(y: i64, mo: i64, d: i64, h: i64, mi: i64, se: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || !(0..=23).contains(&h) || !(0..=59).contains(&mi) || !(0..=60).contains(&se) {
        return None;
    }
    let first = Date::new(i16::try_from(y).ok()?, i8::try_from(mo).ok()?, 1).ok()?;
    let days = i64::from(first.since(Date::constant(1970, 1, 1)).ok()?.get_days());
    Some((days + d - 1) * 86_400 + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn iso_both_ways() {
        for t in [0, 1, 86_399, 951_782_400, 1_795_628_488, -1, -62_135_596_800, 253_402_300_799] {
            let text = format_utc_iso(t);
            assert_eq!(parse_datetime(&text, b"T"), Some((t, "Z")), "{text}");
        }
        assert_eq!(format_utc_iso(1_795_628_488), "2026-11-25T17:41:28Z");
        assert_eq!(format_utc_iso(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc_iso(-1), "1969-12-31T23:59:59Z");
        assert_eq!(parse_datetime("2010-05-03 20:13:51+02:00", b"T "), Some((1_272_917_631, "+02:00")));
        assert_eq!(parse_datetime("2010-05-03 20:13:51", b"T"), None);
        assert_eq!(parse_datetime("2010-13-03T20:13:51", b"T"), None);
        assert_eq!(parse_datetime("garbage", b"T"), None);
        // Leniency kept from the hand-written parsers.
        assert_eq!(parse_datetime("2001-02-31T00:00:00", b"T"), parse_datetime("2001-03-03T00:00:00", b"T"));
        assert_eq!(parse_datetime("2001-02-28T23:59:60", b"T"), parse_datetime("2001-03-01T00:00:00", b"T"));
    }
}
