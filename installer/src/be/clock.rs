//! Times as environments and snapshots are named and shown, in UTC.

/// "2026-12-04 10:31"
pub fn minute(epoch: u64) -> String {
    let (date, h, m, _) = parts(epoch);
    format!("{date} {h:02}:{m:02}")
}

/// "20261204-103105", for names.
pub fn stamp(epoch: u64) -> String {
    let (date, h, m, s) = parts(epoch);
    format!("{}-{h:02}{m:02}{s:02}", date.replace('-', ""))
}

fn parts(epoch: u64) -> (String, u64, u64, u64) {
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    let (y, mo, d) = civil(days as i64);
    (
        format!("{y:04}-{mo:02}-{d:02}"),
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_gregorian_utc() {
        assert_eq!(minute(0), "1970-01-01 00:00");
        // 2026-12-04 10:31:05 UTC
        assert_eq!(minute(1_796_380_265), "2026-12-04 10:31");
        assert_eq!(stamp(1_796_380_265), "20261204-103105");
        // A leap day.
        assert_eq!(minute(1_709_164_800), "2024-02-29 00:00");
    }
}
