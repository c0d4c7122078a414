//! Lead scoring and lifecycle stages over HTTP (SPEC 12): rules in the workspace settings, `lead.score` raised
//! by events and lowered by decay as the dev clock moves, `lifecycle.stage` following orders and time, both
//! followed live by segments (entered and left with no new event), written into the timeline as
//! `Lifecycle Stage Changed` (which starts a flow), rendered by templates, field-named errors for bad rules, and
//! one workspace's rules leaving another's scores alone.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use kairos_domain::Timestamp;
use serde_json::{Value, json};

const DAY: i64 = 86_400_000_000;
const MINUTE: i64 = 60_000_000;

async fn send(c: &mut HttpClient, key: &str, path: &str, body: Value) -> Value {
    let r = c.post_json(path, key, &body).await.unwrap();
    assert!(r.status < 300, "{path} {body}: {} {:?}", r.status, r.body);
    r.json()
}

async fn get(c: &mut HttpClient, key: &str, path: &str) -> Value {
    let r = c.get(path, key).await.unwrap();
    assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    r.json()
}

async fn put_settings(c: &mut HttpClient, key: &str, body: Value) -> (u16, Value) {
    let r = c.put_json("/api/v1/settings", key, &body).await.unwrap();
    (r.status, r.json())
}

/// Moves the dev clock to `at` (microseconds), applying whatever the new time changes.
async fn clock_to(c: &mut HttpClient, sk: &str, at: i64) {
    send(c, sk, "/api/v1/dev/clock", json!({"set": Timestamp(at).to_string()})).await;
}

async fn track(c: &mut HttpClient, wk: &str, user: &str, event: &str, props: Value, at: &str) {
    send(c, wk, "/v1/track", json!({"userId": user, "event": event, "properties": props, "timestamp": at})).await;
}

async fn contact(c: &mut HttpClient, key: &str, user: &str) -> Value {
    get(c, key, &format!("/api/v1/contacts?user_id={user}")).await["items"][0].clone()
}

async fn segment(c: &mut HttpClient, sk: &str, name: &str, definition: &str) -> String {
    send(c, sk, "/api/v1/segments", json!({"name": name, "definition": definition})).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn members(c: &mut HttpClient, sk: &str, id: &str) -> Vec<String> {
    let items = common::all_items(c, sk, &format!("/api/v1/segments/{id}/members?limit=10")).await;
    items.iter().map(|m| m["user_id"].as_str().unwrap_or("?").to_string()).collect()
}

/// (score, stage) of a user as the contact API shows them.
async fn lead_of(c: &mut HttpClient, key: &str, user: &str) -> (i64, Value) {
    let p = contact(c, key, user).await;
    (p["lead"]["score"].as_i64().unwrap(), p["lifecycle"]["stage"].clone())
}

/// The `Lifecycle Stage Changed` events of a user's timeline, oldest first: (from, to).
async fn stage_changes(c: &mut HttpClient, key: &str, user: &str) -> Vec<(Value, Value)> {
    let id = contact(c, key, user).await["id"].as_i64().unwrap();
    let items = common::all_items(c, key, &format!("/api/v1/contacts/{id}/events?limit=100")).await;
    let mut out: Vec<(Value, Value)> = items
        .iter()
        .filter(|e| e["event"] == "Lifecycle Stage Changed")
        .map(|e| (e["properties"]["from"].clone(), e["properties"]["to"].clone()))
        .collect();
    out.reverse();
    out
}

const T0: &str = "2030-01-01T12:00:00Z";

#[tokio::test]
async fn events_raise_the_score_decay_lowers_it_and_segments_follow_with_no_new_event() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let t0 = Timestamp::parse(T0).unwrap().as_micros();
    clock_to(&mut c, sk, t0).await;
    let rules = json!({
        "lead_scoring": {
            "half_life": "10d",
            "events": [
                {"event": "Product Viewed", "points": 10, "max_times": 5},
                {"event": "Checkout Started", "where": "value > 100", "points": 30}
            ],
            "traits": [{"trait": "plan", "equals": "pro", "points": 5}]
        },
        "lifecycle": {"lead_score": 40}
    });
    let (status, settings) = put_settings(&mut c, sk, rules).await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["lead_scoring"]["events"][1]["where"], "value > 100");
    assert_eq!(settings["lifecycle"]["lead_score"], 40);
    let hot = segment(&mut c, sk, "Hot", "lead.score >= 50").await;
    let leads = segment(&mut c, sk, "Leads", "lifecycle.stage = \"lead\"").await;

    send(&mut c, wk, "/v1/identify", json!({"userId": "ann", "traits": {"email": "ann@example.com"}, "timestamp": T0}))
        .await;
    let consent = json!({"user_id": "ann", "channel": "email", "status": "subscribed", "source": "test"});
    send(&mut c, sk, "/api/v1/contacts/consent", consent).await;
    assert_eq!(lead_of(&mut c, sk, "ann").await, (0, json!("subscriber")));
    for _ in 0..3 {
        track(&mut c, wk, "ann", "Product Viewed", json!({"product_id": "bike"}), T0).await;
    }
    assert_eq!(lead_of(&mut c, sk, "ann").await.0, 30);
    track(&mut c, wk, "ann", "Checkout Started", json!({"value": 50}), T0).await;
    assert_eq!(lead_of(&mut c, sk, "ann").await.0, 30, "a checkout the where filter refuses earns nothing");
    track(&mut c, wk, "ann", "Checkout Started", json!({"value": 150}), T0).await;
    send(&mut c, wk, "/v1/identify", json!({"userId": "ann", "traits": {"plan": "pro"}, "timestamp": T0})).await;
    assert_eq!(lead_of(&mut c, sk, "ann").await, (65, json!("lead")));
    assert_eq!(members(&mut c, sk, &hot).await, ["ann"]);
    assert_eq!(members(&mut c, sk, &leads).await, ["ann"]);

    // 60 event points halve every 10 days; 5 trait points stay. The score is below 50 once the event points are
    // below 44.5 (rounding), below 40 once they are below 34.5: at these instants, to the minute.
    let crossing = |points: f64| t0 + (10.0 * DAY as f64 * (60.0 / points).log2()) as i64;
    clock_to(&mut c, sk, crossing(44.5) - MINUTE).await;
    assert_eq!(lead_of(&mut c, sk, "ann").await, (50, json!("lead")));
    assert_eq!(members(&mut c, sk, &hot).await, ["ann"]);
    clock_to(&mut c, sk, crossing(44.5) + MINUTE).await;
    assert_eq!(lead_of(&mut c, sk, "ann").await, (49, json!("lead")));
    assert!(members(&mut c, sk, &hot).await.is_empty(), "left Hot with no new event");
    assert_eq!(members(&mut c, sk, &leads).await, ["ann"]);
    clock_to(&mut c, sk, crossing(34.5) - MINUTE).await;
    assert_eq!(lead_of(&mut c, sk, "ann").await, (40, json!("lead")));
    clock_to(&mut c, sk, crossing(34.5) + MINUTE).await;
    assert_eq!(lead_of(&mut c, sk, "ann").await, (39, json!("subscriber")));
    assert!(members(&mut c, sk, &leads).await.is_empty());

    let changes = stage_changes(&mut c, sk, "ann").await;
    let want = [
        (json!(null), json!("subscriber")),
        (json!("subscriber"), json!("lead")),
        (json!("lead"), json!("subscriber")),
    ];
    assert_eq!(changes, want);
    let p = contact(&mut c, sk, "ann").await;
    let since = Timestamp::parse(p["lifecycle"]["since"].as_str().unwrap()).unwrap().as_micros();
    assert!((since - (crossing(34.5) + MINUTE)).abs() < 10_000_000, "the stage changed when time reached it: {p}");

    // A new event earns points again at once: the five-view cap has room since the first views faded.
    track(
        &mut c,
        wk,
        "ann",
        "Product Viewed",
        json!({"product_id": "bike"}),
        &Timestamp(crossing(34.5) + MINUTE).to_string(),
    )
    .await;
    assert_eq!(lead_of(&mut c, sk, "ann").await, (49, json!("lead")));
}

#[tokio::test]
async fn customers_become_at_risk_then_lapsed_with_time_alone_and_flows_and_templates_see_it() {
    let mut s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let (wk, sk) = (wk.as_str(), sk.as_str());
    let t0 = Timestamp::parse(T0).unwrap().as_micros();
    clock_to(&mut c, sk, t0).await;
    let lifecycle = json!({"lifecycle": {"at_risk_after": "30d", "lapsed_after": "60d", "vip_lifetime_value": 500}});
    assert_eq!(put_settings(&mut c, sk, lifecycle).await.0, 200);
    let vip = segment(&mut c, sk, "VIP", "lifecycle.stage = \"vip\"").await;
    let at_risk = segment(&mut c, sk, "At risk", "lifecycle.stage in [\"at_risk\", \"lapsed\"]").await;
    let text = "Stage {{ contact.lifecycle.stage }}, score {{ contact.lead.score }}";
    let template = json!({"id": "winback", "channel": "email", "subject": "We miss you", "text": text});
    send(&mut c, sk, "/api/v1/templates", template).await;
    let flow = json!({
        "name": "Win back at risk",
        "trigger": {"type": "event", "event": "Lifecycle Stage Changed", "where": "to = \"at_risk\""},
        "steps": [{"id": "email", "type": "send", "channel": "email", "template": "winback"}]
    });
    let flow_id = send(&mut c, sk, "/api/v1/flows", flow).await["id"].as_str().unwrap().to_string();
    send(&mut c, sk, &format!("/api/v1/flows/{flow_id}/activate"), json!({})).await;

    send(&mut c, wk, "/v1/identify", json!({"userId": "bob", "traits": {"email": "bob@example.com"}, "timestamp": T0}))
        .await;
    let consent = json!({"user_id": "bob", "channel": "email", "status": "subscribed", "source": "test"});
    send(&mut c, sk, "/api/v1/contacts/consent", consent).await;
    // The default rules: a cart add earns 10 points (half-life 30 days).
    track(&mut c, wk, "bob", "Product Added", json!({"product_id": "bike", "price": 100}), T0).await;
    track(&mut c, wk, "bob", "Order Completed", json!({"order_id": "o1", "total": 100}), T0).await;
    assert_eq!(lead_of(&mut c, sk, "bob").await, (10, json!("first_time_customer")));
    track(&mut c, wk, "bob", "Order Completed", json!({"order_id": "o2", "total": 450}), T0).await;
    assert_eq!(lead_of(&mut c, sk, "bob").await, (10, json!("vip")), "550 spent");
    assert_eq!(members(&mut c, sk, &vip).await, ["bob"]);

    // The points, the stage and the timer of what time changes next survive a restart.
    s.terminate();
    s.restart();
    let mut c = s.client().await;
    assert_eq!(lead_of(&mut c, sk, "bob").await, (10, json!("vip")));
    clock_to(&mut c, sk, t0 + 30 * DAY - MINUTE).await;
    assert_eq!(lead_of(&mut c, sk, "bob").await.1, json!("vip"));
    assert!(common::messages_to(&mut c, sk, "bob@example.com").await.is_empty());
    clock_to(&mut c, sk, t0 + 30 * DAY + MINUTE).await;
    assert_eq!(lead_of(&mut c, sk, "bob").await, (5, json!("at_risk")));
    assert!(members(&mut c, sk, &vip).await.is_empty(), "left VIP with no new event");
    assert_eq!(members(&mut c, sk, &at_risk).await, ["bob"]);
    let sent = common::messages_to(&mut c, sk, "bob@example.com").await;
    assert_eq!(sent.len(), 1, "the stage change started the flow: {sent:?}");
    assert_eq!(sent[0]["text"], "Stage at_risk, score 5");

    clock_to(&mut c, sk, t0 + 60 * DAY + MINUTE).await;
    assert_eq!(lead_of(&mut c, sk, "bob").await, (2, json!("lapsed")));
    assert_eq!(members(&mut c, sk, &at_risk).await, ["bob"]);
    let changes = stage_changes(&mut c, sk, "bob").await;
    let stages: Vec<&str> = changes.iter().map(|(_, to)| to.as_str().unwrap()).collect();
    assert_eq!(stages, ["subscriber", "first_time_customer", "vip", "at_risk", "lapsed"]);
    let id = contact(&mut c, sk, "bob").await["id"].as_i64().unwrap();
    let preview = send(&mut c, sk, &format!("/api/v1/templates/winback/preview?contact_id={id}"), json!({})).await;
    assert_eq!(preview["text"], "Stage lapsed, score 2");
    assert_eq!(common::messages_to(&mut c, sk, "bob@example.com").await.len(), 1, "the flow starts on at_risk only");
}

#[tokio::test]
async fn bad_rules_are_refused_whole_with_the_field_named() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let defaults = get(&mut c, sk, "/api/v1/settings").await;
    assert_eq!(defaults["lead_scoring"]["half_life"], "30d");
    assert!(defaults["lead_scoring"]["events"].as_array().is_some_and(|e| e.len() >= 5), "{defaults}");
    assert_eq!(defaults["lifecycle"]["at_risk_after"], "90d");
    for (body, field) in [
        (
            json!({"lead_scoring": {"events": [{"event": "Product Viewed", "points": 0}]}}),
            "lead_scoring.events[0].points",
        ),
        (
            json!({"lead_scoring": {"events": [{"event": "X", "points": 1, "where": "price >"}]}}),
            "lead_scoring.events[0].where",
        ),
        (
            json!({"lead_scoring": {"events": [{"event": "Segment Entered", "points": 5}]}}),
            "lead_scoring.events[0].event",
        ),
        (json!({"lead_scoring": {"traits": [{"trait": "plan", "points": 5}]}}), "lead_scoring.traits[0]"),
        (json!({"lead_scoring": {"half_life": "forever"}}), "lead_scoring.half_life"),
        (json!({"lead_scoring": {"bonus": 1}}), "lead_scoring.bonus"),
        (json!({"lifecycle": {"at_risk_after": "1w", "lapsed_after": "5d"}}), "lifecycle.lapsed_after"),
        (json!({"lifecycle": {"vip_lifetime_value": "lots"}}), "lifecycle.vip_lifetime_value"),
        // The valid key of a patch is not kept when another is refused.
        (json!({"lifecycle": {"lead_score": 10}, "lead_scoring": {"events": {}}}), "lead_scoring.events"),
    ] {
        let (status, e) = put_settings(&mut c, sk, body.clone()).await;
        assert_eq!(status, 400, "{body}: {e}");
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
        assert_eq!(e["error"]["code"], "invalid_definition", "{e}");
    }
    assert_eq!(get(&mut c, sk, "/api/v1/settings").await, defaults, "nothing of a refused patch is stored");

    // A stage that does not exist would match nobody: the segment is refused, naming the stages.
    let r = c.post_json("/api/v1/segments", sk, &json!({"name": "x", "definition": "lifecycle.stage = \"VIP\""})).await;
    let r = r.unwrap();
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("at_risk"), "{:?}", r.body);
}

#[tokio::test]
async fn one_workspaces_rules_leave_anothers_scores_alone() {
    let s = TestServer::start();
    let other = common::create_workspace(&s.dir, "Other shop");
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let rules = json!({"lead_scoring": {"events": [{"event": "Product Viewed", "points": 60}]}, "lifecycle": {"lead_score": 60}});
    assert_eq!(put_settings(&mut c, sk, rules).await.0, 200);
    let hot_other = segment(&mut c, &other.secret_key, "Hot", "lead.score >= 50").await;
    for key in [wk, other.write_key.as_str()] {
        send(
            &mut c,
            key,
            "/v1/track",
            json!({"userId": "cy", "event": "Product Viewed", "properties": {"product_id": "p"}}),
        )
        .await;
    }
    assert_eq!(lead_of(&mut c, sk, "cy").await, (60, json!("lead")));
    assert_eq!(lead_of(&mut c, &other.secret_key, "cy").await, (3, json!(null)), "the default rules");
    assert!(members(&mut c, &other.secret_key, &hot_other).await.is_empty());
    assert_eq!(get(&mut c, &other.secret_key, "/api/v1/settings").await["lifecycle"]["lead_score"], 50);
}

#[tokio::test]
async fn trait_rules_score_profiles_held_packed_by_their_top_level_traits() {
    // Twenty people after Ann: her profile is held packed (debug builds keep 8 decoded), so the rescoring of a
    // settings change and of a restart reads it lite, with only the traits the rules name.
    let mut s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let traits = json!({"email": "ann@example.com", "plan": "pro", "address": {"country": "FR"}, "note": "x"});
    send(&mut c, &wk, "/v1/identify", json!({"userId": "ann", "traits": traits})).await;
    for i in 0..20 {
        send(&mut c, &wk, "/v1/identify", json!({"userId": format!("u{i}"), "traits": {"plan": "free"}})).await;
    }
    let rules = json!({"lead_scoring": {"events": [], "traits": [
        {"trait": "plan", "equals": "pro", "points": 5},
        {"trait": "address.country", "equals": "FR", "points": 3}
    ]}});
    assert_eq!(put_settings(&mut c, &sk, rules).await.0, 200);
    assert_eq!(lead_of(&mut c, &sk, "ann").await.0, 8);
    assert_eq!(lead_of(&mut c, &sk, "u3").await.0, 0);
    s.terminate();
    s.restart();
    let mut c = s.client().await;
    assert_eq!(lead_of(&mut c, &sk, "ann").await.0, 8, "the same score after a restart");
}
