//! Generates `$OUT_DIR/abi.rs` from `schema.rs`, plus `$OUT_DIR/abi_v2_test.rs`: the same
//! schema with one field appended to `Fs`, used by the forward-compatibility test.

use std::path::PathBuf;

/// The test-only schema change: a field appended to the end of `Fs`.
fn append_field(schema: &str) -> String {
    let start = schema
        .find("pub struct Fs {")
        .expect("schema has `struct Fs`");
    let end = start + schema[start..].find("\n}").expect("`Fs` ends");
    let mut v = String::with_capacity(schema.len() + 128);
    v.push_str(&schema[..end]);
    v.push_str("\n    /// Test only: a field a future schema appends.\n    pub appended: u64,");
    v.push_str(&schema[end..]);
    v
}

fn main() {
    println!("cargo:rerun-if-changed=schema.rs");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let schema = std::fs::read_to_string("schema.rs").expect("read schema.rs");
    let g = cr_codegen::generate(&schema).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(out.join("abi.rs"), g.rust).expect("write abi.rs");
    let v2 = cr_codegen::generate(&append_field(&schema)).unwrap_or_else(|e| panic!("v2: {e}"));
    std::fs::write(out.join("abi_v2_test.rs"), v2.rust).expect("write abi_v2_test.rs");
}
