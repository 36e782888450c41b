//! Generation of the core-only Rust codec shared by the kernel and user space.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::model::{Field, Layout, Prim, RecordType, Schema};

/// One `#[doc = "..."]` per line so that the printer renders `///` comments.
fn docs(doc: &str) -> TokenStream {
    let lines = doc.lines().map(|l| format!(" {l}"));
    quote! { #( #[doc = #lines] )* }
}

fn first_line(doc: &str) -> &str {
    doc.lines().next().unwrap_or("")
}

fn prim_ident(p: Prim) -> proc_macro2::Ident {
    format_ident!("{}", p.rust())
}

fn lit_const(p: Prim, v: i128) -> TokenStream {
    let s = match p {
        Prim::I32 | Prim::I64 => format!("{v}"),
        _ if v < 4096 => format!("{v}"),
        _ => format!("{v:#x}"),
    };
    s.parse().expect("integer literal")
}

fn usize_lit(v: u64) -> Literal {
    Literal::usize_unsuffixed(v as usize)
}

fn field_ty(f: &Field) -> TokenStream {
    let p = prim_ident(f.ty);
    match f.array {
        Some(n) => {
            let n = usize_lit(n);
            quote! { [#p; #n] }
        }
        None => quote! { #p },
    }
}

/// `off + i * size` for element `i` of an array field, without `0 +`.
fn elem_offset(off: u64, size: u64) -> TokenStream {
    let esz = usize_lit(size);
    if off == 0 {
        quote! { i * #esz }
    } else {
        let off = usize_lit(off);
        quote! { #off + i * #esz }
    }
}

fn struct_items(ty: &RecordType, l: &Layout) -> TokenStream {
    let name = format_ident!("{}", ty.name);
    let doc = docs(&l.doc);
    let size = usize_lit(l.size);
    let id = Literal::u32_unsuffixed(ty.id);
    let max = Literal::u32_unsuffixed(ty.max);
    let name_str = &ty.name;

    let defs = l.fields.iter().map(|f| {
        let fname = format_ident!("{}", f.name);
        let fdoc = docs(&f.doc);
        let fty = field_ty(f);
        quote! { #fdoc pub #fname: #fty }
    });
    let zeros = l.fields.iter().map(|f| {
        let fname = format_ident!("{}", f.name);
        match f.array {
            Some(n) => {
                let n = usize_lit(n);
                quote! { #fname: [0; #n] }
            }
            None => quote! { #fname: 0 },
        }
    });
    let enc = l.fields.iter().map(|f| {
        let fname = format_ident!("{}", f.name);
        let off = usize_lit(f.offset);
        match (f.array, f.ty) {
            (Some(_), Prim::U8) => quote! { codec_put(&mut b, #off, &self.#fname); },
            (Some(_), _) => {
                let at = elem_offset(f.offset, f.ty.size());
                quote! {
                    for (i, v) in self.#fname.iter().enumerate() {
                        codec_put(&mut b, #at, &v.to_le_bytes());
                    }
                }
            }
            (None, _) => quote! { codec_put(&mut b, #off, &self.#fname.to_le_bytes()); },
        }
    });
    let dec = l.fields.iter().map(|f| {
        let fname = format_ident!("{}", f.name);
        let off = usize_lit(f.offset);
        let p = prim_ident(f.ty);
        match (f.array, f.ty) {
            (Some(_), Prim::U8) => quote! { r.#fname = codec_take(&b, #off); },
            (Some(_), _) => {
                let at = elem_offset(f.offset, f.ty.size());
                quote! {
                    for (i, v) in r.#fname.iter_mut().enumerate() {
                        *v = #p::from_le_bytes(codec_take(&b, #at));
                    }
                }
            }
            (None, _) => quote! { r.#fname = #p::from_le_bytes(codec_take(&b, #off)); },
        }
    });
    let pads: Vec<TokenStream> = l
        .fields
        .iter()
        .filter(|f| f.name.starts_with("_pad"))
        .map(|f| {
            let fname = format_ident!("{}", f.name);
            quote! { self.#fname == 0 }
        })
        .collect();
    let pads = match pads.is_empty() {
        true => quote! { true },
        false => quote! { #( #pads )&&* },
    };
    let zero_doc = format!(" A `{}` with every field zero.", ty.name);

    quote! {
        #doc
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct #name {
            #( #defs, )*
        }

        impl #name {
            #[doc = #zero_doc]
            pub const ZERO: Self = Self { #( #zeros, )* };
        }

        impl Default for #name {
            fn default() -> Self {
                Self::ZERO
            }
        }

        impl Record for #name {
            const TYPE: u32 = #id;
            const SIZE: usize = #size;
            const MAX_LEN: u32 = #max;
            const NAME: &'static str = #name_str;
            type Bytes = [u8; #size];

            fn to_bytes(&self) -> [u8; #size] {
                let mut b = [0u8; #size];
                #( #enc )*
                b
            }

            fn decode(payload: &[u8]) -> Self {
                let mut b = [0u8; #size];
                codec_fill(&mut b, payload);
                let mut r = Self::ZERO;
                #( #dec )*
                r
            }

            fn padding_is_zero(&self) -> bool {
                #pads
            }
        }
    }
}

fn desc_items(s: &Schema) -> TokenStream {
    let recs = s.types.iter().map(|ty| {
        let name = &ty.name;
        let id = Literal::u32_unsuffixed(ty.id);
        let max = Literal::u32_unsuffixed(ty.max);
        let raw = ty.layout.is_none();
        let doc = first_line(&ty.doc);
        let (size, fields) = match &ty.layout {
            None => (Literal::u32_unsuffixed(0), Vec::new()),
            Some(l) => (
                Literal::u32_unsuffixed(l.size as u32),
                l.fields
                    .iter()
                    .map(|f| {
                        let fname = &f.name;
                        let fty = format_ident!("{}", f.ty.variant());
                        let off = Literal::u32_unsuffixed(f.offset as u32);
                        let count = Literal::u32_unsuffixed(f.count() as u32);
                        let array = f.array.is_some();
                        let fdoc = first_line(&f.doc);
                        quote! {
                            FieldDesc {
                                name: #fname,
                                ty: FieldType::#fty,
                                offset: #off,
                                count: #count,
                                array: #array,
                                doc: #fdoc,
                            }
                        }
                    })
                    .collect(),
            ),
        };
        quote! {
            RecordDesc {
                name: #name,
                ty: #id,
                raw: #raw,
                max_len: #max,
                size: #size,
                fields: &[ #( #fields ),* ],
                doc: #doc,
            }
        }
    });
    quote! {
        /// Every record type of the schema, sorted by type id.
        pub static RECORDS: &[RecordDesc] = &[ #( #recs ),* ];
    }
}

/// The generated items as one token stream.
pub fn tokens(s: &Schema, hash: &[u8; 32], hash_hex: &str, schema_text: &str) -> TokenStream {
    let consts = s.consts.iter().map(|c| {
        let name = format_ident!("{}", c.name);
        let doc = docs(&c.doc);
        let ty = prim_ident(c.ty);
        let v = lit_const(c.ty, c.value);
        quote! { #doc pub const #name: #ty = #v; }
    });

    let enum_doc = docs(&s.enum_doc);
    let variants = s.types.iter().map(|t| {
        let doc = docs(&t.doc);
        let v = format_ident!("{}", t.name);
        let id = Literal::u32_unsuffixed(t.id);
        quote! { #doc #v = #id }
    });
    let vnames: Vec<_> = s
        .types
        .iter()
        .map(|t| format_ident!("{}", t.name))
        .collect();
    let ids: Vec<_> = s
        .types
        .iter()
        .map(|t| Literal::u32_unsuffixed(t.id))
        .collect();
    let name_strs: Vec<_> = s.types.iter().map(|t| t.name.clone()).collect();
    let maxes: Vec<_> = s
        .types
        .iter()
        .map(|t| Literal::u32_unsuffixed(t.max))
        .collect();
    let raws: Vec<_> = s.types.iter().map(|t| t.layout.is_none()).collect();

    let max_any = Literal::u32_unsuffixed(s.types.iter().map(|t| t.max).max().unwrap_or(8));
    let max_struct = usize_lit(
        s.types
            .iter()
            .filter(|t| t.layout.is_some())
            .map(|t| u64::from(t.max) - 8)
            .max()
            .unwrap_or(0),
    );

    let structs = s
        .types
        .iter()
        .filter_map(|t| t.layout.as_ref().map(|l| struct_items(t, l)));
    let descs = desc_items(s);
    let struct_names: Vec<_> = s
        .types
        .iter()
        .filter(|t| t.layout.is_some())
        .map(|t| format_ident!("{}", t.name))
        .collect();
    let hash_bytes = hash.iter().map(|b| Literal::u8_unsuffixed(*b));

    quote! {
        #( #consts )*

        #enum_doc
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RecordType {
            #( #variants, )*
        }

        impl RecordType {
            /// Every record type, sorted by id.
            pub const ALL: &'static [RecordType] = &[ #( RecordType::#vnames ),* ];

            /// The record type with this id, if the schema has one.
            pub const fn from_u32(id: u32) -> Option<Self> {
                match id {
                    #( #ids => Some(RecordType::#vnames), )*
                    _ => None,
                }
            }

            /// The type id written in record headers.
            pub const fn id(self) -> u32 {
                self as u32
            }

            /// The name in the schema.
            pub const fn name(self) -> &'static str {
                match self {
                    #( RecordType::#vnames => #name_strs, )*
                }
            }

            /// The largest accepted record length, the 8-byte record header included.
            pub const fn max_len(self) -> u32 {
                match self {
                    #( RecordType::#vnames => #maxes, )*
                }
            }

            /// Whether the payload is raw bytes rather than a record struct.
            pub const fn is_raw(self) -> bool {
                match self {
                    #( RecordType::#vnames => #raws, )*
                }
            }
        }

        /// The largest `max_len` of any record type in this schema.
        pub const MAX_SCHEMA_RECORD_LEN: u32 = #max_any;

        /// The largest payload of a struct record: a buffer this big holds any of them.
        pub const MAX_STRUCT_PAYLOAD: usize = #max_struct;

        /// A record whose payload is a fixed-layout struct, encoded field by field in
        /// little-endian order at the offsets of its `#[repr(C)]` layout.
        pub trait Record: Sized + Copy + Default {
            /// The record type id.
            const TYPE: u32;
            /// The encoded size in bytes (a multiple of 8).
            const SIZE: usize;
            /// The largest accepted record length, the 8-byte record header included.
            const MAX_LEN: u32;
            /// The name in the schema.
            const NAME: &'static str;
            /// `[u8; SIZE]`.
            type Bytes: AsRef<[u8]> + AsMut<[u8]>;

            /// The encoded payload.
            fn to_bytes(&self) -> Self::Bytes;

            /// Decodes a payload. A shorter payload (an older image) reads the missing tail as
            /// zero; a longer one (a newer image) has its extra tail ignored. Never fails.
            fn decode(payload: &[u8]) -> Self;

            /// Whether its `_pad*` fields are zero, as writers leave them: a reader refuses
            /// others, so that a later schema can give them a meaning.
            fn padding_is_zero(&self) -> bool;

            /// Writes the first `min(out.len(), SIZE)` encoded bytes into `out` and returns
            /// that count.
            fn encode(&self, out: &mut [u8]) -> usize {
                let bytes = self.to_bytes();
                let bytes = bytes.as_ref();
                let n = if out.len() < bytes.len() { out.len() } else { bytes.len() };
                match (out.get_mut(..n), bytes.get(..n)) {
                    (Some(d), Some(s)) => {
                        d.copy_from_slice(s);
                        n
                    }
                    _ => 0,
                }
            }
        }

        /// Copies `src` to `out[off..]`, or nothing if it does not fit.
        #[inline]
        fn codec_put(out: &mut [u8], off: usize, src: &[u8]) {
            if let Some(d) = out.get_mut(off..off.saturating_add(src.len())) {
                d.copy_from_slice(src);
            }
        }

        /// `N` bytes of `b` at `off`, or zeros if they are not all there.
        #[inline]
        fn codec_take<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
            let mut a = [0u8; N];
            if let Some(s) = b.get(off..off.saturating_add(N)) {
                a.copy_from_slice(s);
            }
            a
        }

        /// Copies as much of `payload` as fits to the start of the zeroed `b`.
        #[inline]
        fn codec_fill(b: &mut [u8], payload: &[u8]) {
            let n = if payload.len() < b.len() { payload.len() } else { b.len() };
            if let (Some(d), Some(s)) = (b.get_mut(..n), payload.get(..n)) {
                d.copy_from_slice(s);
            }
        }

        #( #structs )*

        /// Element type of a record field.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum FieldType {
            /// `u8`
            U8,
            /// `u16`
            U16,
            /// `u32`
            U32,
            /// `u64`
            U64,
            /// `i32`
            I32,
            /// `i64`
            I64,
        }

        impl FieldType {
            /// Size of one element in bytes.
            pub const fn size(self) -> u32 {
                match self {
                    FieldType::U8 => 1,
                    FieldType::U16 => 2,
                    FieldType::U32 | FieldType::I32 => 4,
                    FieldType::U64 | FieldType::I64 => 8,
                }
            }

            /// The Rust name of the type.
            pub const fn name(self) -> &'static str {
                match self {
                    FieldType::U8 => "u8",
                    FieldType::U16 => "u16",
                    FieldType::U32 => "u32",
                    FieldType::U64 => "u64",
                    FieldType::I32 => "i32",
                    FieldType::I64 => "i64",
                }
            }
        }

        /// A field element read generically from a payload.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum FieldValue {
            /// From an unsigned field.
            Unsigned(u64),
            /// From a signed field.
            Signed(i64),
        }

        /// Where a field sits in a record payload, for generic printing.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct FieldDesc {
            /// The field name.
            pub name: &'static str,
            /// The element type.
            pub ty: FieldType,
            /// Byte offset in the payload.
            pub offset: u32,
            /// Number of elements (1 for a scalar).
            pub count: u32,
            /// Whether the field is an array (even of one element).
            pub array: bool,
            /// First line of the field's documentation.
            pub doc: &'static str,
        }

        impl FieldDesc {
            /// Size of the whole field in bytes.
            pub const fn size(&self) -> u32 {
                self.ty.size().saturating_mul(self.count)
            }

            /// Element `index` of this field in `payload`; `None` if the index is out of range
            /// or the payload is too short to hold it.
            pub fn get(&self, payload: &[u8], index: u32) -> Option<FieldValue> {
                if index >= self.count {
                    return None;
                }
                let esz = self.ty.size();
                let off = self.offset.checked_add(index.checked_mul(esz)?)? as usize;
                let b = payload.get(off..off.checked_add(esz as usize)?)?;
                let mut a = [0u8; 8];
                a.get_mut(..b.len())?.copy_from_slice(b);
                let u = u64::from_le_bytes(a);
                Some(match self.ty {
                    FieldType::I32 => FieldValue::Signed(i64::from(u as u32 as i32)),
                    FieldType::I64 => FieldValue::Signed(u as i64),
                    _ => FieldValue::Unsigned(u),
                })
            }
        }

        /// A record type as described by the schema.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct RecordDesc {
            /// The name in the schema.
            pub name: &'static str,
            /// The type id.
            pub ty: u32,
            /// Whether the payload is raw bytes (then `size` is 0 and `fields` empty).
            pub raw: bool,
            /// The largest accepted record length, the 8-byte record header included.
            pub max_len: u32,
            /// The encoded struct size.
            pub size: u32,
            /// The fields in payload order.
            pub fields: &'static [FieldDesc],
            /// First line of the record type's documentation.
            pub doc: &'static str,
        }

        #descs

        /// The description of record type `ty`, if the schema has it.
        pub fn record_desc(ty: u32) -> Option<&'static RecordDesc> {
            RECORDS.iter().find(|r| r.ty == ty)
        }

        /// Decodes `payload` as the struct of record type `ty` and encodes it again into
        /// `out`, returning the encoded length; `None` for a raw or unknown type. Tests, fuzzing
        /// and `cr inspect` use it to apply the compatibility rules without knowing the type.
        pub fn reencode(ty: u32, payload: &[u8], out: &mut [u8]) -> Option<usize> {
            match ty {
                #( #struct_names::TYPE => Some(#struct_names::decode(payload).encode(out)), )*
                _ => None,
            }
        }

        /// SHA-256 of the normalized schema (see [`SCHEMA`]): equal hashes, equal layouts.
        pub const ABI_HASH: [u8; 32] = [ #( #hash_bytes ),* ];

        /// [`ABI_HASH`] in lowercase hex.
        pub const ABI_HASH_HEX: &str = #hash_hex;

        /// The schema text: a line `abi <hex>`, then one line per constant, record type and
        /// field (`const NAME TYPE VALUE`, `raw NAME ID max MAX`,
        /// `record NAME ID size SIZE max MAX`, `  field NAME TYPE OFFSET`). The ABI hash is the
        /// SHA-256 of everything after the first line.
        pub const SCHEMA: &str = #schema_text;
    }
}
