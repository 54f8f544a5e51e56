//! The crate's integration tests, one binary: each file beside this one is a module, and
//! the helpers under `common/` are shared by all of them.

mod common;
#[path = "common/consumer.rs"]
mod consumer;
#[path = "common/rebuild.rs"]
mod rb;
#[path = "common/rebuilder.rs"]
mod rebuilder;

mod cli_config;
mod cli_key;
mod demo;
mod gate;
mod import_crate;
mod import_debian;
mod import_pypi;
mod in_toto_link;
mod json_schema;
mod ledger_crash;
mod ledger_e2e;
mod log_browse;
mod onboarding;
mod rebuild_e2e;
mod rebuild_git;
mod rebuild_hostile;
mod rebuild_outcomes;
mod rebuild_sandbox;
mod rebuild_variations;
mod rebuilder_daemon;
mod release_publish;
mod revoke;
mod staged_release;
mod verify_bench;
mod verify_bundle;
mod verify_lying_log;
mod verify_policy;
mod verify_proven;
mod verify_release_binding;
mod verify_scoped;
mod verify_state;
mod web_browser;
