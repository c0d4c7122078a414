//! Rendering tests through the public API.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::*;

fn now() -> jiff::Timestamp {
    "2026-03-29T10:00:00Z".parse().unwrap()
}

fn globals(contact: Value) -> Globals {
    Globals::builder(now())
        .contact(&contact)
        .store(&json!({"name": "Lamp & Co", "currency": "USD", "url": "https://shop.example", "free_shipping_threshold": 75}))
        .build()
}

fn render_body(src: &str, g: &Globals) -> Result<String, TemplateError> {
    let t = Renderer::new().compile(&TemplateParts::message(src))?;
    Ok(t.render(g)?.body.unwrap())
}

fn render_html(src: &str, g: &Globals) -> Result<String, TemplateError> {
    let t = Renderer::new().compile(&TemplateParts { html: Some(src.to_owned()), ..TemplateParts::default() })?;
    Ok(t.render(g)?.html.unwrap())
}

const CART_HTML: &str = r#"<h1>{{ contact.first_name | default: "there" }}, you left something behind</h1>
<table>
{%- for item in event.items %}
  <tr><td><a href="{{ item.url }}"><img src="{{ item.image_url }}" alt="{{ item.name }}"></a></td>
      <td>{{ item.name }} × {{ item.quantity }}</td><td>{{ item.price | money }}</td></tr>
{%- endfor %}
</table>
<p>Total: {{ cart.value | money }}{% if cart.free_shipping_remaining > 0 %} — add {{ cart.free_shipping_remaining | money }} for free shipping{% endif %}</p>
{% if coupon %}<p>Use {{ coupon.code }} before {{ coupon.expires_at | date: "%b %d, %Y" }}</p>{% endif %}
<a href="{{ unsubscribe_url }}">Unsubscribe</a>"#;

#[test]
fn abandoned_cart_email() {
    let items = json!([
        {"product_id": "p1", "name": "Desk Lamp", "price": 1234.5, "quantity": 1, "url": "https://shop.example/p1", "image_url": "https://cdn.example/p1.jpg"},
        {"product_id": "p2", "name": "Bulb <LED>", "price": "4.99", "quantity": 3, "url": "https://shop.example/p2?a=1&b=2"},
        {"product_id": "p3", "name": "Gone", "price": 10, "quantity": 1},
    ]);
    let kept = promotable_items(items.as_array().unwrap(), |id| Some(id != "p3"));
    let g = Globals::builder(now())
        .contact(json!({"first_name": "Ana"}))
        .event(json!({"items": kept}))
        .cart(json!({"value": 1249.47, "free_shipping_remaining": 0}))
        .coupon(json!({"code": "SAVE10", "expires_at": "2026-04-05T21:30:00Z"}))
        .store(&json!({"name": "Lamps", "currency": "USD"}))
        .unsubscribe_url("https://k.example/u/abc")
        .timezone(Some("America/New_York"))
        .build();
    let t = Renderer::new()
        .compile(&TemplateParts::email(
            "{{ contact.first_name }}, your cart: {{ event.items.size }} items",
            CART_HTML,
            None,
        ))
        .unwrap();
    let out = t.render(&g).unwrap();
    assert_eq!(out.subject.as_deref(), Some("Ana, your cart: 2 items"));
    let html = out.html.unwrap();
    assert!(html.contains("<h1>Ana, you left something behind</h1>"), "{html}");
    assert!(html.contains("<td>Desk Lamp × 1</td><td>$1,234.50</td>"), "{html}");
    assert!(html.contains("<td>Bulb &lt;LED&gt; × 3</td><td>$4.99</td>"), "{html}");
    assert!(html.contains(r#"href="https://shop.example/p2?a=1&amp;b=2""#), "{html}");
    assert!(html.contains(r#"<img src="" alt="Bulb &lt;LED&gt;">"#), "missing image_url is empty: {html}");
    assert!(!html.contains("Gone"));
    assert!(html.contains("Total: $1,249.47</p>"), "{html}");
    assert!(html.contains("Use SAVE10 before Apr 05, 2026"), "{html}");
    let text = out.text.unwrap();
    assert!(text.contains("Bulb <LED> × 3 $4.99"), "{text}");
    assert!(text.contains("Unsubscribe (https://k.example/u/abc)"), "{text}");
}

#[test]
fn missing_values_are_nil_not_errors() {
    let g = globals(json!({"first_name": "Ana", "address": null, "tags": ["a", "b"]}));
    let src = "{{ contact.nickname | default: 'friend' }}|{{ contact.address.city }}|{{ nothing.at.all }}|\
               {{ contact.missing | join: ',' }}|{% if contact.vip %}vip{% else %}regular{% endif %}|\
               {{ contact.tags | join: ',' }}|{{ contact.tags.size }}|{{ contact.tags.last }}|{{ contact.tags[5] }}|\
               {% for x in contact.none %}x{% else %}empty{% endfor %}|{{ contact.size }}";
    assert_eq!(render_body(src, &g).unwrap(), "friend||||regular|a,b|2|b||empty|3");
    // Inside loops too, and through template-assigned values.
    let g = Globals::builder(now()).var("items", json!([{"name": "A"}, {"name": "B", "brand": {"name": "X"}}])).build();
    let src = "{% for i in items %}{{ i.name }}:{{ i.brand.name | default: '-' }};{% endfor %}\
               {% assign sorted = items | reverse %}{% for i in sorted %}{{ i.brand.name }}{{ i.nope }};{% endfor %}";
    assert_eq!(render_body(src, &g).unwrap(), "A:-;B:X;X;;");
}

#[test]
fn html_escaping_of_data_only() {
    let g = globals(json!({"note": "<script>alert('x')</script> & \"co\"", "bio": "<b>hi</b>"}));
    let parts = TemplateParts {
        html: Some("<p>{{ contact.note }}</p>{{ contact.bio | raw }}{{ '<i>lit</i>' }}".to_owned()),
        text: Some("{{ contact.note }}".to_owned()),
        subject: Some("{{ contact.note }}".to_owned()),
        ..TemplateParts::default()
    };
    let out = Renderer::new().compile(&parts).unwrap().render(&g).unwrap();
    assert_eq!(
        out.html.unwrap(),
        "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;</p><b>hi</b><i>lit</i>"
    );
    assert_eq!(out.text.unwrap(), "<script>alert('x')</script> & \"co\"");
    assert_eq!(out.subject.unwrap(), "<script>alert('x')</script> & \"co\"");
}

#[test]
fn html_aware_filters_do_not_double_escape_or_unescape() {
    let g = globals(json!({"name": "Tom & Jerry's", "email": "o'neil+x@example.com", "enc": "%3Cscript%3E"}));
    let src = "{{ contact.name | escape }}|{{ contact.email | url_encode }}|{{ contact.enc | url_decode }}|\
               {{ contact.name | truncate: 7 }}|{{ contact.name | size }}|{{ contact.name | upcase }}|\
               {% assign n = contact.name %}{{ n }}|{% capture c %}<b>{{ contact.name }}</b>{% endcapture %}{{ c }}";
    assert_eq!(
        render_html(src, &g).unwrap(),
        "Tom &amp; Jerry&#39;s|o%27neil%2Bx%40example.com|&lt;script&gt;|Tom ...|13|TOM &AMP; JERRY&#39;S|\
         Tom &amp; Jerry&#39;s|<b>Tom &amp; Jerry&#39;s</b>"
    );
    assert_eq!(
        render_body("{{ contact.name | escape }}|{{ contact.enc | url_decode }}", &g).unwrap(),
        "Tom &amp; Jerry&#39;s|<script>"
    );
}

#[test]
fn object_keys_from_data_are_escaped_in_html() {
    let g = globals(json!({"<k>": "v"}));
    assert_eq!(render_html("{% for p in contact %}{{ p[0] }}={{ p[1] }}{% endfor %}", &g).unwrap(), "&lt;k&gt;=v");
}

#[test]
fn money_filter() {
    let g = globals(json!({"total": 1234.5, "s": " 19.9 ", "bad": "abc", "i": 1000000}));
    let src = "{{ contact.total | money }}|{{ contact.s | money }}|{{ contact.bad | money }}|{{ contact.none | money }}|\
               {{ contact.i | money: 'EUR' }}|{{ contact.total | money: 'SEK' }}|{{ contact.total | money: 'JPY' }}|\
               {{ contact.total | money: contact.missing }}";
    assert_eq!(render_body(src, &g).unwrap(), "$1,234.50|$19.90|abc||€1,000,000.00|1,234.50 SEK|¥1,235|$1,234.50");
    let g = Globals::builder(now()).var("x", json!(5)).build();
    assert_eq!(render_body("{{ x | money }}", &g).unwrap(), "5.00");
}

#[test]
fn date_in_contact_time_zone_across_dst() {
    // Europe/Paris goes from UTC+1 to UTC+2 at 01:00 UTC on 2026-03-29; New York switched on 2026-03-08.
    let src = "{{ contact.a | date: '%Y-%m-%d %H:%M %Z' }}|{{ contact.b | date: '%H:%M %z' }}|\
               {{ 'now' | date: '%b %d, %Y %H:%M' }}|{{ contact.unix | date: '%Y-%m-%d %H:%M' }}|\
               {{ contact.day | date: '%A %-d %B' }}|{{ contact.bad | date: '%Y' }}";
    let contact = json!({"a": "2026-03-29T00:30:00Z", "b": "2026-03-29T01:30:00Z", "unix": 1774746000, "day": "2026-03-29", "bad": "soon"});
    let render_in = |tz: Option<&str>| {
        let g = Globals::builder(now()).contact(&contact).timezone(tz).build();
        render_body(src, &g).unwrap()
    };
    assert_eq!(
        render_in(Some("Europe/Paris")),
        "2026-03-29 01:30 CET|03:30 +0200|Mar 29, 2026 12:00|2026-03-29 03:00|Sunday 29 March|soon"
    );
    assert_eq!(
        render_in(Some("America/New_York")),
        "2026-03-28 20:30 EDT|21:30 -0400|Mar 29, 2026 06:00|2026-03-28 21:00|Sunday 29 March|soon"
    );
    assert_eq!(render_in(None), render_in(Some("Not/AZone")));
    assert!(render_in(None).starts_with("2026-03-29 00:30 UTC|"));
}

#[test]
fn default_and_stdlib_filters_remain() {
    let g = globals(json!({"first_name": "", "n": 3}));
    let src = "{{ contact.first_name | default: 'there' }} {{ 'a,b' | split: ',' | join: '+' }} {{ contact.n | plus: 2 }} \
               {{ 'Hello' | upcase | prepend: '>' }} {% increment c %}{% increment c %} {% cycle 'x', 'y' %}{% cycle 'x', 'y' %}";
    assert_eq!(render_body(src, &g).unwrap(), "there a+b 5 >HELLO 01 xy");
}

#[test]
fn array_filters_over_data() {
    let g = Globals::builder(now())
        .products(json!([{"name": "B<", "price": 2, "ok": true}, {"name": "A", "price": 1, "ok": false}, {"price": 3, "ok": true}]))
        .build();
    let src = "{{ products | map: 'name' | compact | join: ',' }}|{{ products | where: 'ok', true | size }}|\
               {% assign cheap = products | sort: 'price' | first %}{{ cheap.name }}|{{ products.first.name }}";
    assert_eq!(render_body(src, &g).unwrap(), "B<,A|2|A|B<");
    assert_eq!(render_html(src, &g).unwrap(), "B&lt;,A|2|A|B&lt;");
}

#[test]
fn validation_names_part_and_line() {
    let e = validate(&TemplateParts::email("Hi {{ contact.first_name | shout }}", "<p>ok</p>", None)).unwrap_err();
    assert_eq!(e, TemplateError::UnknownFilter { field: "subject".into(), filter: "shout".into(), line: Some(1) });
    let e = validate(&TemplateParts::email("ok", "<p>\n\n{{ x | money }}\n{{ y | nope: 1 }}</p>", None)).unwrap_err();
    assert_eq!((e.field(), e.line(), e.code()), ("html", Some(4), "template_unknown_filter"));
    assert!(e.to_string().contains("html (line 4): unknown filter `nope`"), "{e}");
    let e = validate(&TemplateParts::email("ok", "<p>\n{% if x %}\n{{ x }}", Some("fine"))).unwrap_err();
    assert_eq!((e.field(), e.code()), ("html", "template_syntax"), "{e}");
    let e = validate(&TemplateParts::message("line one\n{{ x | }}")).unwrap_err();
    assert_eq!((e.field(), e.line()), ("body", Some(2)), "{e}");
    let e = validate(&TemplateParts::message("{% frobnicate %}")).unwrap_err();
    assert_eq!((e.field(), e.line()), ("body", Some(1)), "{e}");
    let e = validate(&TemplateParts::message("\n{{ 'x' | date: '%Y %K' }}")).unwrap_err();
    assert_eq!((e.field(), e.line()), ("body", Some(2)), "{e}");
    assert!(
        validate(&TemplateParts::email("{{ a | default: 'b' }}", "{{ x | raw | money: 'EUR' }}", Some("t"))).is_ok()
    );
}

#[test]
fn partials_and_layouts() {
    let r = Renderer::builder()
        .partial("footer", "<footer>{{ store.name }} · <a href=\"{{ unsubscribe_url }}\">unsubscribe</a></footer>")
        .partial("product", "<li>{{ product.name }} {{ product.price | money }}</li>")
        .layout("base", "<html><body>{% include 'header' %}{{ content }}{% include 'footer' %}</body></html>")
        .partial("header", "<header>{{ contact.first_name }}</header>")
        .build()
        .unwrap();
    let parts = TemplateParts::email(
        "Hi",
        "<ul>{% for p in products %}{% render 'product', product: p %}{% endfor %}</ul>",
        Some("{% include 'footer' %}"),
    )
    .with_layout("base");
    let g = Globals::builder(now())
        .contact(json!({"first_name": "<Ana>"}))
        .products(json!([{"name": "Lamp", "price": 12}]))
        .store(&json!({"name": "S&S", "currency": "EUR"}))
        .unsubscribe_url("https://k.example/u?t=1&x=2")
        .build();
    let out = r.compile(&parts).unwrap().render(&g).unwrap();
    assert_eq!(
        out.html.unwrap(),
        "<html><body><header>&lt;Ana&gt;</header><ul><li>Lamp €12.00</li></ul><footer>S&amp;S · \
         <a href=\"https://k.example/u?t=1&amp;x=2\">unsubscribe</a></footer></body></html>"
    );
    assert_eq!(out.text.unwrap(), "<footer>S&S · <a href=\"https://k.example/u?t=1&x=2\">unsubscribe</a></footer>");

    let e = r.compile(&TemplateParts::message("{% include 'nope' %}")).unwrap_err();
    assert_eq!((e.field(), e.code()), ("body", "template_partial"));
    let e = r.compile(&TemplateParts::email("s", "h", None).with_layout("fancy")).unwrap_err();
    assert_eq!((e.field(), e.code()), ("layout", "template_unknown_layout"));
    let e =
        Renderer::builder().partial("a", "{% include 'b' %}").partial("b", "{% include 'a' %}").build().unwrap_err();
    assert_eq!(e.code(), "template_partial", "{e}");
    let e = Renderer::builder().partial("a", "{{ x | nope }}").build().unwrap_err();
    assert_eq!(e.field(), "partials.a");
    let e = Renderer::builder().layout("l", "<html></html>").build().unwrap_err();
    assert_eq!(e.field(), "layouts.l");
}

/// Runs `f` on a thread with a small stack: what passes here passes on any thread that renders.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(512 * 1024).spawn(f).unwrap().join().unwrap()
}

#[test]
fn nesting_and_terms_are_bounded_before_liquid_parses() {
    // 1 200 nested ifs overflowed the stack of the thread that saved the template, aborting the server.
    let deep = format!("{}x{}", "{% if true %}".repeat(1200), "{% endif %}".repeat(1200));
    let e = on_small_stack(move || validate(&TemplateParts::email("s", &deep, None)).unwrap_err());
    assert_eq!((e.field(), e.code()), ("html", "template_too_complex"), "{e}");
    // A 20 000-term condition: liquid builds, evaluates and drops it as a 20 000-deep chain.
    let long = format!("{{% if true{} %}}x{{% endif %}}", " and true".repeat(20_000));
    let e = on_small_stack(move || validate(&TemplateParts::email(&long, "h", None)).unwrap_err());
    assert_eq!((e.field(), e.code()), ("subject", "template_too_complex"), "{e}");
    // At the limits, parsing, rendering and dropping all fit in a small stack (a debug build's frames too).
    let n = TEMPLATE_NESTING_MAX;
    let terms = TEMPLATE_EXPRESSION_TERMS_MAX - 1;
    let src = format!(
        "{}{{% if true{} %}}{{{{ a[0]['k'] }}}}{{% endif %}}{}",
        "{% if true %}".repeat(n - 1),
        " and true".repeat(terms),
        "{% endif %}".repeat(n - 1)
    );
    let out = on_small_stack(move || render_body(&src, &globals(json!({}))));
    assert_eq!(out.unwrap(), "");
}

/// Found by the `template_parse_render` fuzz target: liquid-lib's tablerow divides by `cols`, so `cols: 0` (a
/// literal or a value from data) panicked the thread rendering (the committer).
#[test]
fn a_render_that_panics_inside_liquid_is_an_error() {
    let g = Globals::builder(now()).products(json!([{"name": "Lamp"}])).var("n", json!(0)).build();
    for src in [
        "{% tablerow p in products cols:0 %}{{ p.name }}{% endtablerow %}",
        "{% tablerow p in products cols: n %}x{% endtablerow %}",
    ] {
        let e = render_body(src, &g).unwrap_err();
        assert_eq!((e.field(), e.code()), ("body", "render_failed"), "{src}: {e}");
    }
    assert!(
        render_body("{% tablerow p in products cols:1 %}{{ p.name }}{% endtablerow %}", &g).unwrap().contains("Lamp")
    );
}

#[test]
fn nesting_counts_through_partials() {
    let half = TEMPLATE_NESTING_MAX / 2;
    let nest = |n: usize, inner: &str| format!("{}{inner}{}", "{% if true %}".repeat(n), "{% endif %}".repeat(n));
    // a: half deep; b includes a inside half blocks: half + 1 + half > the limit.
    let r = Renderer::builder().partial("a", &nest(half, "a")).build().unwrap();
    assert!(r.compile(&TemplateParts::message(&nest(half - 1, "{% include 'a' %}"))).is_ok());
    let e = r.compile(&TemplateParts::message(&nest(half, "{% include 'a' %}"))).unwrap_err();
    assert_eq!((e.field(), e.code(), e.line()), ("body", "template_too_complex", Some(1)), "{e}");
    let e = Renderer::builder()
        .partial("a", &nest(half, "a"))
        .partial("b", &nest(half, "{% include 'a' %}"))
        .build()
        .unwrap_err();
    assert_eq!((e.field(), e.code()), ("partials.b", "template_too_complex"), "{e}");
    // A long chain of partials, each including the next: an error, not a walk as deep as the chain.
    let e = on_small_stack(|| {
        let mut b = Renderer::builder();
        for i in 0..20_000 {
            b = b.partial(&format!("p{i:05}"), &format!("{{% include 'p{:05}' %}}", i + 1));
        }
        b.partial("p20000", "end").build().unwrap_err()
    });
    assert_eq!(e.code(), "template_too_complex", "{e}");
}

#[test]
fn size_limits() {
    let big = "x".repeat(SOURCE_BYTES_MAX + 1);
    let e = validate(&TemplateParts::message(&big)).unwrap_err();
    assert_eq!(e.code(), "template_too_large");
    let g = Globals::builder(now()).var("s", json!("y".repeat(1000))).build();
    let e = render_body("{% for i in (1..1000) %}{{ s }}{% endfor %}", &g).unwrap_err();
    assert_eq!(e, TemplateError::TooLarge { field: "body".into(), limit: OUTPUT_BYTES_MAX });
    let e = render_body("{% for i in (1..10000) %}{% assign s = s | append: s %}{% endfor %}", &g).unwrap_err();
    assert_eq!(e.code(), "render_too_large");
    let e = validate(&TemplateParts::message("{% for i in (1..100000000) %}{% endfor %}")).unwrap_err();
    assert_eq!(e.code(), "template_range");
}

#[test]
fn shared_data_and_threads() {
    let store = Data::from_json(&json!({"name": "Shared", "currency": "GBP"}));
    let t = Renderer::new().compile(&TemplateParts::message("{{ store.name }} {{ contact.v | money }}")).unwrap();
    std::thread::scope(|s| {
        for i in 0..4 {
            let (t, store) = (&t, store.clone());
            s.spawn(move || {
                let g = Globals::builder(now()).store_data(store, Some("GBP")).contact(json!({"v": i})).build();
                assert_eq!(t.render(&g).unwrap().body.unwrap(), format!("Shared £{i}.00"));
            });
        }
    });
}

#[test]
fn shareable_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Renderer>();
    send_sync::<Template>();
    send_sync::<Globals>();
    send_sync::<Data>();
}

#[test]
fn render_errors_name_the_part_without_data() {
    let g = globals(json!({"email": "ana@example.com"}));
    let e = render_body("ok\n{{ contact.email | plus: 1 }}", &g).unwrap_err();
    assert_eq!((e.field(), e.code()), ("body", "render_failed"));
    assert!(!e.to_string().contains("ana@"), "{e}");
}

#[test]
fn subject_is_one_line() {
    let t = Renderer::new()
        .compile(&TemplateParts::email("{% if contact.vip %}\n  VIP: {% endif %}\n  Your cart\n", "x", Some("t")))
        .unwrap();
    let out = t.render(&globals(json!({"vip": true}))).unwrap();
    assert_eq!(out.subject.unwrap(), "VIP: Your cart");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn escaping_round_trip(x in any::<String>()) {
        let g = globals(json!({"x": x}));
        prop_assert_eq!(render_html("{{ contact.x }}", &g).unwrap(), html_escape(&x).into_owned());
        prop_assert_eq!(render_html("{{ contact.x | raw }}", &g).unwrap(), x.clone());
        prop_assert_eq!(render_body("{{ contact.x }}", &g).unwrap(), x);
    }

    #[test]
    fn parsers_never_panic_on_any_input(src in any::<String>()) {
        let _ = validate(&TemplateParts::message(&src));
        let _ = html_to_text(&src);
    }

    #[test]
    fn validate_never_panics(src in "(\\{\\{|\\}\\}|\\{%|%\\}|[a-z |:'\"().]|\n){0,40}") {
        let _ = validate(&TemplateParts::message(&src));
    }
}

/// Throughput of the benchmark email, single- and multi-threaded (release: `cargo test --release -p
/// kairos-template -- --ignored --nocapture`).
#[test]
#[ignore]
fn render_throughput() {
    let n = 100_000;
    for threads in [1, 2] {
        let stats = bench::run(n, threads);
        println!("{stats}");
    }
}

pub(crate) mod bench {
    //! The same workload as `kairos bench render` (crates/kairos/src/bench_render.rs), kept here so the figure can
    //! be measured without the binary.
    use super::*;
    use std::time::{Duration, Instant};

    pub fn run(n: usize, threads: usize) -> String {
        let t = Renderer::new()
            .compile(&TemplateParts::email("{{ contact.first_name }}, your cart", &email_html(), None))
            .unwrap();
        let now = now();
        let start = Instant::now();
        let mut lat: Vec<Duration> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|w| {
                    let t = &t;
                    s.spawn(move || {
                        let mut lat = Vec::with_capacity(n / threads + 1);
                        for i in (w..n).step_by(threads) {
                            // Synthetic data is made outside the measured window; converting it is inside.
                            let (contact, event, cart, store, coupon) = contact_json(i);
                            let t0 = Instant::now();
                            let g = Globals::builder(now)
                                .contact(&contact)
                                .event(&event)
                                .cart(&cart)
                                .store(&store)
                                .coupon(&coupon)
                                .timezone(Some(if i.is_multiple_of(2) { "Europe/Paris" } else { "America/New_York" }))
                                .build();
                            let out = t.render(&g).unwrap();
                            std::hint::black_box(out);
                            lat.push(t0.elapsed());
                        }
                        lat
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let el = start.elapsed().as_secs_f64();
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)].as_micros();
        format!(
            "render: {n} renders in {el:.1} s = {:.0} renders/s ({threads} threads), p50 {} µs, p99 {} µs",
            n as f64 / el,
            p(0.5),
            p(0.99)
        )
    }

    pub fn contact_globals(i: usize, now: jiff::Timestamp) -> Globals {
        let (contact, event, cart, store, coupon) = contact_json(i);
        Globals::builder(now)
            .contact(&contact)
            .event(&event)
            .cart(&cart)
            .store(&store)
            .coupon(&coupon)
            .unsubscribe_url(&format!("https://k.example/u/{i}"))
            .preferences_url(&format!("https://k.example/p/{i}"))
            .timezone(Some(if i.is_multiple_of(2) { "Europe/Paris" } else { "America/New_York" }))
            .build()
    }

    pub fn contact_json(i: usize) -> (Value, Value, Value, Value, Value) {
        let items: Vec<Value> = (0..3)
            .map(|k| json!({"product_id": format!("p{k}"), "name": format!("Product {k} for {i}"), "price": 19.99 + k as f64 * 10.0 + (i % 7) as f64,
                "quantity": 1 + k, "url": format!("https://shop.example/products/p{k}?ref={i}"), "image_url": format!("https://cdn.example/p{k}.jpg")}))
            .collect();
        (
            json!({"first_name": format!("Ana{i}"), "last_name": "O'Neil", "email": format!("ana{i}@example.com"), "city": "Paris",
                "orders_count": i % 5, "total_spent": 123.45, "last_seen_at": "2026-03-20T10:00:00Z"}),
            json!({"items": items, "cart_id": format!("c{i}")}),
            json!({"value": 109.97, "items": items, "free_shipping_remaining": 10.03}),
            json!({"name": "Lumière & Co", "currency": "EUR", "url": "https://shop.example", "free_shipping_threshold": 120}),
            json!({"code": format!("SAVE-{i}"), "expires_at": "2026-04-05T21:59:00Z"}),
        )
    }

    pub fn email_html() -> String {
        let mut s = String::from(
            "<!doctype html><html><head><style>body{font-family:sans-serif}td{padding:8px}</style></head><body>\n",
        );
        s.push_str("<h1>{{ contact.first_name | default: 'Hi there' }}, you left something in your cart</h1>\n");
        s.push_str("<table>{% for item in event.items %}<tr><td><a href=\"{{ item.url }}\"><img src=\"{{ item.image_url }}\" alt=\"{{ item.name }}\" width=\"120\"></a></td><td><b>{{ item.name }}</b><br>Qty {{ item.quantity }}</td><td>{{ item.price | money }}</td></tr>{% endfor %}</table>\n");
        s.push_str("<p>Cart total {{ cart.value | money }}.{% if cart.free_shipping_remaining > 0 %} Spend {{ cart.free_shipping_remaining | money }} more for free shipping.{% endif %}</p>\n");
        s.push_str(
            "<p>Your code {{ coupon.code }} is valid until {{ coupon.expires_at | date: '%b %d, %Y %H:%M' }}.</p>\n",
        );
        s.push_str("<p>Last visit {{ contact.last_seen_at | date: '%A %d %B' }} · {{ store.name }}</p>\n");
        while s.len() < 9_500 {
            s.push_str("<p style=\"color:#555;font-size:13px;line-height:20px\">Free returns within 30 days. Questions? Reply to this email and our team will help you choose the right lamp for your home.</p>\n");
        }
        s.push_str("<p><a href=\"{{ preferences_url }}\">Preferences</a> · <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p></body></html>");
        s
    }
}

/// Cost of deriving the text part (release: `cargo test --release -p kairos-template text_speed -- --ignored
/// --nocapture`).
#[test]
#[ignore]
fn text_speed() {
    let t = Renderer::new().compile(&TemplateParts::email("s", &bench::email_html(), Some("x"))).unwrap();
    let html = t.render(&bench::contact_globals(3, now())).unwrap().html.unwrap();
    let n = 20_000;
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(html_to_text(std::hint::black_box(&html)));
    }
    println!("html_to_text: {:.2} µs for {} bytes", t0.elapsed().as_secs_f64() * 1e6 / n as f64, html.len());
}
