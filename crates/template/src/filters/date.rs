//! `date`: replaces the stdlib filter so that instants show in the contact's time zone (SPEC 9), DST included.

use jiff::civil;
use jiff::fmt::strtime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use liquid_core::parser::FilterArguments;
use liquid_core::{
    Display_filter, Error, Expression, Filter, FilterParameters, FilterReflection, FromFilterParameters, ParseFilter,
    Result, Runtime, Value, ValueView,
};

use crate::context::with_settings;

/// Numbers at least this large are read as milliseconds (as seconds they would be past the year 5000).
const MILLIS_THRESHOLD: f64 = 1e11;

#[derive(Debug, FilterParameters)]
struct DateArgs {
    #[parameter(description = "strftime format, e.g. \"%b %d, %Y %H:%M\".", arg_type = "str")]
    format: Expression,
}

/// `date`: an RFC 3339 string (`2026-03-29T09:00:00Z`), a date (`2026-03-29`), `"now"`/`"today"`, or unix seconds
/// (numbers ≥ 10^11 are read as milliseconds), formatted with strftime (jiff's `strtime`) in the contact's time
/// zone. Input that is not a date is returned unchanged. A literal format is checked when the template is parsed.
#[derive(Clone, FilterReflection)]
#[filter(
    name = "date",
    description = "Formats a date with strftime in the contact's time zone.",
    parameters(DateArgs),
    parsed(DateFilter)
)]
pub struct Date;

impl ParseFilter for Date {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        let args = DateArgs::from_args(arguments)?;
        if let Expression::Literal(f) = &args.format {
            let probe = Timestamp::UNIX_EPOCH.to_zoned_datetime(TimeZone::UTC);
            check_format(f.to_kstr().as_str(), &probe)?;
        }
        Ok(Box::new(DateFilter { args }))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "date"]
struct DateFilter {
    #[parameters]
    args: DateArgs,
}

impl Filter for DateFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        if args.format.is_empty() {
            return Ok(input.to_value());
        }
        let Some(zdt) = with_settings(|s| to_zoned(input, s.now, &s.tz)) else {
            return Ok(input.to_value());
        };
        check_format(args.format.as_str(), &zdt).map(Value::scalar)
    }
}

fn check_format(format: &str, zdt: &ZonedDateTime) -> Result<String> {
    strtime::format(format, zdt)
        .map_err(|e| Error::with_msg(format!("invalid date format {format:?}")).context("cause", e.to_string()))
}

/// Reads the filter's input as an instant in `tz`.
fn to_zoned(input: &dyn ValueView, now: Timestamp, tz: &TimeZone) -> Option<ZonedDateTime> {
    let scalar = input.as_scalar()?;
    let ts = match input.type_name() {
        "whole number" | "fractional number" => from_number(scalar.to_float()?)?,
        "string" => {
            let s = scalar.to_kstr();
            let s = s.trim();
            match s {
                "now" | "today" => now,
                _ => match s.parse::<f64>() {
                    Ok(x) => from_number(x)?,
                    Err(_) => return parse_text(s, tz),
                },
            }
        }
        _ => return None,
    };
    Some(ts.to_zoned_datetime(tz.clone()))
}

fn from_number(x: f64) -> Option<Timestamp> {
    if !x.is_finite() {
        return None;
    }
    if x.abs() >= MILLIS_THRESHOLD {
        Timestamp::from_millisecond(x as i64).ok()
    } else {
        Timestamp::from_second(x as i64).ok()
    }
}

/// RFC 3339 with an offset is an instant; a date-time without offset is read as UTC (as ingestion does); a bare
/// date stays that calendar date in the contact's zone.
fn parse_text(s: &str, tz: &TimeZone) -> Option<ZonedDateTime> {
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts.to_zoned_datetime(tz.clone()));
    }
    // A bare date first: jiff would also read it as a date-time at midnight, which here means UTC midnight.
    if s.len() == 10
        && let Ok(d) = s.parse::<civil::Date>()
    {
        return tz.to_zoned_datetime(d.to_datetime(civil::Time::midnight())).ok();
    }
    if let Ok(dt) = s.parse::<civil::DateTime>() {
        let ts = TimeZone::UTC.to_timestamp(dt).ok()?;
        return Some(ts.to_zoned_datetime(tz.clone()));
    }
    if let Ok(d) = s.parse::<civil::Date>() {
        return tz.to_zoned_datetime(d.to_datetime(civil::Time::midnight())).ok();
    }
    None
}
