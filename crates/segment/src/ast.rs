//! The segment expression tree. The canonical stored form is JSON (`json.rs`); the text language
//! (`parse.rs`, `print.rs`) round-trips to the same tree.
//!
//! Inside `where` filters of `did` / `count`, field paths name event properties (`category`,
//! `products.category`); everywhere else they name profile fields (`trait.city`, `orders.count`,
//! `last_seen_at`, `event.value` in flow conditions).

use kairos_domain::Duration;

/// Deepest nesting of expressions accepted.
pub const DEPTH_MAX: usize = 32;
/// Most values in one `in [...]` list.
pub const IN_VALUES_MAX: usize = 1_000;
/// Most conditions (leaves) in one definition.
pub const CONDITIONS_MAX: usize = 200;
/// Longest text definition accepted, in bytes.
pub const TEXT_BYTES_MAX: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `orders.count >= 3`, `trait.city = "Helsinki"`, `category contains "bike"`
    Compare {
        field: FieldPath,
        op: CompareOp,
        value: Literal,
    },
    /// `trait.email exists`
    Exists {
        field: FieldPath,
    },
    /// `trait.city in ["Helsinki", "Tampere"]`
    In {
        field: FieldPath,
        values: Vec<Literal>,
    },
    /// `last_seen_at before 90d ago`, `orders.last_at after 30d ago`, `cart.updated_at within 4h`
    Relative {
        field: FieldPath,
        rel: Relative,
    },
    /// `did "Checkout Started" within 4h`, `did "Order Completed" where products.category contains "bicycles"`
    Did {
        event: String,
        filter: Option<Box<Expr>>,
        window: Option<Window>,
    },
    /// `count("Product Viewed" where category = "bicycles", within 30d) >= 2`
    Count {
        event: String,
        filter: Option<Box<Expr>>,
        window: Option<Window>,
        op: CompareOp,
        value: u64,
    },
    /// `subscribed email`, `unsubscribed sms`
    Consent {
        channel: Channel,
        status: ConsentIs,
    },
    /// `in segment "VIP"` (by segment id or name)
    InSegment(String),
}

/// A dotted path: `trait.city`, `orders.count`, `products.category`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath(pub String);

impl FieldPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Contains,
    StartsWith,
}

impl CompareOp {
    /// Every operator (property tests draw from it).
    pub const ALL: [CompareOp; 8] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Contains,
        CompareOp::StartsWith,
    ];

    /// The operator as written in both forms: `=`, `!=`, `>`, `>=`, `<`, `<=`, `contains`, `starts_with`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Contains => "contains",
            CompareOp::StartsWith => "starts_with",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "=" | "==" => CompareOp::Eq,
            "!=" => CompareOp::Ne,
            ">" => CompareOp::Gt,
            ">=" => CompareOp::Ge,
            "<" => CompareOp::Lt,
            "<=" => CompareOp::Le,
            "contains" => CompareOp::Contains,
            "starts_with" => CompareOp::StartsWith,
            _ => return None,
        })
    }

    /// Whether this operator orders values (only these apply to counts).
    pub fn is_numeric(self) -> bool {
        matches!(self, CompareOp::Eq | CompareOp::Ne | CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le)
    }
}

/// A constant in a condition. Strings that look like ISO dates compare as instants against time fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

/// A condition on a timestamp field relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relative {
    /// `before D ago`: the instant is earlier than now − D.
    BeforeAgo(Duration),
    /// `after D ago`: the instant is later than now − D.
    AfterAgo(Duration),
    /// `within D`: the instant is in [now − D, now].
    Within(Duration),
}

/// Which occurrences of an event a `did` / `count` looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// In the last D.
    Within(Duration),
    /// Earlier than D ago.
    BeforeAgo(Duration),
    /// Later than D ago (same as `within D` for past events).
    AfterAgo(Duration),
    /// Since the contact entered the flow (flow conditions only).
    SinceEntry,
}

/// A channel that takes consent (`subscribed email`): the subset of [`kairos_domain::Channel`] the language names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// The segment language's consent channels are the domain's channels that take consent.
impl From<Channel> for kairos_domain::Channel {
    fn from(c: Channel) -> Self {
        match c {
            Channel::Email => kairos_domain::Channel::Email,
            Channel::Sms => kairos_domain::Channel::Sms,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentIs {
    Subscribed,
    Unsubscribed,
}

impl ConsentIs {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentIs::Subscribed => "subscribed",
            ConsentIs::Unsubscribed => "unsubscribed",
        }
    }
}

impl Expr {
    /// Visits every node, depth first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| x.walk(f)),
            Expr::Not(x) => x.walk(f),
            Expr::Did { filter: Some(x), .. } | Expr::Count { filter: Some(x), .. } => x.walk(f),
            _ => {}
        }
    }

    /// Segments this expression refers to with `in segment`.
    pub fn segment_refs(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::InSegment(s) = e {
                out.push(s.as_str());
            }
        });
        out
    }
}
