//! The mutation engine of `cr-fuzz` (`src/bin/cr-fuzz.rs`): a real image taken apart into
//! records ([`craft::Image`]), changed by one to three structure-aware mutations, and sealed
//! again with a tail that matches, so that restart(2) gets past the checksum and meets the
//! damage where it parses and uses the records. A case may also be cut short (no tail), which
//! restart must refuse with EBADMSG.
//!
//! Everything a case does comes from a [`Prng`] seeded with [`case_seed`]`(seed, index)`, and
//! the mutations depend on the base image's shape only (record count and types, field layout;
//! the values drawn from the image are picked by position), so `--seed S --case K` replays case
//! K of a run alone, on base images made again the same way.
//!
//! How a mutation is chosen: the kind by weight ([`KINDS`]); then a record type, uniformly among
//! the types that the kind can apply to (so that the 64 `SigAction` records of a process do not
//! drown the one `Mm`), then a record of that type; for a field mutation, a field of the record
//! (scalars for [`Kind::SetScalar`], an element of an array for [`Kind::SetElement`]) and a value
//! from [`interesting`]. A mutation that leaves the image unsealable (a second header, a record
//! longer than its type's maximum) or unchanged is dropped and another one drawn.

use std::fmt;

use abi::stream::{MAX_RECORD_LEN, RECORD_HEADER_LEN};
use abi::{FieldDesc, FieldType, Record, RecordType};

use crate::craft::{Image, Rec};
use crate::damage::record_offsets;
use crate::Prng;

/// What a mutation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A scalar field of a struct record gets an [`interesting`] value.
    SetScalar,
    /// One element of an array field of a struct record gets an [`interesting`] value.
    SetElement,
    /// A copy of a record goes right after it or anywhere after the header.
    Duplicate,
    /// A record goes away.
    Delete,
    /// A record changes places with the next one.
    Swap,
    /// A record goes elsewhere after the header.
    Move,
    /// The sealed image is cut short before its tail (applied last, at most once).
    Cut,
}

/// The kinds with their weights: field values are where most of the parsing is.
pub const KINDS: [(Kind, usize); 7] = [
    (Kind::SetScalar, 8),
    (Kind::SetElement, 2),
    (Kind::Duplicate, 2),
    (Kind::Delete, 2),
    (Kind::Swap, 2),
    (Kind::Move, 2),
    (Kind::Cut, 1),
];

/// One applied mutation; record numbers are positions in the image as it was when the mutation
/// was applied (the header is record 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Field `field` (element `index` of an array) of record `rec`, of type `ty`.
    Set {
        rec: usize,
        ty: u32,
        field: &'static str,
        index: Option<usize>,
        old: i64,
        new: i64,
    },
    Duplicate {
        rec: usize,
        ty: u32,
        to: usize,
    },
    Delete {
        rec: usize,
        ty: u32,
    },
    /// Record `rec` (of type `ty`) and record `rec + 1` (of type `next`) changed places.
    Swap {
        rec: usize,
        ty: u32,
        next: u32,
    },
    Move {
        rec: usize,
        ty: u32,
        to: usize,
    },
    /// The sealed image, `len` bytes, cut to its first `at`.
    Cut {
        at: usize,
        len: usize,
    },
}

fn type_name(ty: u32) -> String {
    abi::record_desc(ty).map_or_else(|| format!("type{ty}"), |d| d.name.to_string())
}

/// A field value as the mutation lines show it: decimal when small, hex otherwise.
struct Value(i64);

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            v if (-4096..=4096).contains(&v) => write!(f, "{v}"),
            v => write!(f, "{v:#x}"),
        }
    }
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Mutation::Set {
                rec,
                ty,
                field,
                index,
                old,
                new,
            } => {
                write!(f, "#{rec} {}.{field}", type_name(ty))?;
                if let Some(i) = index {
                    write!(f, "[{i}]")?;
                }
                write!(f, "={} (was {})", Value(new), Value(old))
            }
            Mutation::Duplicate { rec, ty, to } => {
                write!(f, "dup #{rec} {} to #{to}", type_name(ty))
            }
            Mutation::Delete { rec, ty } => write!(f, "del #{rec} {}", type_name(ty)),
            Mutation::Swap { rec, ty, next } => {
                write!(
                    f,
                    "swap #{rec} {} #{} {}",
                    type_name(ty),
                    rec + 1,
                    type_name(next)
                )
            }
            Mutation::Move { rec, ty, to } => write!(f, "move #{rec} {} to #{to}", type_name(ty)),
            Mutation::Cut { at, len } => write!(f, "cut at {at:#x} of {len:#x}"),
        }
    }
}

/// A base image: a real checkpoint taken apart, and the values its scalar fields hold (for
/// [`interesting`]'s "a value from elsewhere in the image").
#[derive(Clone, Debug)]
pub struct Base {
    pub name: String,
    pub image: Image,
    pool: Vec<i64>,
}

impl Base {
    pub fn new(name: &str, image: Image) -> Base {
        let mut pool = Vec::new();
        for rec in &image.recs {
            for f in fields(rec, false) {
                let v = rec.get(f.name);
                if v != 0 && !pool.contains(&v) {
                    pool.push(v);
                }
            }
        }
        Base {
            name: name.to_string(),
            image,
            pool,
        }
    }
}

/// One case: which base, what was done to it, and the bytes restart(2) gets.
#[derive(Clone, Debug)]
pub struct Case {
    pub index: u64,
    /// Index of its base in the slice [`case`] got.
    pub base: usize,
    pub mutations: Vec<Mutation>,
    /// The mutated image before any cut.
    pub image: Image,
    /// The sealed image, cut short if the last mutation is a [`Mutation::Cut`].
    pub bytes: Vec<u8>,
}

impl Case {
    /// Whether the image was cut short (it has no tail).
    pub fn cut(&self) -> bool {
        matches!(self.mutations.last(), Some(Mutation::Cut { .. }))
    }

    /// The mutations, `; `-separated.
    pub fn describe(&self) -> String {
        let all: Vec<String> = self.mutations.iter().map(|m| m.to_string()).collect();
        all.join("; ")
    }
}

/// SplitMix64's finalizer: spreads neighbouring numbers over the whole range.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of case `index` of a run with `seed`.
pub fn case_seed(seed: u64, index: u64) -> u64 {
    splitmix(seed ^ splitmix(index))
}

/// The fields of `rec` a field mutation may set: scalars, or arrays if `array`; only those its
/// payload holds whole. None for raw and unknown records.
pub fn fields(rec: &Rec, array: bool) -> Vec<&'static FieldDesc> {
    match abi::record_desc(rec.ty) {
        Some(d) if !d.raw => d
            .fields
            .iter()
            .filter(|f| f.array == array && (f.offset + f.size()) as usize <= rec.payload.len())
            .collect(),
        _ => Vec::new(),
    }
}

/// The largest and smallest values of a field type, as the 64 bits that hold them.
fn max_min(ty: FieldType) -> (i64, i64) {
    match ty {
        FieldType::U8 => (u8::MAX.into(), 0),
        FieldType::U16 => (u16::MAX.into(), 0),
        FieldType::U32 => (u32::MAX.into(), 0),
        FieldType::U64 => (-1, 0),
        FieldType::I32 => (i32::MAX.into(), i32::MIN.into()),
        FieldType::I64 => (i64::MAX, i64::MIN),
    }
}

/// A value for a field of type `ty` that holds `old`: 0, 1, -1, the type's largest and
/// smallest, `old` +-1 and +-4096, a value another field of the image holds (an objref, a pid,
/// an address), a huge objref (10^6, 2^20, 2^20 + 1: the table's limit and just past it), the
/// top of the user address space or 2^47 (just past it). Only the field's width is stored.
pub fn interesting(ty: FieldType, old: i64, pool: &[i64], rng: &mut Prng) -> i64 {
    let (max, min) = max_min(ty);
    match rng.below(15) {
        0 => 0,
        1 => 1,
        2 => -1,
        3 => max,
        4 => min,
        5 => old.wrapping_add(1),
        6 => old.wrapping_sub(1),
        7 => old.wrapping_add(4096),
        8 => old.wrapping_sub(4096),
        9 if !pool.is_empty() => pool[rng.below(pool.len())],
        9 => old ^ 1,
        10 => 1_000_000,
        11 => 1 << 20,
        12 => (1 << 20) + 1,
        13 => 0x7fff_ffff_f000,
        _ => 1 << 47,
    }
}

/// A record among those `ok` accepts: a type first, uniformly among theirs, then one of the
/// records of that type.
fn pick(image: &Image, rng: &mut Prng, ok: impl Fn(usize) -> bool) -> Option<usize> {
    let candidates: Vec<usize> = (0..image.recs.len()).filter(|&i| ok(i)).collect();
    let mut types: Vec<u32> = candidates.iter().map(|&i| image.recs[i].ty).collect();
    types.sort_unstable();
    types.dedup();
    if types.is_empty() {
        return None;
    }
    let ty = types[rng.below(types.len())];
    let of_type: Vec<usize> = candidates
        .into_iter()
        .filter(|&i| image.recs[i].ty == ty)
        .collect();
    Some(of_type[rng.below(of_type.len())])
}

/// The kind of the next mutation, by [`KINDS`]' weights.
pub fn pick_kind(rng: &mut Prng) -> Kind {
    let total: usize = KINDS.iter().map(|&(_, w)| w).sum();
    let mut at = rng.below(total);
    for &(kind, weight) in &KINDS {
        if at < weight {
            return kind;
        }
        at -= weight;
    }
    unreachable!("the weights add up to {total}")
}

/// Applies a mutation of `kind` (not [`Kind::Cut`]) to `image`, drawing from `pool` for
/// values; `None` if the image has nothing it applies to or it would change nothing.
pub fn apply(kind: Kind, image: &mut Image, pool: &[i64], rng: &mut Prng) -> Option<Mutation> {
    let len = image.recs.len();
    match kind {
        Kind::SetScalar | Kind::SetElement => {
            let array = kind == Kind::SetElement;
            let rec = pick(image, rng, |i| !fields(&image.recs[i], array).is_empty())?;
            let candidates = fields(&image.recs[rec], array);
            let f = candidates[rng.below(candidates.len())];
            let index = if array {
                rng.below(f.count as usize)
            } else {
                0
            };
            let old = image.recs[rec].get_at(f.name, index);
            let value = interesting(f.ty, old, pool, rng);
            image.rec(rec).set_at(f.name, index, value);
            let new = image.recs[rec].get_at(f.name, index);
            let ty = image.recs[rec].ty;
            (new != old).then_some(Mutation::Set {
                rec,
                ty,
                field: f.name,
                index: array.then_some(index),
                old,
                new,
            })
        }
        Kind::Duplicate => {
            let rec = pick(image, rng, |i| i > 0)?;
            let to = match rng.below(2) {
                0 => rec + 1,
                _ => 1 + rng.below(len),
            };
            let copy = image.recs[rec].clone();
            let ty = copy.ty;
            image.recs.insert(to, copy);
            Some(Mutation::Duplicate { rec, ty, to })
        }
        Kind::Delete => {
            let rec = pick(image, rng, |i| i > 0)?;
            let ty = image.recs.remove(rec).ty;
            Some(Mutation::Delete { rec, ty })
        }
        Kind::Swap => {
            let rec = pick(image, rng, |i| i > 0 && i + 1 < len)?;
            if image.recs[rec] == image.recs[rec + 1] {
                return None;
            }
            image.recs.swap(rec, rec + 1);
            let (ty, next) = (image.recs[rec + 1].ty, image.recs[rec].ty);
            Some(Mutation::Swap { rec, ty, next })
        }
        Kind::Move => {
            if len < 3 {
                return None;
            }
            let rec = pick(image, rng, |i| i > 0)?;
            let moved = image.recs.remove(rec);
            // Any place after the header but its own: positions 1..=len-1 without `rec`.
            let mut to = 1 + rng.below(len - 2);
            if to >= rec {
                to += 1;
            }
            let ty = moved.ty;
            image.recs.insert(to, moved);
            Some(Mutation::Move { rec, ty, to })
        }
        Kind::Cut => None,
    }
}

/// Whether [`Image::seal`] can write `image`: a header first and only there, no tail, every
/// record within its type's maximum length (what the stream writer checks).
pub fn sealable(image: &Image) -> bool {
    let Some((first, rest)) = image.recs.split_first() else {
        return false;
    };
    let framing = |ty: u32| ty == RecordType::Header.id() || ty == RecordType::Tail.id();
    let fits = |r: &Rec| {
        let max = abi::record_desc(r.ty).map_or(MAX_RECORD_LEN, |d| d.max_len);
        r.payload.len() as u64 + u64::from(RECORD_HEADER_LEN) <= u64::from(max)
    };
    first.ty == abi::Header::TYPE && fits(first) && rest.iter().all(|r| !framing(r.ty) && fits(r))
}

/// Cuts a sealed image short, before its tail: at a record boundary or at any byte, half the
/// time each.
pub fn cut(bytes: &mut Vec<u8>, rng: &mut Prng) -> Mutation {
    let offsets = record_offsets(bytes);
    let len = bytes.len();
    // The last record is the tail: every cut below its offset leaves the image without one.
    let tail = offsets.last().copied().unwrap_or(len);
    let at = match rng.below(2) {
        0 if offsets.len() > 1 => offsets[rng.below(offsets.len() - 1)],
        _ => rng.below(tail.max(1)),
    };
    bytes.truncate(at);
    Mutation::Cut { at, len }
}

/// Case `index` of a run with `seed`: a base, then one to three mutations (an unsealable or
/// empty one is drawn again, up to 20 draws in all), sealed, then cut if a cut was drawn.
pub fn case(bases: &[Base], seed: u64, index: u64) -> Case {
    let mut rng = Prng::new(case_seed(seed, index));
    let base = rng.below(bases.len());
    let mut image = bases[base].image.clone();
    let want = 1 + rng.below(3);
    let mut mutations = Vec::new();
    let mut cut_too = false;
    for _ in 0..20 {
        if mutations.len() + usize::from(cut_too) >= want {
            break;
        }
        let kind = pick_kind(&mut rng);
        if kind == Kind::Cut {
            cut_too = true;
            continue;
        }
        let mut next = image.clone();
        if let Some(m) = apply(kind, &mut next, &bases[base].pool, &mut rng) {
            if sealable(&next) {
                image = next;
                mutations.push(m);
            }
        }
    }
    let mut bytes = image.seal();
    if cut_too {
        mutations.push(cut(&mut bytes, &mut rng));
    }
    Case {
        index,
        base,
        mutations,
        image,
        bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed golden image: a header, a task with registers, memory with pages, files,
    /// signal handlers.
    fn golden() -> Image {
        Image::parse(include_bytes!("../golden/v1-basic.img"))
    }

    fn bases() -> Vec<Base> {
        vec![
            Base::new("golden", golden()),
            Base::new("minimal", Image::parse(&cr::image::minimal())),
        ]
    }

    fn has_tail(bytes: &[u8]) -> bool {
        record_offsets(bytes).into_iter().any(|at| {
            at + 8 <= bytes.len()
                && u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
                    == RecordType::Tail.id()
        })
    }

    #[test]
    fn a_case_is_the_same_for_the_same_seed() {
        let bases = bases();
        for index in 0..200 {
            let (a, b) = (case(&bases, 42, index), case(&bases, 42, index));
            assert_eq!(a.mutations, b.mutations, "case {index}");
            assert_eq!(a.bytes, b.bytes, "case {index}");
        }
        let differ = (0..50).filter(|&i| case(&bases, 42, i).bytes != case(&bases, 43, i).bytes);
        assert!(differ.count() > 25, "another seed should give other cases");
    }

    #[test]
    fn every_kind_gives_an_image_that_parses_back() {
        let base = Base::new("golden", golden());
        for &(kind, _) in KINDS.iter().filter(|(k, _)| *k != Kind::Cut) {
            let mut applied = 0;
            for seed in 0..300 {
                let mut rng = Prng::new(seed);
                let mut image = base.image.clone();
                let Some(m) = apply(kind, &mut image, &base.pool, &mut rng) else {
                    continue;
                };
                if !sealable(&image) {
                    continue;
                }
                applied += 1;
                let bytes = image.seal();
                assert!(has_tail(&bytes), "{kind:?}: {m}");
                let back = Image::parse(&bytes);
                assert_eq!(back.recs, image.recs, "{kind:?}: {m}");
                assert_ne!(image.recs, base.image.recs, "{kind:?}: {m} changed nothing");
            }
            assert!(
                applied > 100,
                "{kind:?} applied only {applied} times of 300"
            );
        }
    }

    #[test]
    fn cases_parse_back_or_are_cut_without_a_tail() {
        let bases = bases();
        let mut cuts = 0;
        for index in 0..500 {
            let c = case(&bases, 7, index);
            if c.cut() {
                cuts += 1;
                assert!(!has_tail(&c.bytes), "case {index}: {}", c.describe());
                let sealed = c.image.seal();
                assert!(c.bytes.len() < sealed.len() && sealed.starts_with(&c.bytes));
            } else {
                assert_eq!(
                    Image::parse(&c.bytes).recs,
                    c.image.recs,
                    "case {index}: {}",
                    c.describe()
                );
            }
            assert!(c
                .mutations
                .iter()
                .rev()
                .skip(1)
                .all(|m| !matches!(m, Mutation::Cut { .. })));
        }
        assert!(cuts > 10, "only {cuts} cut cases of 500");
    }

    #[test]
    fn cut_images_have_no_tail() {
        let sealed = golden().seal();
        for seed in 0..200 {
            let mut bytes = sealed.clone();
            let m = cut(&mut bytes, &mut Prng::new(seed));
            assert!(!has_tail(&bytes), "{m}");
            assert!(bytes.len() < sealed.len(), "{m}");
        }
    }

    #[test]
    fn unsealable_images_are_told() {
        let mut image = golden();
        assert!(sealable(&image));
        let header = image.recs[0].clone();
        image.recs.insert(1, header);
        assert!(!sealable(&image), "a second header");
        let mut image = golden();
        image.recs.remove(0);
        assert!(!sealable(&image), "no header first");
        let mut image = golden();
        image.recs[1].payload.resize(2000, 0);
        assert!(!sealable(&image), "a record beyond its maximum length");
    }

    #[test]
    fn values_and_descriptions() {
        let mut rng = Prng::new(1);
        let pool = [0x1234_5000];
        let all: Vec<i64> = (0..2000)
            .map(|_| interesting(FieldType::I32, 17, &pool, &mut rng))
            .collect();
        for want in [
            0,
            1,
            -1,
            i32::MAX.into(),
            i32::MIN.into(),
            18,
            16,
            17 + 4096,
            17 - 4096,
            0x1234_5000,
            1 << 20,
            1 << 47,
        ] {
            assert!(all.contains(&want), "{want:#x} never drawn");
        }
        let m = Mutation::Set {
            rec: 3,
            ty: abi::Task::TYPE,
            field: "exit_signal",
            index: None,
            old: 17,
            new: 9,
        };
        assert_eq!(m.to_string(), "#3 Task.exit_signal=9 (was 17)");
        let m = Mutation::Set {
            rec: 5,
            ty: abi::Tls::TYPE,
            field: "desc",
            index: Some(2),
            old: 0,
            new: 0x7fff_ffff_f000,
        };
        assert_eq!(m.to_string(), "#5 Tls.desc[2]=0x7ffffffff000 (was 0)");
        assert_eq!(
            Mutation::Cut {
                at: 0x40,
                len: 0x2000
            }
            .to_string(),
            "cut at 0x40 of 0x2000"
        );
    }
}
