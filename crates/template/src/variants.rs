//! Subject-line variants within one email template (A/B testing of subject and preview text): their letters, and
//! which one a contact gets.
//!
//! Variant A is the template's own subject and preview text; B, C, … are its `variants`, in order. A contact's
//! variant is a pure function of the contact, the template and how many variants there are, so every render of
//! the same message (a retry, the re-render at hand-off) agrees, and a person who gets the template again (a flow
//! that repeats) sees the same subject line. The hash is written out here rather than taken from the standard
//! library, whose hasher may change between Rust releases.

use serde::{Deserialize, Serialize};

/// Most variants besides the base subject (so at most five subject lines, A to E): each one takes a share of
/// the audience, and more than five shares leave too few people per line to tell them apart.
pub const SUBJECT_VARIANTS_MAX: usize = 4;

/// One variant: a subject (Liquid) and optionally its own preview text (Liquid; without one the template's
/// preview text is used).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectVariant {
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_text: Option<String>,
}

/// The letter of variant `index` (0 is A, the template's own subject).
pub fn variant_letter(index: usize) -> String {
    char::from_u32(u32::from(b'A') + index as u32).map(String::from).unwrap_or_else(|| index.to_string())
}

/// The index of a variant letter (`"A"` is 0), up to the last one a template can have.
pub fn variant_index(letter: &str) -> Option<usize> {
    match letter.as_bytes() {
        [b] if b.is_ascii_uppercase() => Some(usize::from(b - b'A')).filter(|i| *i <= SUBJECT_VARIANTS_MAX),
        _ => None,
    }
}

/// The variant (0..`count`) contact `contact` gets of template `template`: even across contacts, the same every
/// time for a given contact, template and count. `count` 0 or 1 answers 0.
pub fn pick_variant(contact: i64, template: &str, count: usize) -> usize {
    if count <= 1 {
        return 0;
    }
    // FNV-1a over the template id, a separator and the contact, then SplitMix64's finaliser to spread the bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in template.bytes().chain([0xff]).chain(contact.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    // Multiply-shift maps the 64-bit hash onto 0..count without the bias of a remainder.
    ((u128::from(h) * count as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_indexes() {
        assert_eq!((variant_letter(0), variant_letter(1), variant_letter(4)), ("A".into(), "B".into(), "E".into()));
        assert_eq!(variant_index("A"), Some(0));
        assert_eq!(variant_index("E"), Some(SUBJECT_VARIANTS_MAX));
        for bad in ["F", "a", "", "AB", "1"] {
            assert_eq!(variant_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_choice_is_deterministic() {
        for contact in 0..1_000 {
            let v = pick_variant(contact, "welcome", 3);
            assert!(v < 3);
            assert_eq!(v, pick_variant(contact, "welcome", 3), "same contact, same template, same variant");
        }
        assert_eq!(pick_variant(7, "welcome", 1), 0);
        assert_eq!(pick_variant(7, "welcome", 0), 0);
        // Pinned: a change of the hash would move people between variants of templates already being tested.
        let pinned: Vec<usize> = (1..=8).map(|c| pick_variant(c, "tpl_spring", 2)).collect();
        assert_eq!(pinned, PINNED);
    }

    const PINNED: [usize; 8] = [0, 1, 1, 0, 1, 1, 0, 0];

    #[test]
    fn the_split_is_even() {
        for count in 2..=SUBJECT_VARIANTS_MAX + 1 {
            let n = 20_000;
            let mut seen = vec![0usize; count];
            for contact in 0..n {
                seen[pick_variant(contact, "cart-reminder", count)] += 1;
            }
            let fair = n as usize / count;
            for (v, k) in seen.iter().enumerate() {
                // Within 5 % of a fair share (about 7 standard deviations at 20 000 contacts).
                assert!(k.abs_diff(fair) * 20 < fair, "{count} variants: variant {v} got {k} of {n}");
            }
        }
    }

    #[test]
    fn templates_split_independently() {
        // The same people are split differently by another template: no one is always in variant A.
        let n = 4_000;
        let both_a = (0..n).filter(|c| pick_variant(*c, "one", 2) == 0 && pick_variant(*c, "two", 2) == 0).count();
        assert!(both_a.abs_diff(n as usize / 4) * 10 < n as usize / 4, "{both_a} of {n} in A twice");
    }
}
