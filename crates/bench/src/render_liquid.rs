//! The baseline of `kairos bench render`: the anchor template rendered by the `liquid` crate as an application
//! would use it. Same sources (the layout gets the rendered body as `content`, the footer is an `include`d
//! partial), same data converted from the same JSON per render (`liquid::to_object`), the store converted once.
//! What liquid is spared: it escapes nothing, its own `date` shows UTC, there is no text part, and `money` is a
//! filter registered here over Kairos's formatting (liquid has none). So the comparison favours liquid.

use std::fmt;

use liquid::model::Value;
use liquid::partials::{EagerCompiler, InMemorySource};
use liquid_core::parser::{FilterArguments, ParameterReflection};
use liquid_core::{Filter, FilterReflection, ParseFilter, Runtime, ValueView};

use crate::render_anchor::{self as anchor, Shopper};

/// `money` in euros, as the anchor's store has them.
#[derive(Clone)]
struct Money;

impl FilterReflection for Money {
    fn name(&self) -> &str {
        "money"
    }
    fn description(&self) -> &str {
        "An amount in euros."
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for Money {
    fn parse(&self, _arguments: FilterArguments<'_>) -> liquid_core::Result<Box<dyn Filter>> {
        Ok(Box::new(MoneyFilter))
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

#[derive(Debug)]
struct MoneyFilter;

impl fmt::Display for MoneyFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("money")
    }
}

impl Filter for MoneyFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> liquid_core::Result<Value> {
        let amount = input.as_scalar().and_then(|s| s.to_float());
        Ok(Value::scalar(amount.map(|a| kairos_template::money_text(a, "EUR")).unwrap_or_default()))
    }
}

/// The anchor compiled by liquid: subject, body and layout (with the footer partial).
pub struct Liquid {
    subject: liquid::Template,
    body: liquid::Template,
    layout: liquid::Template,
    store: Value,
}

impl Liquid {
    pub fn compile() -> anyhow::Result<Self> {
        let mut partials = EagerCompiler::<InMemorySource>::empty();
        partials.add("footer", anchor::FOOTER);
        let parser = liquid::ParserBuilder::with_stdlib().filter(Money).partials(partials).build()?;
        Ok(Self {
            subject: parser.parse(anchor::SUBJECT)?,
            body: parser.parse(&anchor::body_source())?,
            layout: parser.parse(anchor::LAYOUT)?,
            store: liquid::model::to_value(&anchor::store_json())?,
        })
    }

    /// Converts the shopper's data and renders the subject and the html; returns the html's length.
    pub fn render(&self, s: &Shopper) -> anyhow::Result<usize> {
        let mut globals = liquid::object!({
            "contact": liquid::model::to_value(&s.contact)?,
            "event": liquid::model::to_value(&s.event)?,
            "cart": liquid::model::to_value(&s.cart)?,
            "coupon": liquid::model::to_value(&s.coupon)?,
            "unsubscribe_url": s.unsubscribe_url.as_str(),
            "preferences_url": s.preferences_url.as_str(),
        });
        globals.insert("store".into(), self.store.clone());
        let subject = self.subject.render(&globals)?;
        let body = self.body.render(&globals)?;
        globals.insert("content".into(), Value::scalar(body));
        let html = self.layout.render(&globals)?;
        Ok(subject.len() + html.len())
    }
}
