// SPDX-License-Identifier: GPL-2.0

//! Networking.

#[cfg(CONFIG_RUST_PHYLIB_ABSTRACTIONS)]
pub mod phy;
#[cfg(all(CONFIG_CHECKPOINT, CONFIG_UNIX))]
pub mod unix;
