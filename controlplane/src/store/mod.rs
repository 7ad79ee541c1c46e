//! The RocksDB store (typed schemas, one column family per kind).
