//! Helpers of the delivery tests (`hardening_delivery.rs`, `crash_sends.rs`): a server mailing a real SMTP
//! sink, subscribed contacts, a campaign to them, unsubscribers that record when each answer came, and what the
//! sink received per recipient.
#![allow(dead_code)] // each test file uses part of it

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

use crate::support::SmtpSink;

/// `kairos.toml` sending email to the sink on `port`, with a small SMTP pool so sending takes a while.
pub fn smtp_config(dir: &std::path::Path, port: u16) {
    std::fs::write(
        dir.join("kairos.toml"),
        format!(
            "[email]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             from = \"Velo Shop <shop@velo.example>\"\npool_size = {SMTP_SESSIONS}\nper_domain_concurrency = 2\n\
             [sending]\nsmart_sending = \"off\"\n"
        ),
    )
    .unwrap();
}

/// The email of user `u{i}` (four domains, so per-domain limits do not serialise everything).
pub fn address(i: usize) -> String {
    format!("u{i}@d{}.example", i % 4)
}

/// Messages the sink accepted so far (cheaper than reading them all).
pub fn eml_count(sink: &SmtpSink) -> usize {
    std::fs::read_dir(sink.dir.path())
        .map(|d| d.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "eml")).count())
        .unwrap_or(0)
}

/// Waits (up to 15 s) until the sink accepted at least `n` messages.
pub async fn wait_for_mails(sink: &SmtpSink, n: usize) {
    for _ in 0..1500 {
        if eml_count(sink) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the sink has {} messages, expected {n}", eml_count(sink));
}

/// What the sink received per recipient: (Message-ID, when accepted).
pub fn mails_by_recipient(sink: &SmtpSink) -> HashMap<String, Vec<(String, SystemTime)>> {
    let mut out: HashMap<String, Vec<(String, SystemTime)>> = HashMap::new();
    for m in sink.messages() {
        let id = m.header("Message-ID").expect("Message-ID");
        for to in &m.rcpt_tos {
            out.entry(to.clone()).or_default().push((id.clone(), m.received_at));
        }
    }
    out
}

/// An active flow that mails a transactional receipt for each `Order Completed`; answers its id.
pub async fn receipt_flow(c: &mut HttpClient, sk: &str) -> String {
    let tpl = json!({"id": "receipt", "channel": "email", "subject": "Order {{ event.order }}", "text": "Thanks"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &tpl).await.unwrap().status, 201);
    let flow = json!({"name": "Receipt", "trigger": {"type": "event", "event": "Order Completed"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "receipt", "transactional": true}]});
    let r = c.post_json("/api/v1/flows", sk, &flow).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let flow_id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{flow_id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    flow_id
}

/// Users `u{from}..u{to}` with their email, subscribed (identify with the secret key sets consent).
pub async fn subscribed_contacts(c: &mut HttpClient, sk: &str, users: std::ops::Range<usize>) {
    for chunk in users.collect::<Vec<_>>().chunks(400) {
        let batch: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({"type": "identify", "userId": format!("u{i}"),
                       "traits": {"email": address(*i), "email_consent": "subscribed"}})
            })
            .collect();
        let r = c.post_json("/v1/batch", sk, &json!({ "batch": batch })).await.unwrap();
        assert_eq!(r.status, 200, "{:?}", r.json());
    }
}

/// A campaign to every subscribed contact, scheduled now; answers its id.
pub async fn campaign_to_subscribers(c: &mut HttpClient, sk: &str, n: usize) -> String {
    let tpl = json!({"id": "news", "channel": "email", "subject": "News for {{ contact.email }}",
        "html": "<p>Hello {{ contact.email }}</p><a href=\"{{ unsubscribe_url }}\">unsubscribe</a>"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &tpl).await.unwrap().status, 201);
    let seg = c
        .post_json("/api/v1/segments", sk, &json!({"name": "Subscribers", "definition": "subscribed email"}))
        .await
        .unwrap();
    assert_eq!(seg.status, 201, "{:?}", seg.json());
    let seg_id = seg.json()["id"].as_str().unwrap().to_string();
    let r = c
        .post_json(
            "/api/v1/campaigns",
            sk,
            &json!({"name": "Launch", "channel": "email", "template": "news", "segments": [seg_id],
                    "schedule": {"type": "now"}, "smart_sending": false}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = c.post_json(&format!("/api/v1/campaigns/{id}/schedule"), sk, &json!({})).await.unwrap();
    assert_eq!((r.status, r.json()["recipients"].as_u64()), (200, Some(n as u64)), "{:?}", r.json());
    id
}

pub async fn campaign(c: &mut HttpClient, sk: &str, id: &str) -> Value {
    let r = c.get(&format!("/api/v1/campaigns/{id}"), sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()
}

/// Waits (up to 30 s) until the campaign is `sent` and none of its messages waits for a transport.
pub async fn campaign_settled(c: &mut HttpClient, sk: &str, id: &str) -> Value {
    let mut v = Value::Null;
    for _ in 0..600 {
        v = campaign(c, sk, id).await;
        let unsettled = ["queued", "retrying", "deferred"]
            .iter()
            .map(|k| v["stats"]["by_status"][k].as_u64().unwrap_or(0))
            .sum::<u64>();
        if v["status"] == "sent" && unsettled == 0 {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the campaign did not finish: {v}");
}

/// Unsubscribes users through the consent API from several clients at once and records when each answer
/// (200) arrived. A request without an answer (the server died) is recorded as attempted only.
#[derive(Default, Clone)]
pub struct Unsubscribes {
    pub answered: Arc<Mutex<HashMap<String, SystemTime>>>,
    pub unanswered: Arc<Mutex<HashSet<String>>>,
}

impl Unsubscribes {
    /// Unsubscribes `who` (user numbers, taken from the end) with `clients` clients, each waiting `pause`
    /// after an answer; returns when the list is empty or every client lost its server. `skip` is asked just
    /// before each request (e.g. already mailed).
    pub async fn run(
        &self,
        addr: SocketAddr,
        sk: &str,
        who: Arc<Mutex<Vec<usize>>>,
        (clients, pause): (usize, Duration),
        skip: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    ) {
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (this, who, sk, skip) = (self.clone(), who.clone(), sk.to_string(), skip.clone());
            tasks.push(tokio::spawn(async move {
                let Ok(mut c) = HttpClient::connect(addr).await else { return };
                loop {
                    let Some(i) = who.lock().unwrap().pop() else { return };
                    let to = address(i);
                    if skip(&to) {
                        continue;
                    }
                    let body = json!({"user_id": format!("u{i}"), "channel": "email", "status": "unsubscribed"});
                    match c.post_json("/api/v1/contacts/consent", &sk, &body).await {
                        Ok(r) if r.status == 200 => {
                            this.answered.lock().unwrap().insert(to, SystemTime::now());
                            tokio::time::sleep(pause).await;
                        }
                        Ok(r) => panic!("unsubscribe answered {}: {:?}", r.status, r.json()),
                        Err(_) => {
                            this.unanswered.lock().unwrap().insert(to);
                            return;
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }

    pub fn answered(&self) -> HashMap<String, SystemTime> {
        self.answered.lock().unwrap().clone()
    }
}

/// Every mail accepted after its recipient's unsubscribe was answered: (recipient, how much later).
pub fn mails_after_unsubscribe(
    mails: &HashMap<String, Vec<(String, SystemTime)>>,
    answered: &HashMap<String, SystemTime>,
) -> Vec<(String, Duration)> {
    let mut late = Vec::new();
    for (to, list) in mails {
        if let Some(at) = answered.get(to) {
            for (_, received) in list {
                if let Ok(d) = received.duration_since(*at) {
                    late.push((to.clone(), d));
                }
            }
        }
    }
    late
}

/// Recipients who received two different messages (duplicates must carry the same Message-ID).
pub fn distinct_duplicates(mails: &HashMap<String, Vec<(String, SystemTime)>>) -> Vec<(String, Vec<String>)> {
    mails
        .iter()
        .filter_map(|(to, list)| {
            let ids: HashSet<&String> = list.iter().map(|(id, _)| id).collect();
            (ids.len() > 1).then(|| (to.clone(), ids.into_iter().cloned().collect()))
        })
        .collect()
}

/// How many times the server received a Message-ID it already had: a send repeated after a crash. Email has a
/// point of no return recorded before its content goes, so there must be none.
pub fn repeats(mails: &HashMap<String, Vec<(String, SystemTime)>>) -> usize {
    mails.values().map(|l| l.len() - l.iter().map(|(id, _)| id).collect::<HashSet<_>>().len()).sum()
}

/// Most messages one SMTP pool of `smtp_config` has in its server's hands at once: at most this many can be
/// recorded sent unconfirmed by one kill.
pub const SMTP_SESSIONS: usize = 8;

/// Recipients of the messages listed at `path` that were recorded sent without the server's answer (their node
/// was killed past the point of no return: the server may or may not have them; they are not sent again).
pub async fn unconfirmed(c: &mut HttpClient, sk: &str, path: &str) -> HashSet<String> {
    crate::common::all_items(c, sk, path)
        .await
        .iter()
        .filter(|m| m["reason"].as_str() == Some(kairos_engine::UNCONFIRMED_REASON))
        .map(|m| m["to"].as_str().unwrap_or_default().to_string())
        .collect()
}
