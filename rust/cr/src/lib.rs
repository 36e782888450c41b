//! `cr`: the user-space side of linux-cr-rs.
//!
//! The binary is a thin shell around this library so that the guest test programs can reuse the
//! same syscall wrappers, kernel-log plumbing and image builders:
//!
//! - [`sys`]: the two raw syscalls and errno helpers,
//! - [`klog`]: a pipe handed to the kernel as `logfd`, drained by a thread,
//! - [`check`]: does the running kernel support C/R, and with which ABI; the gate in front of
//!   the syscalls,
//! - [`image`]: minimal valid images and deliberately broken variants of them,
//! - [`inspect`]: decoding an image into records and fields for people,
//! - [`cli`]: the command line (`cr check|checkpoint|restart|inspect`).

pub mod check;
pub mod cli;
pub mod image;
pub mod inspect;
pub mod klog;
pub mod sys;
