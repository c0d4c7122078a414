//! The text part derived from html is exactly what it was before `html_to_text` was made faster (issue 17 item
//! 5): the faster scanner against the former one, over html-like text built from the pieces where they could
//! differ (runs of spaces and other whitespace, entities, tags and their names' case, links, comments, elements
//! whose content is dropped, multi-byte characters, text cut anywhere).

mod reference {
    pub mod text;
}

use proptest::prelude::*;

const PIECES: &[&str] = &[
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "\x0c",
    "\x0b",
    "a",
    "word",
    "Zoë",
    "€",
    "日本",
    ".",
    "?",
    "-",
    "&",
    "&amp;",
    "&lt;",
    "&nbsp;",
    "&#39;",
    "&#x20AC;",
    "&#xZZ;",
    "&bogus;",
    "&amp",
    ";",
    "<",
    ">",
    "<p>",
    "</p>",
    "<P class=\"x\">",
    "<br>",
    "<BR/>",
    "<br />",
    "<td>",
    "</td>",
    "</TH>",
    "<tr>",
    "<div>",
    "</div>",
    "<li>",
    "<h1>",
    "</h6>",
    "<hr>",
    "<a href=\"https://x.example/a?b=1&amp;c=2\">",
    "<a href='mailto:a@b.example'>",
    "<A HREF=https://y.example>",
    "<a href=\"/relative\">",
    "<a>",
    "</a>",
    "</A>",
    "<img src=\"i.png\">",
    "<!--",
    "-->",
    "<!-- c -->",
    "<style>",
    "</style>",
    "<script>",
    "</SCRIPT>",
    "<head>",
    "</head>",
    "<title>",
    "</title>",
    "<//p>",
    "</ p>",
    "<averyveryverylongtagname>",
    "<span>",
    "</span>",
    "<b>",
    "</b>",
];

fn html() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..80).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn derived_text_is_unchanged(html in html()) {
        prop_assert_eq!(kairos_template::html_to_text(&html), reference::text::html_to_text(&html));
    }

    #[test]
    fn derived_text_is_unchanged_for_any_string(s in any::<String>()) {
        prop_assert_eq!(kairos_template::html_to_text(&s), reference::text::html_to_text(&s));
    }
}

#[test]
fn the_anchor_and_long_runs_are_unchanged() {
    let long = format!("<p>{}</p>{}<td>{}</td>", "word ".repeat(500), "x".repeat(100), "a  b\tc ".repeat(200));
    assert_eq!(kairos_template::html_to_text(&long), reference::text::html_to_text(&long));
}
