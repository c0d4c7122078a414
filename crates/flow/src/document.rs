//! A flow definition as the API receives it: parsed into its typed form, kept with the document the marketer
//! wrote (stored verbatim, shown back as written). Only [`FlowDocument::parse`] makes one, so whoever holds one
//! holds a definition that reads.

use serde_json::Value;

use crate::{FlowDef, FlowError, parse_flow};

#[derive(Debug, Clone)]
pub struct FlowDocument {
    def: FlowDef,
    source: Value,
}

impl FlowDocument {
    /// Reads a definition; the error names the JSON path of the problem.
    pub fn parse(source: Value) -> Result<FlowDocument, FlowError> {
        Ok(FlowDocument { def: parse_flow(&source)?, source })
    }

    /// The typed definition.
    pub fn def(&self) -> &FlowDef {
        &self.def
    }

    /// The document as written.
    pub fn source(&self) -> &Value {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_document_and_names_the_problem() {
        let v = json!({"name": "W", "trigger": {"type": "event", "event": "Signed Up"},
            "steps": [{"id": "a", "type": "tag", "add": ["x"]}], "entry": {"reentry": "always"}});
        let doc = FlowDocument::parse(v.clone()).unwrap();
        assert_eq!((doc.def().name.as_str(), doc.source()), ("W", &v));
        let err = FlowDocument::parse(json!({"name": "W", "trigger": {"type": "event"}, "steps": []})).unwrap_err();
        assert!(err.field.starts_with("trigger"), "{err:?}");
    }
}
