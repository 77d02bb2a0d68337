//! Numbers and dates for people.

/// `1.5 MB`, decimal units like file managers show.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.digits$} {}", UNITS[unit])
}

/// `12.3 MB/s`.
pub fn speed(bytes_per_sec: f64) -> String {
    format!("{}/s", bytes(bytes_per_sec.max(0.0) as u64))
}

/// `3 s left`, `2 min left`, `1 h 5 min left`.
pub fn time_left(seconds: f64) -> String {
    let s = seconds.max(0.0).ceil() as u64;
    match s {
        0..=59 => format!("{s} s left"),
        60..=3599 => format!("{} min left", s.div_ceil(60)),
        _ => format!("{} h {} min left", s / 3600, (s % 3600) / 60),
    }
}

/// Whole percent, never 100 before the end.
pub fn percent(done: u64, total: u64) -> u64 {
    if total == 0 || done >= total {
        return if done >= total { 100 } else { 0 };
    }
    (done as f64 * 100.0 / total as f64).floor().min(99.0) as u64
}

/// An RFC 3339 timestamp in the user's locale, or as given if unparsable.
pub fn date(rfc3339: &str) -> String {
    let date = js_sys::Date::new(&rfc3339.into());
    if date.get_time().is_nan() {
        return rfc3339.to_owned();
    }
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    date.to_locale_string("default", &options).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn readable_numbers() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1500), "1.50 KB");
        assert_eq!(bytes(2_147_483_648), "2.15 GB");
        assert_eq!(bytes(999_999), "1.00 MB");
        assert_eq!(time_left(42.2), "43 s left");
        assert_eq!(time_left(125.0), "3 min left");
        assert_eq!(time_left(3900.0), "1 h 5 min left");
        assert_eq!(percent(0, 0), 100);
        assert_eq!(percent(999, 1000), 99);
        assert_eq!(percent(1000, 1000), 100);
    }
}
