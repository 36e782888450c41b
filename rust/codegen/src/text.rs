//! The normalized schema text and the ABI hash computed from it.

use std::fmt::Write;

use sha2::{Digest, Sha256};

use crate::model::Schema;

/// The schema body: every line of the schema text after the first (`abi <hex>`).
///
/// It contains only what defines the binary layout (names, ids, types, offsets, values, limits),
/// never comments or formatting, so it is also what the ABI hash is computed over.
pub fn body(s: &Schema) -> String {
    let mut t = String::new();
    for c in &s.consts {
        let _ = writeln!(t, "const {} {} {}", c.name, c.ty.rust(), c.value);
    }
    for ty in &s.types {
        match &ty.layout {
            None => {
                let _ = writeln!(t, "raw {} {} max {}", ty.name, ty.id, ty.max);
            }
            Some(l) => {
                let _ = writeln!(
                    t,
                    "record {} {} size {} max {}",
                    ty.name, ty.id, l.size, ty.max
                );
                for f in &l.fields {
                    let _ = writeln!(t, "  field {} {} {}", f.name, f.type_text(), f.offset);
                }
            }
        }
    }
    t
}

/// SHA-256 of the schema body.
pub fn hash(body: &str) -> [u8; 32] {
    Sha256::digest(body.as_bytes()).into()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
