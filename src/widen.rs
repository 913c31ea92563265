//! A safetensors tensor's little-endian bytes, widened to float32 in one pass.
//!
//! Models run in float32 whatever they are stored as. Going from the file's bytes straight to
//! the buffer the tensor keeps (rather than through a float16 tensor and a float32 copy, then a
//! third copy to look for non-finite values) makes loading cost one pass over the weights, and
//! loading is most of the CLI's cold start. float16 goes through `half`'s slice conversion,
//! which uses the CPU's F16C instructions where it has them.

use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};
use safetensors::Dtype;

/// Elements converted per round: small enough for the stack and the L1 cache.
const CHUNK: usize = 1024;

/// The values of `bytes` stored as `dtype` (float32, float16 or bfloat16), as float32; `None`
/// for another dtype.
pub(crate) fn widen(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 => {
            let mut out = buffer(bytes.len() / 4);
            out.extend(
                (bytes.chunks_exact(4)).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
            Some(out)
        }
        Dtype::F16 => Some(widen_halves(bytes, f16::from_bits)),
        Dtype::BF16 => Some(widen_halves(bytes, bf16::from_bits)),
        _ => None,
    }
}

/// Room for `len` values, mapped in at once: a table of word vectors runs to tens of megabytes,
/// and taking its pages one fault at a time is a good part of the CLI's start-up.
fn buffer(len: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    crate::malloc::prefault(out.spare_capacity_mut());
    out
}

fn widen_halves<H>(bytes: &[u8], from_bits: fn(u16) -> H) -> Vec<f32>
where
    H: Copy + Default,
    [H]: HalfFloatSliceExt,
{
    let mut out = buffer(bytes.len() / 2);
    let mut halves = [H::default(); CHUNK];
    let mut wide = [0f32; CHUNK];
    for chunk in bytes.chunks(2 * CHUNK) {
        let n = chunk.len() / 2;
        for (h, b) in halves.iter_mut().zip(chunk.chunks_exact(2)) {
            *h = from_bits(u16::from_le_bytes([b[0], b[1]]));
        }
        halves[..n].convert_to_f32_slice(&mut wide[..n]);
        out.extend_from_slice(&wide[..n]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_type_widens_to_the_same_values() {
        // Over two chunks, so the loop's last, short round is covered too.
        let values: Vec<f32> = (0..CHUNK + 37).map(|i| i as f32 * 0.25 - 100.0).collect();
        let f32_bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f16_bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| f16::from_f32(*v).to_bits().to_le_bytes())
            .collect();
        let bf16_bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| bf16::from_f32(*v).to_bits().to_le_bytes())
            .collect();
        assert_eq!(widen(Dtype::F32, &f32_bytes).unwrap(), values);
        assert_eq!(widen(Dtype::F16, &f16_bytes).unwrap(), values);
        let bf: Vec<f32> = values.iter().map(|v| bf16::from_f32(*v).to_f32()).collect();
        assert_eq!(widen(Dtype::BF16, &bf16_bytes).unwrap(), bf);
        assert!(widen(Dtype::I64, &f32_bytes).is_none());
    }
}
