//! `money`: formats an amount in major units with the store currency: `{{ cart.value | money }}` → `$1,234.50`.

use liquid_core::{
    Display_filter, Expression, Filter, FilterParameters, FilterReflection, FromFilterParameters, ParseFilter, Result,
    Runtime, Value, ValueView,
};

use crate::context::{Currency, with_settings};

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
        Ok(Value::scalar(format_money(&digits, currency)))
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

/// Formats a plain decimal string with grouping, rounding and the currency's symbol.
pub(crate) fn format_money(digits: &str, currency: Option<Currency>) -> String {
    let (symbol, suffix, decimals) = currency.map_or(("", None, 2), style);
    let (negative, units) = round_to_units(digits, decimals);
    let scale = 10u128.pow(decimals);
    let (whole, frac) = (units / scale, units % scale);
    let mut out = String::with_capacity(24);
    if negative && units != 0 {
        out.push('-');
    }
    out.push_str(symbol);
    push_grouped(&mut out, whole);
    if decimals > 0 {
        out.push('.');
        out.push_str(&format!("{frac:0width$}", width = decimals as usize));
    }
    if let Some(code) = suffix {
        out.push(' ');
        out.push_str(code.as_str());
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

fn push_grouped(out: &mut String, n: u128) {
    let s = n.to_string();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
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
        assert_eq!(fmt("12", "nope"), "12.00");
    }
}
