//! Typed access to RocksDB: reads, iteration and atomic batches go through a [`Schema`], so
//! no caller handles raw bytes, and every RocksDB or decoding failure becomes a
//! [`StoreError`] naming the store's path, the column family and the operation.
//!
//! Invariant: no `rocksdb` type is visible outside `store`; this is the only file that
//! names the `rocksdb` crate.
use super::schema::{Schema, ALL_CFS};
use super::StoreError;
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// One decoded entry, or why it could not be read.
pub(crate) type Entry<S> = Result<(<S as Schema>::Key, <S as Schema>::Value), StoreError>;

/// Whether a write waits for the write-ahead log to reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Durability {
    /// `fsync` before returning: survives power loss (configuration, alerts).
    Sync,
    /// In the OS page cache when it returns: survives a process crash, not power loss (hit
    /// counters, conversation counts).
    Buffered,
}

/// Iteration direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Forward,
    Reverse,
}

pub(crate) struct Db {
    db: DB,
    path: PathBuf,
}

impl Db {
    /// Opens (creating it if missing) the store at `path` with every column family the store
    /// knows and every one already there (a newer version may have added some; it must be
    /// possible to open such a store to read its version and refuse it clearly).
    pub(crate) fn open(path: &Path) -> Result<Db, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(4);
        opts.set_max_total_wal_size(256 << 20);
        let mut names: Vec<String> = ALL_CFS.iter().map(|s| s.to_string()).collect();
        if path.join("CURRENT").exists() {
            let existing = DB::list_cf(&opts, path).map_err(|e| db_err(path, "listing column families", e))?;
            for n in existing {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        let cfs = names.into_iter().map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs)
            .map_err(|e| db_err(path, "opening (is another vigil-cp using this directory? is it writable?)", e))?;
        Ok(Db { db, path: path.to_path_buf() })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn cf<S: Schema>(&self) -> Result<&ColumnFamily, StoreError> {
        self.db.cf_handle(S::CF).ok_or_else(|| StoreError::Db {
            path: self.path.clone(),
            op: format!("column family {}", S::CF),
            msg: "missing after open".into(),
        })
    }

    fn corrupt<S: Schema>(&self, e: super::CodecError) -> StoreError {
        StoreError::Corrupt { path: self.path.clone(), cf: S::CF, source: e }
    }

    pub(crate) fn get<S: Schema>(&self, key: &S::Key) -> Result<Option<S::Value>, StoreError> {
        let cf = self.cf::<S>()?;
        let raw = self
            .db
            .get_pinned_cf(cf, S::encode_key(key))
            .map_err(|e| db_err(&self.path, &format!("reading {}", S::CF), e))?;
        match raw {
            None => Ok(None),
            Some(b) => S::decode_value(&b).map(Some).map_err(|e| self.corrupt::<S>(e)),
        }
    }

    /// Entries from `start` (raw key bytes; `None`: the first or last key) in `dir`.
    pub(crate) fn iter<S: Schema>(&self, start: Option<&[u8]>, dir: Dir) -> Result<SchemaIter<'_, S>, StoreError> {
        let cf = self.cf::<S>()?;
        let mode = match (start, dir) {
            (None, Dir::Forward) => IteratorMode::Start,
            (None, Dir::Reverse) => IteratorMode::End,
            (Some(k), Dir::Forward) => IteratorMode::From(k, Direction::Forward),
            (Some(k), Dir::Reverse) => IteratorMode::From(k, Direction::Reverse),
        };
        Ok(SchemaIter { inner: self.db.iterator_cf(cf, mode), db: self, _s: PhantomData })
    }

    /// Every entry whose raw key starts with `prefix`, in key order.
    pub(crate) fn prefix<'a, S: Schema + 'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> Result<impl Iterator<Item = Entry<S>> + 'a, StoreError> {
        let cf = self.cf::<S>()?;
        let inner = self.db.iterator_cf(cf, IteratorMode::From(prefix, Direction::Forward));
        Ok(inner.take_while(move |r| r.as_ref().map(|(k, _)| k.starts_with(prefix)).unwrap_or(true)).map(move |r| {
            let (k, v) = r.map_err(|e| db_err(&self.path, &format!("iterating {}", S::CF), e))?;
            let key = S::decode_key(&k).map_err(|e| self.corrupt::<S>(e))?;
            let value = S::decode_value(&v).map_err(|e| self.corrupt::<S>(e))?;
            Ok((key, value))
        }))
    }

    /// Every value of `S`, in key order.
    pub(crate) fn values<S: Schema>(&self) -> Result<Vec<S::Value>, StoreError> {
        self.iter::<S>(None, Dir::Forward)?.map(|r| r.map(|(_, v)| v)).collect()
    }

    pub(crate) fn batch(&self) -> SchemaBatch<'_> {
        SchemaBatch { db: self, batch: WriteBatch::default() }
    }

    /// Writes raw bytes, bypassing the schemas (to test what damaged data does).
    #[cfg(test)]
    pub(crate) fn put_raw_for_test(&self, cf: &str, key: &[u8], value: &[u8]) {
        let cf = self.db.cf_handle(cf).unwrap();
        self.db.put_cf(cf, key, value).unwrap();
    }

    /// Writes `batch` atomically.
    pub(crate) fn write(&self, batch: SchemaBatch<'_>, durability: Durability, what: &str) -> Result<(), StoreError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(durability == Durability::Sync);
        self.db.write_opt(batch.batch, &wo).map_err(|e| db_err(&self.path, &format!("writing {what}"), e))
    }
}

fn db_err(path: &Path, op: &str, e: rocksdb::Error) -> StoreError {
    StoreError::Db { path: path.to_path_buf(), op: op.to_string(), msg: e.into_string() }
}

/// Decoded entries of one column family.
pub(crate) struct SchemaIter<'a, S> {
    inner: rocksdb::DBIteratorWithThreadMode<'a, DB>,
    db: &'a Db,
    _s: PhantomData<S>,
}

impl<S: Schema> Iterator for SchemaIter<'_, S> {
    type Item = Entry<S>;
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.inner.next()?;
        Some((|| {
            let (k, v) = r.map_err(|e| db_err(&self.db.path, &format!("iterating {}", S::CF), e))?;
            let key = S::decode_key(&k).map_err(|e| self.db.corrupt::<S>(e))?;
            let value = S::decode_value(&v).map_err(|e| self.db.corrupt::<S>(e))?;
            Ok((key, value))
        })())
    }
}

impl<S: Schema> SchemaIter<'_, S> {
    /// The next key only (the value is not decoded).
    pub(crate) fn next_key(&mut self) -> Option<Result<S::Key, StoreError>> {
        let r = self.inner.next()?;
        Some(match r {
            Err(e) => Err(db_err(&self.db.path, &format!("iterating {}", S::CF), e)),
            Ok((k, _)) => S::decode_key(&k).map_err(|e| self.db.corrupt::<S>(e)),
        })
    }
}

/// Typed puts and deletes applied together by [`Db::write`].
pub(crate) struct SchemaBatch<'a> {
    db: &'a Db,
    batch: WriteBatch,
}

impl SchemaBatch<'_> {
    pub(crate) fn put<S: Schema>(&mut self, key: &S::Key, value: &S::Value) -> Result<(), StoreError> {
        let cf = self.db.cf::<S>()?;
        let v = S::encode_value(value).map_err(|e| StoreError::Encode {
            path: self.db.path.clone(),
            cf: S::CF,
            source: e,
        })?;
        self.batch.put_cf(cf, S::encode_key(key), v);
        Ok(())
    }

    pub(crate) fn delete<S: Schema>(&mut self, key: &S::Key) -> Result<(), StoreError> {
        let cf = self.db.cf::<S>()?;
        self.batch.delete_cf(cf, S::encode_key(key));
        Ok(())
    }

    /// Deletes every key in `[from, to)`.
    pub(crate) fn delete_range<S: Schema>(&mut self, from: &S::Key, to: &S::Key) -> Result<(), StoreError> {
        let cf = self.db.cf::<S>()?;
        self.batch.delete_range_cf(cf, S::encode_key(from), S::encode_key(to));
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.batch.len()
    }
}
