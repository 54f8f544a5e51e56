//! The crate's integration tests, one binary: each file beside this one is a module, and
//! the helpers under `common/` are shared by all of them.

mod common;

mod dsse_vectors;
mod merkle_props;
mod merkle_vectors;
mod policy_verdict;
mod tiles_paths;
