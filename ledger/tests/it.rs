//! The crate's integration tests, one binary: each file beside this one is a module, and
//! the helpers under `common/` are shared by all of them.

mod common;

mod crash;
mod fsck;
mod http_add;
mod http_blobs;
mod http_errors;
mod http_ops;
mod http_read;
mod http_refusals;
mod lifecycle;
mod read_write;
mod sequencer;
mod web_answers;
mod web_pages;
