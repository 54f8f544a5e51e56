//! The pure verification core of reprove.
//!
//! Everything that decides "trusted or not" lives here, as functions from bytes to typed values
//! and verdicts. This crate does no I/O: no filesystem, no network, no clock, no randomness, no
//! async runtime. Time and keys come in as arguments. The ledger and the `reprove` binary do the
//! I/O around it.
//!
//! One module per wire format or concept, each with one codec shape (`parse` from bytes to a
//! typed, valid value; `encode` back to bytes) and its own error type:
//!
//! - [`merkle`]: RFC 6962 / RFC 9162 hashing, proof verification and proof generation.
//! - [`tiles`]: c2sp tlog-tiles coordinates, paths and entry bundles.
//! - [`note`]: c2sp signed notes and Ed25519 note keys.
//! - [`checkpoint`]: c2sp checkpoints, cosignatures and witness policy.
//! - [`consistency`]: whether a checkpoint extends one seen before (fork and rollback).
//! - [`proof`]: the c2sp `tlog-proof@v1` offline proof.
//! - [`dsse`]: DSSE v1 envelopes.
//! - [`statement`]: in-toto Statement v1.
//! - [`predicates`]: reprove's three entry kinds (release, rebuild, revocation).
//! - [`signed`]: opening a logged entry — envelope, signers verified, entry parsed — the one
//!   way every part of reprove reads one.
//! - [`policy`]: the consumer policy and the verdict.
//! - [`blob`]: the signature that authorizes a blob upload to a ledger.
//! - [`vindex`]: the verifiable index — proven lookups, the index note.

#![forbid(unsafe_code)]

pub mod blob;
pub mod checkpoint;
pub mod consistency;
pub mod dsse;
pub mod ed25519;
pub mod merkle;
pub mod note;
pub mod policy;
pub mod predicates;
pub mod proof;
pub mod signed;
pub mod staging;
pub mod statement;
pub mod tiles;
pub mod vindex;
