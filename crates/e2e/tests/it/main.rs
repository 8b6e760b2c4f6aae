//! End-to-end and repository-wide checks.
#![allow(unreachable_pub)]

mod process;
mod proxy_lifecycle;
mod tidy;
mod two_masters;
