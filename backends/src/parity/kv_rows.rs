//! The KV pool's row operations as one case: store, move, read back, write elsewhere.

use super::bf16_as_f32_bits;
use crate::{Backend, BackendError, BackendFn, KvLayout, KvRows};

/// Rows of K and V stored at `slots` (rounded to bf16), then the `moves` applied (as
/// compaction after an excision does), then the rows of the first `loaded.len()` slots
/// read and written into slots `loaded` of a fresh pool (as a core dump is reloaded). The
/// output is the whole pool after each step, as f32 bits of the bf16 values.
#[derive(Debug, Clone)]
pub struct KvRowOps {
    pub layout: KvLayout,
    pub slots: Vec<u32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub moves: Vec<(u32, u32)>,
    pub loaded: Vec<u32>,
}

impl BackendFn for KvRowOps {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let mut kv = b.kv_alloc(self.layout)?;
        b.kv_store(
            &mut kv,
            &self.slots,
            &b.upload(&self.k)?,
            &b.upload(&self.v)?,
        )?;
        let mut out = whole_pool(b, &kv, self.layout)?;
        b.kv_copy(&mut kv, &self.moves)?;
        out.extend(whole_pool(b, &kv, self.layout)?);
        let read = self.slots.get(..self.loaded.len()).ok_or_else(|| {
            BackendError::Shape(format!(
                "{} slots to load but only {} stored",
                self.loaded.len(),
                self.slots.len()
            ))
        })?;
        let rows: KvRows = b.kv_read(&kv, read)?;
        let mut other = b.kv_alloc(self.layout)?;
        b.kv_write(&mut other, &self.loaded, &rows)?;
        out.extend(whole_pool(b, &other, self.layout)?);
        Ok(out)
    }
}

/// Every slot's K rows then every slot's V rows.
fn whole_pool<B: Backend>(b: &B, kv: &B::Kv, layout: KvLayout) -> Result<Vec<u32>, BackendError> {
    let slots: Vec<u32> = (0..layout.slots() as u32).collect();
    let rows = b.kv_read(kv, &slots)?;
    Ok(bf16_as_f32_bits(&rows.k)
        .chain(bf16_as_f32_bits(&rows.v))
        .collect())
}
