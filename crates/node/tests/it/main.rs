//! Integration tests of the node crate.

mod format;
mod instance;
mod master;
mod promise;
mod report;
mod shared_parts;
mod software;
mod supervisor;
