//! `{% comment %}`: what is inside is skipped, not parsed.
//!
//! liquid-lib's comment block parses every tag inside it and ignores the errors; a block left open there runs to
//! the end of the source and liquid-core then panics ("File shouldn't end before EOI", found by the
//! `template_parse_render` fuzz target). Like Shopify's, this one only looks for its matching `{% endcomment %}`,
//! counting nested comments, and nothing inside is parsed or rendered.

use std::io::Write;

use liquid_core::{BlockReflection, Language, ParseBlock, Renderable, Result, Runtime, TagBlock, TagTokenIter};

#[derive(Copy, Clone, Debug, Default)]
pub struct Comment;

impl BlockReflection for Comment {
    fn start_tag(&self) -> &str {
        "comment"
    }

    fn end_tag(&self) -> &str {
        "endcomment"
    }

    fn description(&self) -> &str {
        "A comment: nothing inside is parsed or rendered."
    }
}

impl ParseBlock for Comment {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        _options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        arguments.expect_nothing()?;
        // Iterative: nested comments only move a counter. An unclosed comment is an error, returned at once.
        tokens.escape_liquid(true)?;
        tokens.assert_empty();
        Ok(Box::new(Nothing))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct Nothing;

impl Renderable for Nothing {
    fn render_to(&self, _writer: &mut dyn Write, _runtime: &dyn Runtime) -> Result<()> {
        Ok(())
    }
}
