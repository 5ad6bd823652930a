//! Logging in Redis's line format (`pid:M 03 Dec 2026 17:48:58.123 * message`) through
//! `tracing`, to stdout or to the `logfile` on a writer thread.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

struct RedisFormat {
    pid: u32,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// UTC civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Redis's timestamp: `03 Dec 2026 17:48:58.123`.
pub fn timestamp(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{d:02} {} {y} {:02}:{:02}:{:02}.{:03}",
        MONTHS[(m - 1) as usize],
        t / 3600,
        t % 3600 / 60,
        t % 60,
        ms % 1000
    )
}

impl<S, N> FormatEvent<S, N> for RedisFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mark = match *event.metadata().level() {
            Level::ERROR | Level::WARN => '#',
            Level::INFO => '*',
            Level::DEBUG => '-',
            Level::TRACE => '.',
        };
        write!(
            writer,
            "{}:M {} {} ",
            self.pid,
            timestamp(crate::clock::now_ms()),
            mark
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Redis `loglevel` → tracing level filter.
fn level_for(loglevel: &str) -> tracing_subscriber::filter::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    match loglevel {
        "debug" => LevelFilter::TRACE,
        "verbose" => LevelFilter::DEBUG,
        "warning" => LevelFilter::WARN,
        "nothing" => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    }
}

/// Installs the global logger; returns a guard that must live as long as the process
/// when logging to a file (it flushes the writer thread on drop).
pub fn init(
    loglevel: &str,
    logfile: &str,
) -> anyhow::Result<Option<tracing_appender_guard::Guard>> {
    let builder = tracing_subscriber::fmt()
        .event_format(RedisFormat {
            pid: std::process::id(),
        })
        .with_max_level(level_for(loglevel));
    if logfile.is_empty() {
        builder.with_writer(std::io::stdout).init();
        return Ok(None);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logfile)
        .map_err(|e| anyhow::anyhow!("Can't open the log file: {e}"))?;
    let (writer, guard) = tracing_appender_guard::non_blocking(file);
    builder.with_writer(writer).init();
    Ok(Some(guard))
}

/// Thin alias so the rest of the crate does not name tracing-appender's types.
pub mod tracing_appender_guard {
    pub use tracing_appender::non_blocking;
    pub use tracing_appender::non_blocking::WorkerGuard as Guard;
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_format() {
        assert_eq!(super::timestamp(0), "01 Jan 1970 00:00:00.000");
        assert_eq!(
            super::timestamp(1_796_320_138_123),
            "03 Dec 2026 17:48:58.123"
        );
    }
}
