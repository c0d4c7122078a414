//! The statistics of A/B tests: how confident one rate's lead over another is. One method for every test in
//! Kairos: a campaign's test of templates (its winner is picked with it) and a template's test of subject lines.

/// Normal CDF (Abramowitz–Stegun 7.1.26).
pub fn phi(z: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs() / std::f64::consts::SQRT_2);
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t + 0.254_829_592)
            * t
            * (-(z * z) / 2.0).exp();
    if z >= 0.0 { 0.5 * (1.0 + y) } else { 0.5 * (1.0 - y) }
}

/// Confidence that rate `a` (of `na`) beats rate `b` (of `nb`): a one-sided two-proportion z-test.
pub fn confidence(a: u64, na: u64, b: u64, nb: u64) -> f64 {
    if na == 0 || nb == 0 {
        return 0.5;
    }
    let (pa, pb) = (a as f64 / na as f64, b as f64 / nb as f64);
    let p = (a + b) as f64 / (na + nb) as f64;
    let se = (p * (1.0 - p) * (1.0 / na as f64 + 1.0 / nb as f64)).sqrt();
    if se == 0.0 {
        return if pa > pb { 1.0 } else { 0.5 };
    }
    phi((pa - pb) / se)
}

/// The leader of a test of rates and how sure its lead is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lead {
    /// The index of the arm with the highest rate (the first of equals).
    pub leader: usize,
    /// The confidence that the leader beats its closest rival ([`confidence`] against each other arm, the
    /// lowest): the figure a marketer can trust for "the leader is best".
    pub confidence: f64,
}

/// The leader among arms of (successes, trials); None with fewer than two arms or when an arm has no trials
/// (nothing to compare yet).
pub fn lead(arms: &[(u64, u64)]) -> Option<Lead> {
    if arms.len() < 2 || arms.iter().any(|(_, n)| *n == 0) {
        return None;
    }
    let rate = |(hits, n): (u64, u64)| hits as f64 / n as f64;
    let best = arms.iter().map(|a| rate(*a)).fold(f64::MIN, f64::max);
    let leader = arms.iter().position(|a| rate(*a) == best).unwrap_or(0);
    let (lh, ln) = arms[leader];
    let confidence = arms
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, (h, n))| confidence(lh, ln, *h, *n))
        .fold(1.0, f64::min);
    Some(Lead { leader, confidence })
}

/// How sure a lead must be to call the leader the winner: the usual 95 %.
pub const CONFIDENCE_DECIDED: f64 = 0.95;
/// Delivered emails each subject line needs before its open rate means much: below it the normal approximation
/// behind [`confidence`] is poor and one person's open moves a rate by a whole point.
pub const SUBJECT_LINE_DELIVERED_MIN: u64 = 100;

/// The leading subject line of a template's test, on open rate (what a subject line and preview text change).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubjectLead {
    /// The leader's index (0 is A).
    pub variant: i64,
    /// Confidence that it beats its closest rival ([`lead`]).
    pub confidence: f64,
    /// Every subject line of the test has at least [`SUBJECT_LINE_DELIVERED_MIN`] delivered emails.
    pub enough_data: bool,
    /// Enough data and at least [`CONFIDENCE_DECIDED`]: the leader is the winner.
    pub decided: bool,
}

/// The lead among subject lines of (index, opened, delivered); the lines without deliveries yet are not
/// compared (and mean not enough data). None with fewer than two lines to compare.
pub fn subject_lead(lines: &[(i64, u64, u64)]) -> Option<SubjectLead> {
    let compared: Vec<&(i64, u64, u64)> = lines.iter().filter(|(_, _, n)| *n > 0).collect();
    let arms: Vec<(u64, u64)> = compared.iter().map(|(_, opened, n)| (*opened, *n)).collect();
    let Lead { leader, confidence } = lead(&arms)?;
    let enough_data = lines.iter().all(|(_, _, n)| *n >= SUBJECT_LINE_DELIVERED_MIN);
    Some(SubjectLead {
        variant: compared[leader].0,
        confidence,
        enough_data,
        decided: enough_data && confidence >= CONFIDENCE_DECIDED,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_of_a_lead() {
        assert!((phi(0.0) - 0.5).abs() < 1e-9);
        assert!((phi(1.96) - 0.975).abs() < 1e-3);
        assert!((phi(-1.96) - 0.025).abs() < 1e-3);
        // 30 % against 20 % of 1 000 each: very sure; of 20 each: not at all.
        assert!(confidence(300, 1_000, 200, 1_000) > 0.99);
        let small = confidence(6, 20, 4, 20);
        assert!(small > 0.5 && small < 0.8, "{small}");
        assert_eq!(confidence(1, 0, 1, 10), 0.5);
        assert_eq!(confidence(0, 10, 0, 10), 0.5, "nothing happened in either");
    }

    #[test]
    fn the_leader_against_its_closest_rival() {
        assert_eq!(lead(&[(10, 100)]), None, "one arm");
        assert_eq!(lead(&[(10, 100), (0, 0)]), None, "an arm without trials");
        let l = lead(&[(200, 1_000), (300, 1_000), (290, 1_000)]).unwrap();
        assert_eq!(l.leader, 1);
        // The closest rival (29 %) decides, not the far one (20 %).
        assert!((l.confidence - confidence(300, 1_000, 290, 1_000)).abs() < 1e-12);
        assert!(l.confidence < 0.7, "{}", l.confidence);
        let tie = lead(&[(5, 10), (5, 10)]).unwrap();
        assert_eq!(tie.leader, 0);
        assert!((tie.confidence - 0.5).abs() < 1e-6, "a tie is a coin toss: {}", tie.confidence);
    }

    #[test]
    fn subject_lines_on_open_rate() {
        assert_eq!(subject_lead(&[(0, 5, 10), (1, 0, 0)]), None, "only one line delivered yet");
        let early = subject_lead(&[(0, 3, 10), (1, 6, 10), (2, 0, 0)]).unwrap();
        assert_eq!((early.variant, early.enough_data, early.decided), (1, false, false));
        let clear = subject_lead(&[(0, 200, 1_000), (1, 300, 1_000)]).unwrap();
        assert_eq!((clear.variant, clear.enough_data, clear.decided), (1, true, true));
        let close = subject_lead(&[(0, 210, 1_000), (1, 200, 1_000)]).unwrap();
        assert_eq!((close.variant, close.enough_data, close.decided), (0, true, false));
        assert!(close.confidence > 0.5 && close.confidence < CONFIDENCE_DECIDED, "{}", close.confidence);
    }
}
