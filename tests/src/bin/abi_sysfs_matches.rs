//! The running kernel exports the ABI hash and the schema the tools were built with.

use cr_tests::{fail, pass};

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| fail(format!("read {path}: {}", cr::sys::error_text(&e))))
}

fn main() {
    let hash = read(cr::check::SYSFS_ABI);
    if hash != format!("{}\n", abi::ABI_HASH_HEX) {
        fail(format!(
            "{}: {:?}, the tools have {}",
            cr::check::SYSFS_ABI,
            hash,
            abi::ABI_HASH_HEX
        ));
    }
    let schema = read(cr::check::SYSFS_SCHEMA);
    if schema != abi::SCHEMA {
        let diff = cr::check::diff(&schema, abi::SCHEMA);
        eprint!("{diff}");
        fail(format!(
            "{} differs from the tools' schema (diff above: - kernel, + tools)",
            cr::check::SYSFS_SCHEMA
        ));
    }
    pass("sysfs abi and schema match the tools'");
}
