//! The schema model and the parser that builds it from `rust/abi/schema.rs`.
//!
//! The schema file is valid Rust syntax but is never compiled: it is read with `syn`, checked
//! (docs everywhere, no implicit padding, ids unique...) and turned into a [`Schema`].

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::Span;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Fields, Item, Lit, Type};

use crate::Error;

/// Largest `max` accepted for any record type; the stream layer has a matching limit.
pub const MAX_RECORD_LEN_CAP: u64 = 8 << 20;

/// Fixed-width integer types a record field (or a constant) may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prim {
    U8,
    U16,
    U32,
    U64,
    I32,
    I64,
}

impl Prim {
    fn from_ident(s: &str) -> Option<Self> {
        Some(match s {
            "u8" => Prim::U8,
            "u16" => Prim::U16,
            "u32" => Prim::U32,
            "u64" => Prim::U64,
            "i32" => Prim::I32,
            "i64" => Prim::I64,
            _ => return None,
        })
    }

    /// Size in bytes.
    pub fn size(self) -> u64 {
        match self {
            Prim::U8 => 1,
            Prim::U16 => 2,
            Prim::U32 | Prim::I32 => 4,
            Prim::U64 | Prim::I64 => 8,
        }
    }

    /// Rust spelling.
    pub fn rust(self) -> &'static str {
        match self {
            Prim::U8 => "u8",
            Prim::U16 => "u16",
            Prim::U32 => "u32",
            Prim::U64 => "u64",
            Prim::I32 => "i32",
            Prim::I64 => "i64",
        }
    }

    /// Linux uapi spelling.
    pub fn c(self) -> &'static str {
        match self {
            Prim::U8 => "__u8",
            Prim::U16 => "__u16",
            Prim::U32 => "__u32",
            Prim::U64 => "__u64",
            Prim::I32 => "__s32",
            Prim::I64 => "__s64",
        }
    }

    /// Variant name of the generated `FieldType` enum.
    pub fn variant(self) -> &'static str {
        match self {
            Prim::U8 => "U8",
            Prim::U16 => "U16",
            Prim::U32 => "U32",
            Prim::U64 => "U64",
            Prim::I32 => "I32",
            Prim::I64 => "I64",
        }
    }

    fn signed(self) -> bool {
        matches!(self, Prim::I32 | Prim::I64)
    }

    fn range(self) -> (i128, i128) {
        let bits = self.size() * 8;
        if self.signed() {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        }
    }
}

/// A named constant (flag, limit, magic...).
#[derive(Clone, Debug)]
pub struct Const {
    pub name: String,
    pub doc: String,
    pub ty: Prim,
    pub value: i128,
}

/// One field of a record struct.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub doc: String,
    pub ty: Prim,
    /// `Some(n)` for `[ty; n]`.
    pub array: Option<u64>,
    pub offset: u64,
}

impl Field {
    /// Number of elements (1 for a scalar).
    pub fn count(&self) -> u64 {
        self.array.unwrap_or(1)
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.ty.size() * self.count()
    }

    /// Type as written in the schema text (`u64`, `u8[16]`).
    pub fn type_text(&self) -> String {
        match self.array {
            Some(n) => format!("{}[{}]", self.ty.rust(), n),
            None => self.ty.rust().to_string(),
        }
    }
}

/// Layout of a struct record.
#[derive(Clone, Debug)]
pub struct Layout {
    pub doc: String,
    pub fields: Vec<Field>,
    pub size: u64,
}

/// One record type: a variant of `RecordType`, raw or bound to a struct of the same name.
#[derive(Clone, Debug)]
pub struct RecordType {
    pub name: String,
    pub doc: String,
    pub id: u32,
    /// Largest accepted record length, the 8-byte record header included.
    pub max: u32,
    /// `None` for a raw record (payload is bytes).
    pub layout: Option<Layout>,
}

/// The parsed, checked schema.
#[derive(Clone, Debug)]
pub struct Schema {
    pub consts: Vec<Const>,
    pub enum_doc: String,
    /// Sorted by id.
    pub types: Vec<RecordType>,
}

fn err(span: Span, msg: impl Into<String>) -> Error {
    let start = span.start();
    Error {
        file: "schema.rs".into(),
        line: start.line,
        column: start.column + 1,
        msg: msg.into(),
    }
}

fn doc_of(attrs: &[Attribute], span: Span, what: &str) -> Result<String, Error> {
    let mut lines = Vec::new();
    for a in attrs {
        if !a.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &a.meta {
            if let Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                let v = s.value();
                lines.push(v.strip_prefix(' ').unwrap_or(&v).trim_end().to_string());
            }
        }
    }
    let doc = lines.join("\n").trim().to_string();
    if doc.is_empty() {
        return Err(err(span, format!("{what} has no doc comment")));
    }
    Ok(doc)
}

fn is_ident_path(ty: &Type) -> Option<String> {
    if let Type::Path(p) = ty {
        if p.qself.is_none() {
            if let Some(id) = p.path.get_ident() {
                return Some(id.to_string());
            }
        }
    }
    None
}

/// Evaluates a constant expression: integer and 8-byte byte-string literals, earlier constants,
/// parentheses, unary minus and `+ - * << >> | &`.
fn eval(e: &Expr, consts: &BTreeMap<String, i128>) -> Result<i128, Error> {
    let overflow = || err(e.span(), "constant expression overflows");
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => i
                .base10_parse::<i128>()
                .map_err(|x| err(i.span(), x.to_string())),
            Lit::ByteStr(b) => {
                let v = b.value();
                let arr: [u8; 8] = v
                    .as_slice()
                    .try_into()
                    .map_err(|_| err(b.span(), "a byte-string constant must have 8 bytes"))?;
                Ok(i128::from(u64::from_le_bytes(arr)))
            }
            _ => Err(err(l.span(), "only integer or 8-byte byte-string literals")),
        },
        Expr::Paren(p) => eval(&p.expr, consts),
        Expr::Group(g) => eval(&g.expr, consts),
        Expr::Path(p) => {
            let name = p
                .path
                .get_ident()
                .map(|i| i.to_string())
                .ok_or_else(|| err(p.span(), "expected a constant name"))?;
            consts.get(&name).copied().ok_or_else(|| {
                err(
                    p.span(),
                    format!("unknown constant `{name}` (define it above)"),
                )
            })
        }
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => {
            eval(&u.expr, consts)?.checked_neg().ok_or_else(overflow)
        }
        Expr::Binary(b) => {
            let l = eval(&b.left, consts)?;
            let r = eval(&b.right, consts)?;
            use syn::BinOp::*;
            let v = match b.op {
                Add(_) => l.checked_add(r),
                Sub(_) => l.checked_sub(r),
                Mul(_) => l.checked_mul(r),
                Shl(_) => u32::try_from(r)
                    .ok()
                    .filter(|s| *s < 100)
                    .and_then(|s| l.checked_shl(s)),
                Shr(_) => u32::try_from(r)
                    .ok()
                    .filter(|s| *s < 127)
                    .and_then(|s| l.checked_shr(s)),
                BitOr(_) => Some(l | r),
                BitAnd(_) => Some(l & r),
                _ => return Err(err(b.op.span(), "unsupported operator")),
            };
            v.ok_or_else(overflow)
        }
        _ => Err(err(e.span(), "unsupported constant expression")),
    }
}

/// `#[record(Variant, max = EXPR)]` or `#[raw(max = EXPR)]`.
fn parse_binding(
    attr: &Attribute,
    with_variant: bool,
    consts: &BTreeMap<String, i128>,
) -> Result<(Option<syn::Ident>, i128), Error> {
    let parser = |input: ParseStream| -> syn::Result<(Option<syn::Ident>, Expr)> {
        let variant = if with_variant {
            let v: syn::Ident = input.parse()?;
            input.parse::<syn::Token![,]>()?;
            Some(v)
        } else {
            None
        };
        let key: syn::Ident = input.parse()?;
        if key != "max" {
            return Err(syn::Error::new(key.span(), "expected `max = ...`"));
        }
        input.parse::<syn::Token![=]>()?;
        let e: Expr = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens"));
        }
        Ok((variant, e))
    };
    let list = attr
        .meta
        .require_list()
        .map_err(|e| err(e.span(), e.to_string()))?;
    let (v, e) = parser
        .parse2(list.tokens.clone())
        .map_err(|e| err(e.span(), e.to_string()))?;
    Ok((v, eval(&e, consts)?))
}

fn check_max(v: i128, span: Span) -> Result<u32, Error> {
    if v < 8 || v > i128::from(MAX_RECORD_LEN_CAP as u32) {
        return Err(err(
            span,
            format!("max must be in 8..={MAX_RECORD_LEN_CAP} (it counts the 8-byte record header)"),
        ));
    }
    Ok(v as u32)
}

fn has_repr(attrs: &[Attribute], want: &str) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("repr")
            && a.parse_args::<syn::Ident>()
                .map(|i| i == want)
                .unwrap_or(false)
    })
}

fn check_attrs(attrs: &[Attribute], allowed: &[&str]) -> Result<(), Error> {
    for a in attrs {
        if !allowed.iter().any(|n| a.path().is_ident(n)) {
            return Err(err(a.span(), "attribute not allowed here"));
        }
    }
    Ok(())
}

fn field_type(ty: &Type, consts: &BTreeMap<String, i128>) -> Result<(Prim, Option<u64>), Error> {
    let bad = || {
        err(
            ty.span(),
            "field type must be u8, u16, u32, u64, i32, i64 or a fixed array of one of them",
        )
    };
    match ty {
        Type::Array(a) => {
            let elem = is_ident_path(&a.elem)
                .and_then(|s| Prim::from_ident(&s))
                .ok_or_else(bad)?;
            let n = eval(&a.len, consts)?;
            if !(1..=1 << 20).contains(&n) {
                return Err(err(a.len.span(), "array length must be in 1..=1048576"));
            }
            Ok((elem, Some(n as u64)))
        }
        _ => {
            let p = is_ident_path(ty)
                .and_then(|s| Prim::from_ident(&s))
                .ok_or_else(bad)?;
            Ok((p, None))
        }
    }
}

fn is_upper_snake(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && s.starts_with(|c: char| c.is_ascii_uppercase())
}

fn is_lower_snake(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

fn is_camel(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Names the generated code defines itself; the schema must not reuse them.
const RESERVED: &[&str] = &[
    "ABI_HASH",
    "ABI_HASH_HEX",
    "SCHEMA",
    "RECORDS",
    "MAX_SCHEMA_RECORD_LEN",
    "MAX_STRUCT_PAYLOAD",
    "Record",
    "RecordDesc",
    "FieldDesc",
    "FieldType",
    "FieldValue",
    "RecordType",
];

/// A `RecordType` variant: its syntax, id, raw max (if raw) and doc.
type ParsedVariant = (syn::Variant, u32, Option<u32>, String);

/// Parses and checks a schema.
pub fn parse(src: &str) -> Result<Schema, Error> {
    let file = syn::parse_file(src).map_err(|e| err(e.span(), e.to_string()))?;
    if let Some(a) = file.attrs.first() {
        return Err(err(
            a.span(),
            "inner attributes are not allowed in the schema",
        ));
    }
    let mut const_vals = BTreeMap::new();
    let mut consts = Vec::new();
    let mut names = BTreeSet::new();
    let mut enum_seen: Option<(String, Vec<ParsedVariant>)> = None;
    let mut structs: Vec<(syn::ItemStruct, String, u32, Span)> = Vec::new();

    for item in &file.items {
        match item {
            Item::Const(c) => {
                let name = c.ident.to_string();
                let doc = doc_of(&c.attrs, c.ident.span(), &format!("constant `{name}`"))?;
                check_attrs(&c.attrs, &["doc"])?;
                if !matches!(c.vis, syn::Visibility::Public(_)) {
                    return Err(err(c.ident.span(), "constants must be `pub`"));
                }
                if !is_upper_snake(&name) || RESERVED.contains(&name.as_str()) {
                    return Err(err(c.ident.span(), "bad or reserved constant name"));
                }
                let ty = is_ident_path(&c.ty)
                    .and_then(|s| Prim::from_ident(&s))
                    .ok_or_else(|| {
                        err(c.ty.span(), "constant type must be a fixed-width integer")
                    })?;
                let value = eval(&c.expr, &const_vals)?;
                let (lo, hi) = ty.range();
                if value < lo || value > hi {
                    return Err(err(
                        c.expr.span(),
                        format!("value does not fit in {}", ty.rust()),
                    ));
                }
                if !names.insert(name.clone()) {
                    return Err(err(c.ident.span(), format!("`{name}` defined twice")));
                }
                const_vals.insert(name.clone(), value);
                consts.push(Const {
                    name,
                    doc,
                    ty,
                    value,
                });
            }
            Item::Enum(e) => {
                if e.ident != "RecordType" || enum_seen.is_some() {
                    return Err(err(e.ident.span(), "the only enum is `RecordType`"));
                }
                let doc = doc_of(&e.attrs, e.ident.span(), "enum `RecordType`")?;
                check_attrs(&e.attrs, &["doc", "repr"])?;
                if !has_repr(&e.attrs, "u32") {
                    return Err(err(e.ident.span(), "`RecordType` must be `#[repr(u32)]`"));
                }
                let mut vs = Vec::new();
                for v in &e.variants {
                    let vname = v.ident.to_string();
                    let vdoc = doc_of(&v.attrs, v.ident.span(), &format!("variant `{vname}`"))?;
                    check_attrs(&v.attrs, &["doc", "raw"])?;
                    if !is_camel(&vname) {
                        return Err(err(v.ident.span(), "variant names are CamelCase"));
                    }
                    if !matches!(v.fields, Fields::Unit) {
                        return Err(err(v.ident.span(), "variants carry no data"));
                    }
                    let (_, d) = v
                        .discriminant
                        .as_ref()
                        .ok_or_else(|| err(v.ident.span(), "every variant needs `= id`"))?;
                    let id = eval(d, &const_vals)?;
                    if !(1..=i128::from(u32::MAX)).contains(&id) {
                        return Err(err(d.span(), "record type ids are in 1..=u32::MAX"));
                    }
                    let mut raw = None;
                    for a in v.attrs.iter().filter(|a| a.path().is_ident("raw")) {
                        let (_, m) = parse_binding(a, false, &const_vals)?;
                        raw = Some(check_max(m, a.span())?);
                    }
                    vs.push((v.clone(), id as u32, raw, vdoc));
                }
                enum_seen = Some((doc, vs));
            }
            Item::Struct(s) => {
                let name = s.ident.to_string();
                let doc = doc_of(&s.attrs, s.ident.span(), &format!("struct `{name}`"))?;
                check_attrs(&s.attrs, &["doc", "repr", "record"])?;
                if !has_repr(&s.attrs, "C") {
                    return Err(err(
                        s.ident.span(),
                        format!("`{name}` must be `#[repr(C)]`"),
                    ));
                }
                if !s.generics.params.is_empty() {
                    return Err(err(s.ident.span(), "record structs are not generic"));
                }
                let rec = s
                    .attrs
                    .iter()
                    .find(|a| a.path().is_ident("record"))
                    .ok_or_else(|| err(s.ident.span(), "missing `#[record(Variant, max = N)]`"))?;
                let (variant, max) = parse_binding(rec, true, &const_vals)?;
                let variant = variant.expect("parser returns the variant");
                if variant != s.ident {
                    return Err(err(
                        variant.span(),
                        "a record struct has the name of its `RecordType` variant",
                    ));
                }
                let max = check_max(max, rec.span())?;
                structs.push((s.clone(), doc, max, rec.span()));
            }
            other => {
                return Err(err(
                    other.span(),
                    "only `pub const`, `enum RecordType` and record structs are allowed",
                ))
            }
        }
    }

    let (enum_doc, variants) =
        enum_seen.ok_or_else(|| err(Span::call_site(), "no `enum RecordType`"))?;

    let mut ids = BTreeSet::new();
    let mut types = Vec::new();
    for (v, id, raw, vdoc) in &variants {
        let vname = v.ident.to_string();
        if !ids.insert(*id) {
            return Err(err(v.ident.span(), format!("type id {id} used twice")));
        }
        if RESERVED.contains(&vname.as_str()) || !names.insert(vname.clone()) {
            return Err(err(
                v.ident.span(),
                format!("`{vname}` defined twice or reserved"),
            ));
        }
        let bound: Vec<_> = structs.iter().filter(|s| s.0.ident == vname).collect();
        let (max, layout) = match (raw, bound.as_slice()) {
            (Some(m), []) => (*m, None),
            (Some(_), [s, ..]) => {
                return Err(err(
                    s.0.ident.span(),
                    format!("`{vname}` is a raw record type"),
                ))
            }
            (None, []) => {
                return Err(err(
                    v.ident.span(),
                    format!("`{vname}` has neither a struct nor `#[raw(max = N)]`"),
                ))
            }
            (None, [s]) => {
                let layout = layout_of(&s.0, &s.1, &const_vals)?;
                if u64::from(s.2) < 8 + layout.size {
                    return Err(err(
                        s.3,
                        format!("max {} is below 8 + size {}", s.2, layout.size),
                    ));
                }
                (s.2, Some(layout))
            }
            (None, [_, s, ..]) => {
                return Err(err(s.0.ident.span(), format!("`{vname}` bound twice")))
            }
        };
        types.push(RecordType {
            name: vname,
            doc: vdoc.clone(),
            id: *id,
            max,
            layout,
        });
    }
    for s in &structs {
        if !variants.iter().any(|v| v.0.ident == s.0.ident) {
            return Err(err(
                s.0.ident.span(),
                "no `RecordType` variant of this name",
            ));
        }
    }
    for (required, raw) in [("Header", false), ("Tail", false), ("Pad", true)] {
        match types.iter().find(|t| t.name == required) {
            Some(t) if t.layout.is_none() == raw => {}
            _ => {
                return Err(err(
                    Span::call_site(),
                    format!("the schema must define record type `{required}` (raw: {raw})"),
                ))
            }
        }
    }
    types.sort_by_key(|t| t.id);
    Ok(Schema {
        consts,
        enum_doc,
        types,
    })
}

fn layout_of(
    s: &syn::ItemStruct,
    doc: &str,
    consts: &BTreeMap<String, i128>,
) -> Result<Layout, Error> {
    let Fields::Named(named) = &s.fields else {
        return Err(err(s.ident.span(), "record structs have named fields"));
    };
    let mut fields = Vec::new();
    let mut offset = 0u64;
    let mut seen = BTreeSet::new();
    for f in &named.named {
        let ident = f.ident.as_ref().expect("named field");
        let name = ident.to_string();
        let fdoc = doc_of(
            &f.attrs,
            ident.span(),
            &format!("field `{}.{name}`", s.ident),
        )?;
        check_attrs(&f.attrs, &["doc"])?;
        if !matches!(f.vis, syn::Visibility::Public(_)) {
            return Err(err(ident.span(), "fields must be `pub`"));
        }
        if !is_lower_snake(&name) || !seen.insert(name.clone()) {
            return Err(err(ident.span(), "field names are unique snake_case"));
        }
        if name.starts_with('_') && !name.starts_with("_pad") {
            return Err(err(
                ident.span(),
                "only padding fields (`_pad*`) start with `_`",
            ));
        }
        let (ty, array) = field_type(&f.ty, consts)?;
        if !offset.is_multiple_of(ty.size()) {
            return Err(err(
                ident.span(),
                format!(
                    "implicit padding: `{name}` would sit at offset {offset}, not a multiple of \
                     {}; add an explicit `_pad` field before it",
                    ty.size()
                ),
            ));
        }
        let field = Field {
            name,
            doc: fdoc,
            ty,
            array,
            offset,
        };
        offset += field.size();
        fields.push(field);
    }
    if offset == 0 || !offset.is_multiple_of(8) {
        return Err(err(
            s.ident.span(),
            format!(
                "`{}` is {offset} bytes: the size must be a non-zero multiple of 8 (add `_pad`)",
                s.ident
            ),
        ));
    }
    Ok(Layout {
        doc: doc.to_string(),
        fields,
        size: offset,
    })
}

/// `SigAction` -> `sig_action`.
pub fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
