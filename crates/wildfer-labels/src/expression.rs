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

/// Which ABAW edition's class list is in use (default: the seven of the built-in models).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LabelSet {
    /// ABAW 2020/2021: Neutral..Surprise (7 classes).
    #[default]
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

    /// The lower-case keys of the classes (`neutral`, ..., `surprise`[, `other`]), in order.
    pub fn keys(self) -> impl Iterator<Item = &'static str> {
        self.classes().iter().map(|e| e.key())
    }

    /// The class whose key is `key` (`happiness`), if the set has it.
    pub fn class_of_key(self, key: &str) -> Option<Expression> {
        self.classes().iter().copied().find(|c| c.key() == key)
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

/// One face's probabilities (or scores) over the classes of a [`LabelSet`], in ABAW order
/// (`Other` last, in 8-class sets). Fixed-size and `Copy`, so a row carries it without
/// allocating; it reads as a slice of the set's length. Serialises as a map from each
/// class's key to its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probs {
    set: LabelSet,
    p: [f32; 8],
}

impl Probs {
    /// `values` (one per class of `set`, in order); `None` when the count is not the set's.
    pub fn new(set: LabelSet, values: &[f32]) -> Option<Probs> {
        (values.len() == set.num_classes()).then(|| {
            let mut p = [0f32; 8];
            p[..values.len()].copy_from_slice(values);
            Probs { set, p }
        })
    }

    /// The seven ABAW 2020/21 classes' values.
    pub fn seven(p: [f32; 7]) -> Probs {
        Probs::from_fn(LabelSet::Seven, |k| p[k])
    }

    /// Every class of `set` valued by `f(index)`.
    pub fn from_fn(set: LabelSet, f: impl Fn(usize) -> f32) -> Probs {
        let n = set.num_classes();
        Probs {
            set,
            p: std::array::from_fn(|k| if k < n { f(k) } else { 0.0 }),
        }
    }

    /// All zeros (a sum to add into).
    pub fn zeros(set: LabelSet) -> Probs {
        Probs::from_fn(set, |_| 0.0)
    }

    pub fn label_set(&self) -> LabelSet {
        self.set
    }

    /// The classes, in the values' order.
    pub fn classes(&self) -> &'static [Expression] {
        self.set.classes()
    }

    /// The winning class (ties: the first, see [`argmax`]).
    pub fn top(&self) -> Expression {
        self.set.classes()[argmax(self)]
    }

    /// `self += w * other`, class by class (weighted sums: ensembles, smoothing).
    pub fn add_scaled(&mut self, other: &Probs, w: f32) {
        for (a, v) in self.iter_mut().zip(other.iter()) {
            *a += w * v;
        }
    }

    /// The value of `class`; `None` when the set does not have it.
    pub fn get(&self, class: Expression) -> Option<f32> {
        let k = class.index();
        (k < self.set.num_classes()).then(|| self.p[k])
    }
}

impl std::ops::Deref for Probs {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.p[..self.set.num_classes()]
    }
}

impl std::ops::DerefMut for Probs {
    fn deref_mut(&mut self) -> &mut [f32] {
        let n = self.set.num_classes();
        &mut self.p[..n]
    }
}

impl Serialize for Probs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.len()))?;
        for (c, v) in self.classes().iter().zip(self.iter()) {
            m.serialize_entry(c.key(), v)?;
        }
        m.end()
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
    fn probs_read_as_their_sets_classes() {
        let p = Probs::seven([0.1, 0.0, 0.0, 0.0, 0.6, 0.3, 0.0]);
        assert_eq!(p.len(), 7);
        assert_eq!(p.top(), Expression::Happiness);
        assert_eq!(p.get(Expression::Sadness), Some(0.3));
        assert_eq!(p.get(Expression::Other), None);
        let eight = [0.1, 0.0, 0.0, 0.0, 0.2, 0.1, 0.0, 0.6];
        let q = Probs::new(LabelSet::Eight, &eight).unwrap();
        assert_eq!(&q[..], &eight[..]);
        assert_eq!(q.top(), Expression::Other);
        assert_eq!(Probs::new(LabelSet::Seven, &eight), None);
        assert_eq!(Probs::new(LabelSet::Eight, &eight[..7]), None);
        assert_eq!(
            serde_json::to_string(&q).unwrap(),
            r#"{"neutral":0.1,"anger":0.0,"disgust":0.0,"fear":0.0,"happiness":0.2,"sadness":0.1,"surprise":0.0,"other":0.6}"#
        );
        assert_eq!(
            LabelSet::Eight.class_of_key("other"),
            Some(Expression::Other)
        );
        assert_eq!(LabelSet::Seven.class_of_key("other"), None);
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
