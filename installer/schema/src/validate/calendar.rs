//! systemd.time(7) calendar events, as `OnCalendar=` takes them: a
//! shorthand (`daily`), or `[weekdays] [[year-]month-day] [hour:minute[:second]] [timezone]`
//! where each number may be `*`, a list `1,15`, a range `1..5` and a
//! repetition `/2`. What this accepts, `systemd-analyze calendar` accepts
//! (the tests hold it to that).

pub const RULE: &str = "must be a systemd calendar event: a shorthand (minutely, hourly, daily, weekly, monthly, quarterly, semiannually, yearly) or `[Mon..Fri] [*-*-*] [HH:MM[:SS]] [timezone]`, e.g. \"*-*-* 02:30\" or \"Sat 03:00\"";

const SHORTHANDS: [&str; 9] = [
    "minutely",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "semiannually",
    "yearly",
    "annually",
];

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

pub fn is_calendar(text: &str) -> bool {
    if text.len() > 128 || !text.is_ascii() {
        return false;
    }
    if SHORTHANDS.contains(&text) {
        return true;
    }
    let mut tokens: Vec<&str> = text.split(' ').collect();
    if tokens.iter().any(|t| t.is_empty()) || tokens.len() > 4 {
        return false;
    }
    if tokens.len() > 1 && is_zone(tokens[tokens.len() - 1]) {
        tokens.pop();
    }
    if tokens
        .first()
        .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()))
    {
        if !is_weekdays(tokens[0]) {
            return false;
        }
        tokens.remove(0);
    }
    match tokens.as_slice() {
        [] => true,
        [one] if one.contains(':') => is_time(one),
        [one] => is_date(one),
        [date, time] => is_date(date) && is_time(time),
        _ => false,
    }
}

fn is_zone(token: &str) -> bool {
    token == "UTC" || (token.contains('/') && super::checks::is_timezone(token))
}

fn is_weekdays(token: &str) -> bool {
    token.split(',').all(|item| match item.split_once("..") {
        Some((from, to)) => is_day(from) && is_day(to),
        None => is_day(item),
    })
}

fn is_day(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    DAYS.contains(&lower.as_str()) || FULL_DAYS.contains(&lower.as_str())
}

/// `month-day` or `year-month-day`; the day may count from the month's end (`~`).
fn is_date(token: &str) -> bool {
    let (front, day, last) = match token.rsplit_once('~') {
        Some((front, day)) => (front, day, true),
        None => match token.rsplit_once('-') {
            Some((front, day)) => (front, day, false),
            None => return false,
        },
    };
    let day_ok = is_field(day, 1, 31, false) && !(last && day.contains('*'));
    let parts: Vec<&str> = front.split('-').collect();
    day_ok
        && match parts.as_slice() {
            [month] => is_field(month, 1, 12, false),
            [year, month] => is_field(year, 1970, 2199, false) && is_field(month, 1, 12, false),
            _ => false,
        }
}

fn is_time(token: &str) -> bool {
    let parts: Vec<&str> = token.split(':').collect();
    match parts.as_slice() {
        [hour, minute] => is_field(hour, 0, 23, false) && is_field(minute, 0, 59, false),
        [hour, minute, second] => {
            is_field(hour, 0, 23, false)
                && is_field(minute, 0, 59, false)
                && is_field(second, 0, 59, true)
        }
        _ => false,
    }
}

/// `*`, or a comma list of `n`, `n..m`, each optionally `/step`.
fn is_field(text: &str, min: u32, max: u32, fraction: bool) -> bool {
    text.split(',').all(|item| {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        let step_ok = step.is_none_or(|s| number(s, fraction).is_some_and(|n| n > 0.0));
        let base_ok = base == "*"
            || match base.split_once("..") {
                Some((from, to)) => {
                    in_range(from, min, max, fraction)
                        && in_range(to, min, max, fraction)
                        && number(from, fraction) <= number(to, fraction)
                }
                None => in_range(base, min, max, fraction),
            };
        step_ok && base_ok
    })
}

fn in_range(text: &str, min: u32, max: u32, fraction: bool) -> bool {
    number(text, fraction).is_some_and(|n| n >= f64::from(min) && n <= f64::from(max))
}

fn number(text: &str, fraction: bool) -> Option<f64> {
    let (whole, part) = match text.split_once('.') {
        Some((whole, part)) if fraction => (whole, Some(part)),
        Some(_) => return None,
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || part.is_some_and(|p| !digits(p)) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const GOOD: [&str; 14] = [
        "daily",
        "weekly",
        "*-*-* 02:30",
        "Sat 03:00",
        "Mon..Fri 22:00",
        "Sat,Sun *-*-* 04:00:00",
        "*:0/15",
        "*-*-01 03:00",
        "2027-01-01",
        "*-02~03",
        "Mon *-*-* 01:00 UTC",
        "04:00 Europe/Brussels",
        "*-1/2-1 00:00",
        "12:00:30.5",
    ];

    pub const BAD: [&str; 12] = [
        "",
        "daily\nExecStartPost=/bin/id",
        "02:61",
        "25:00",
        "Funday 03:00",
        "*-13-01",
        "daily --sshoption=x",
        "1..",
        "*-*-* 02:30 extra words",
        "$(id)",
        "Mon  03:00",
        "*-*-* 0/0:00",
    ];

    #[test]
    fn the_calendar_grammar() {
        for good in GOOD {
            assert!(is_calendar(good), "{good:?} should pass");
        }
        for bad in BAD {
            assert!(!is_calendar(bad), "{bad:?} should fail");
        }
    }

    /// What passes here, systemd itself parses (where systemd-analyze is).
    #[test]
    fn systemd_agrees_with_what_passes() {
        let Ok(out) = std::process::Command::new("systemd-analyze")
            .arg("calendar")
            .args(GOOD)
            .output()
        else {
            eprintln!("SKIP: systemd-analyze is not installed");
            return;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
