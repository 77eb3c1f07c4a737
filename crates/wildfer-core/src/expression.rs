use serde::{Deserialize, Serialize};
use std::fmt;

/// An expression class, with its ABAW index as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expression {
    Neutral = 0,
    Anger = 1,
    Disgust = 2,
    Fear = 3,
    Happiness = 4,
    Sadness = 5,
    Surprise = 6,
    /// Only in the 8-class editions (ABAW3, 2022, and later).
    Other = 7,
}

impl Expression {
    /// All eight classes in ABAW order.
    pub const ALL: [Expression; 8] = [
        Expression::Neutral,
        Expression::Anger,
        Expression::Disgust,
        Expression::Fear,
        Expression::Happiness,
        Expression::Sadness,
        Expression::Surprise,
        Expression::Other,
    ];

    /// ABAW class index (0..=7).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class with ABAW index `i`, if any.
    pub fn from_index(i: usize) -> Option<Expression> {
        Self::ALL.get(i).copied()
    }

    /// Name as written in ABAW annotation headers (`Happiness`).
    pub fn name(self) -> &'static str {
        match self {
            Expression::Neutral => "Neutral",
            Expression::Anger => "Anger",
            Expression::Disgust => "Disgust",
            Expression::Fear => "Fear",
            Expression::Happiness => "Happiness",
            Expression::Sadness => "Sadness",
            Expression::Surprise => "Surprise",
            Expression::Other => "Other",
        }
    }

    /// Lower-case name, used as key in JSON and CSV outputs (`happiness`).
    pub fn key(self) -> &'static str {
        match self {
            Expression::Neutral => "neutral",
            Expression::Anger => "anger",
            Expression::Disgust => "disgust",
            Expression::Fear => "fear",
            Expression::Happiness => "happiness",
            Expression::Sadness => "sadness",
            Expression::Surprise => "surprise",
            Expression::Other => "other",
        }
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which ABAW edition's class list is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LabelSet {
    /// ABAW 2020/2021: Neutral..Surprise (7 classes).
    #[serde(rename = "7")]
    Seven,
    /// ABAW 2022 and later: Neutral..Surprise, Other (8 classes).
    #[serde(rename = "8")]
    Eight,
}

impl LabelSet {
    /// `7` or `8` to a label set.
    pub fn from_count(n: usize) -> Option<LabelSet> {
        match n {
            7 => Some(LabelSet::Seven),
            8 => Some(LabelSet::Eight),
            _ => None,
        }
    }

    pub fn num_classes(self) -> usize {
        match self {
            LabelSet::Seven => 7,
            LabelSet::Eight => 8,
        }
    }

    /// The classes of this set in ABAW order.
    pub fn classes(self) -> &'static [Expression] {
        &Expression::ALL[..self.num_classes()]
    }

    /// The class with index `i` if it belongs to this set.
    pub fn class(self, i: usize) -> Option<Expression> {
        self.classes().get(i).copied()
    }

    /// Annotation-file header: `Neutral,Anger,...,Surprise[,Other]`.
    pub fn header(self) -> String {
        self.classes()
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Recognise a header line. Case, surrounding blanks and a trailing comma are tolerated;
    /// names and order must be the ABAW ones.
    pub fn from_header(line: &str) -> Option<LabelSet> {
        let line = line.trim().trim_start_matches('\u{feff}');
        let names: Vec<&str> = line
            .trim_end_matches(',')
            .split(',')
            .map(str::trim)
            .collect();
        let set = LabelSet::from_count(names.len())?;
        let ok = set
            .classes()
            .iter()
            .zip(&names)
            .all(|(e, n)| e.name().eq_ignore_ascii_case(n));
        ok.then_some(set)
    }
}

impl fmt::Display for LabelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.num_classes())
    }
}

/// The winning class of a probability (or score) vector: the first of the largest values, as
/// NumPy's and PyTorch's `argmax` (NaN never wins); 0 for an empty vector.
pub fn argmax<T: PartialOrd>(p: &[T]) -> usize {
    // `x != x` only for NaN.
    #[allow(clippy::eq_op)]
    let nan = |x: &T| x != x;
    (0..p.len()).fold(0, |b, k| {
        if p[k] > p[b] || (nan(&p[b]) && !nan(&p[k])) {
            k
        } else {
            b
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trip() {
        for (i, e) in Expression::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(Expression::from_index(i), Some(*e));
        }
        assert_eq!(Expression::from_index(8), None);
    }

    #[test]
    fn headers() {
        assert_eq!(
            LabelSet::Seven.header(),
            "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise"
        );
        assert_eq!(
            LabelSet::Eight.header(),
            "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other"
        );
        for set in [LabelSet::Seven, LabelSet::Eight] {
            assert_eq!(LabelSet::from_header(&set.header()), Some(set));
        }
        assert_eq!(
            LabelSet::from_header(" neutral, anger,disgust,fear,happiness,sadness,surprise\r"),
            Some(LabelSet::Seven)
        );
        assert_eq!(
            LabelSet::from_header("Neutral,Anger,Disgust,Fear,Happiness,Sadness"),
            None
        );
        assert_eq!(
            LabelSet::from_header("Anger,Neutral,Disgust,Fear,Happiness,Sadness,Surprise"),
            None
        );
        assert_eq!(LabelSet::from_header("0"), None);
        assert_eq!(LabelSet::Eight.class(7), Some(Expression::Other));
        assert_eq!(LabelSet::Seven.class(7), None);
    }
}
