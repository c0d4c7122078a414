//! `money`: formats an amount in major units with the store currency: `{{ cart.value | money }}` → `$1,234.50`.

use liquid_core::{
    Display_filter, Expression, Filter, FilterParameters, FilterReflection, FromFilterParameters, ParseFilter, Result,
    Runtime, Value, ValueView,
};

use std::fmt::Write as _;

use crate::context::{Currency, NumberStyle, with_settings};

/// Largest amount formatted (10^15 major units); beyond it the input is returned unchanged.
const AMOUNT_MAJOR_MAX: f64 = 1e15;

#[derive(Debug, FilterParameters)]
struct MoneyArgs {
    #[parameter(description = "ISO 4217 code overriding the store currency, e.g. \"EUR\".", arg_type = "str")]
    currency: Option<Expression>,
}

/// `money`: a number (or numeric string) in major units → `"$1,234.50"`, `"€9.99"`, `"1,234.50 SEK"`, `"¥1,235"`.
/// Nil renders empty; anything that is not a number is returned unchanged.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "money",
    description = "Formats an amount in major units with the store currency (or the given one).",
    parameters(MoneyArgs),
    parsed(MoneyFilter)
)]
pub struct Money;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "money"]
struct MoneyFilter {
    #[parameters]
    args: MoneyArgs,
}

impl Filter for MoneyFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        if input.is_nil() {
            return Ok(Value::scalar(""));
        }
        let Some(digits) = amount_digits(input) else {
            return Ok(input.to_value());
        };
        // A missing or invalid argument (`money: contact.currency` with no currency) falls back to the store's.
        let currency =
            args.currency.and_then(|c| Currency::parse(c.as_str())).or_else(|| with_settings(|s| s.currency));
        let numbers = with_settings(|s| s.numbers);
        Ok(Value::scalar(format_money_in(&digits, currency, numbers)))
    }
}

/// The input as a plain decimal string ("1234.5"), or None when it is not a finite number within range.
fn amount_digits(input: &dyn ValueView) -> Option<String> {
    let s = input.as_scalar()?;
    let x = match input.type_name() {
        "whole number" => return s.to_integer().map(|i| i.to_string()),
        "fractional number" => s.to_float()?,
        "string" => s.to_kstr().trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !x.is_finite() || x.abs() > AMOUNT_MAJOR_MAX {
        return None;
    }
    // Rust prints the shortest decimal that reads back as the same float, never in exponent form: 0.285 prints
    // "0.285", so rounding that text (half away from zero) gives what a person expects, unlike `(x * 100).round()`.
    Some(x.to_string())
}

/// An amount in major units as the `money` filter writes it (`"€49.90"`), for pages Kairos renders without a
/// template (a quiz's result).
pub fn money_text(amount_major: f64, currency: &str) -> String {
    if !amount_major.is_finite() || amount_major.abs() > AMOUNT_MAJOR_MAX {
        return String::new();
    }
    format_money(&amount_major.to_string(), Currency::parse(currency))
}

/// Formats a plain decimal string with grouping, rounding and the currency's symbol, the English way.
pub(crate) fn format_money(digits: &str, currency: Option<Currency>) -> String {
    format_money_in(digits, currency, None)
}

/// [`format_money`] as a locale writes it (`numbers`): `1.234,50 €` in German, `€ 1.234,50` in Dutch. Written
/// into one string (a few `money`s per render).
pub(crate) fn format_money_in(digits: &str, currency: Option<Currency>, numbers: Option<NumberStyle>) -> String {
    let (symbol, suffix, decimals) = currency.map_or(("", None, 2), style);
    let (negative, units) = round_to_units(digits, decimals);
    let scale = 10u128.pow(decimals);
    let (whole, frac) = (units / scale, units % scale);
    let (group, decimal) = numbers.map_or((",", '.'), |n| (n.group, n.decimal));
    // A code (`SEK`) always follows the amount; a symbol goes where the locale puts it.
    let (mark, after, gap) = match (&suffix, numbers) {
        (Some(code), _) => (code.as_str(), true, " "),
        (None, None) => (symbol, false, ""),
        (None, Some(n)) => (symbol, n.symbol_after, if n.spaced && !symbol.is_empty() { "\u{a0}" } else { "" }),
    };
    let mut out = String::with_capacity(32);
    if negative && units != 0 {
        out.push('-');
    }
    if !after {
        out.push_str(mark);
        out.push_str(gap);
    }
    push_grouped(&mut out, whole, group);
    if decimals > 0 {
        out.push(decimal);
        let _ = write!(out, "{frac:0width$}", width = decimals as usize);
    }
    if after && !mark.is_empty() {
        out.push_str(gap);
        out.push_str(mark);
    }
    out
}

/// (sign, amount in units of 10^-decimals), rounding half away from zero.
fn round_to_units(digits: &str, decimals: u32) -> (bool, u128) {
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, digits.strip_prefix('+').unwrap_or(digits)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let mut units: u128 = 0;
    for b in int_part.bytes().filter(u8::is_ascii_digit) {
        units = units.saturating_mul(10).saturating_add(u128::from(b - b'0'));
    }
    let mut frac = frac_part.bytes().filter(u8::is_ascii_digit);
    for _ in 0..decimals {
        let d = frac.next().map_or(0, |b| b - b'0');
        units = units.saturating_mul(10).saturating_add(u128::from(d));
    }
    if frac.next().is_some_and(|b| b >= b'5') {
        units = units.saturating_add(1);
    }
    (negative, units)
}

fn push_grouped(out: &mut String, n: u128, group: &str) {
    // The digits, written from the end of a buffer long enough for any u128 (39 digits).
    let mut buf = [0u8; 40];
    let (mut i, mut rest) = (buf.len(), n);
    loop {
        i -= 1;
        buf[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let digits = &buf[i..];
    for (k, &d) in digits.iter().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push_str(group);
        }
        out.push(char::from(d));
    }
}

/// (prefix symbol, suffix code, decimals) for a currency: a symbol for the common ones, else the code after the
/// amount.
fn style(c: Currency) -> (&'static str, Option<Currency>, u32) {
    match c.as_str() {
        "USD" => ("$", None, 2),
        "EUR" => ("€", None, 2),
        "GBP" => ("£", None, 2),
        "JPY" => ("¥", None, 0),
        "CNY" => ("CN¥", None, 2),
        "INR" => ("₹", None, 2),
        "KRW" => ("₩", None, 0),
        "AUD" => ("A$", None, 2),
        "CAD" => ("CA$", None, 2),
        "NZD" => ("NZ$", None, 2),
        "HKD" => ("HK$", None, 2),
        "MXN" => ("MX$", None, 2),
        "BRL" => ("R$", None, 2),
        "ILS" => ("₪", None, 2),
        "VND" => ("₫", None, 0),
        "CLP" | "ISK" | "HUF" | "TWD" | "UGX" | "PYG" => ("", Some(c), 0),
        _ => ("", Some(c), 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(d: &str, c: &str) -> String {
        format_money(d, Currency::parse(c))
    }

    #[test]
    fn formats_common_currencies() {
        assert_eq!(fmt("1234.5", "USD"), "$1,234.50");
        assert_eq!(fmt("1234567.891", "EUR"), "€1,234,567.89");
        assert_eq!(fmt("0.285", "GBP"), "£0.29");
        assert_eq!(fmt("1234.5", "SEK"), "1,234.50 SEK");
        assert_eq!(fmt("1234.5", "JPY"), "¥1,235");
        assert_eq!(fmt("-5", "USD"), "-$5.00");
        assert_eq!(fmt("-0.001", "USD"), "$0.00");
        assert_eq!(fmt("999.995", "USD"), "$1,000.00");
        assert_eq!(format_money("12", None), "12.00");
        assert_eq!(fmt("0", "USD"), "$0.00");
        assert_eq!(fmt("1000000000000000", "USD"), "$1,000,000,000,000,000.00");
        assert_eq!(fmt("12", "nope"), "12.00");
    }

    #[test]
    fn formats_for_the_readers_locale() {
        let in_locale = |d: &str, c: &str, l: &str| format_money_in(d, Currency::parse(c), NumberStyle::of_locale(l));
        assert_eq!(in_locale("1234.5", "EUR", "de-DE"), "1.234,50\u{a0}€");
        assert_eq!(in_locale("1234.5", "EUR", "fr_FR"), "1\u{202f}234,50\u{a0}€");
        assert_eq!(in_locale("1234.5", "EUR", "nl-NL"), "€\u{a0}1.234,50");
        assert_eq!(in_locale("1234.5", "BRL", "pt-BR"), "R$\u{a0}1.234,50");
        assert_eq!(in_locale("-5", "EUR", "it"), "-5,00\u{a0}€");
        assert_eq!(in_locale("1234.5", "SEK", "sv-SE"), "1\u{a0}234,50 SEK");
        assert_eq!(in_locale("1234.5", "USD", "en-GB"), "$1,234.50");
        assert_eq!(in_locale("1234.5", "USD", "xx"), "$1,234.50", "unknown locales read the English way");
        assert_eq!(in_locale("1234.5", "JPY", "de"), "1.235\u{a0}¥");
        assert_eq!(format_money_in("12", None, NumberStyle::of_locale("de")), "12,00");
    }
}
