//! Importers: release manifests derived from an ecosystem's own metadata and logged under the
//! importer's key, as third-party imports (`third_party_import` in the manifest says so and
//! names where every digest came from). `pypi` is the first ecosystem; crates and Debian
//! source packages are to follow (issue #16), each a module beside it.

pub mod debian;
pub mod pep508;
pub mod pypi;
