//! reprove-ledger: the transparency log server.
