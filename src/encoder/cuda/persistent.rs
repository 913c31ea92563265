//! The recurrence over every step in one launch each way: `persistent.cu`'s kernels, which keep
//! each block's share of W_hh on chip for the whole sequence, in place of a product and a step
//! kernel per step (`forward`'s and `backward`'s loops).
//!
//! `LSTM_SENTIMENT_CUDA_RECURRENCE` chooses: unset or `steps`, the step loops; `persistent`, the
//! persistent kernels, or an error where a layer does not fit; `auto`, the persistent kernels
//! where a layer fits and the step loops elsewhere. The step loops stay the default until the
//! persistent kernels have been checked and timed on a GPU (docs/gpu.md); their arithmetic is
//! checked on the CPU (scripts/dev/check_cuda_kernels.sh).
//!
//! The launch is cooperative: the blocks of a row chunk wait for each other after every step,
//! which only works when all of them are resident at once, so the grid is planned to have at
//! most one block per multiprocessor and the driver refuses a grid that would not fit.

use super::kernels::{function, int};
use crate::config::Cell;
use candle_core::cuda::cudarc::driver::sys::{CUdevice_attribute, CUfunction_attribute};
use candle_core::cuda::cudarc::driver::{
    CudaFunction, CudaStream, DeviceRepr, LaunchArgs, LaunchConfig, PushKernelArg,
};
use candle_core::cuda::{CudaDevice, WrapErr};
use candle_core::{bail, Result};
use std::sync::{Arc, OnceLock};

/// Pieces of the product with W_hh, longest first, for layers whose whole tile does not fit.
const PIECES: [usize; 3] = [256, 128, 64];

/// Threads per block: `PERSISTENT_THREADS` of `persistent.cu`, which caps the kernels'
/// registers for it.
const THREADS: u32 = 512;

/// Which way the recurrence runs on a GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    /// The step loops.
    Steps,
    /// Persistent where the layer fits, the step loops elsewhere.
    Auto,
    /// Persistent, or an error saying why it cannot.
    Persistent,
}

/// `LSTM_SENTIMENT_CUDA_RECURRENCE`, read once per process: the tests and the bench run each
/// way in a process of its own.
fn choice() -> Result<Choice> {
    static CHOICE: OnceLock<Option<Choice>> = OnceLock::new();
    let choice = CHOICE.get_or_init(|| {
        let value = std::env::var("LSTM_SENTIMENT_CUDA_RECURRENCE");
        let value = value.as_deref().unwrap_or("steps").to_ascii_lowercase();
        match value.as_str() {
            "steps" => Some(Choice::Steps),
            "auto" => Some(Choice::Auto),
            "persistent" => Some(Choice::Persistent),
            _ => None,
        }
    });
    match choice {
        Some(c) => Ok(*c),
        None => bail!("LSTM_SENTIMENT_CUDA_RECURRENCE: expected `steps`, `auto` or `persistent`"),
    }
}

/// A launch's shape, as `persistent.cu`'s `Geometry`, passed by value.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    batch: i32,
    hidden: i32,
    time: i32,
    /// Units per block (the grid's x).
    per: i32,
    /// Texts per block (the grid's y).
    rows: i32,
    /// The longest piece of the product with W_hh that a block's tile holds at once.
    piece: i32,
}

// SAFETY: six i32s in C layout, as the kernels declare them.
unsafe impl DeviceRepr for Geometry {}

/// Forward or backward: their kernels keep different things in shared memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Forward,
    Backward,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Forward => "persistent_forward",
            Way::Backward => "persistent_backward",
        }
    }

    /// The length of the product with W_hh: forward sums over the units, backward over
    /// every gate of every unit.
    fn length(self, gates: usize, hidden: usize) -> usize {
        match self {
            Way::Forward => hidden,
            Way::Backward => gates * hidden,
        }
    }

    /// The kernel's shared memory in floats, for blocks of `per` units and `rows` texts and
    /// pieces of `piece`: `forward_shared_floats` and `backward_shared_floats` of
    /// `persistent.cu`, which must agree with these.
    fn shared_floats(self, gates: usize, (per, rows, piece): Split, hidden: usize) -> usize {
        let tile = rows * (piece + 1);
        match self {
            Way::Forward => gates * per * (hidden + 1) + tile + rows * gates * per,
            Way::Backward => per * (gates * hidden + 1) + tile + rows * per,
        }
    }
}

/// What a GPU offers one block, and how many run at once.
#[derive(Debug, Clone, Copy)]
pub struct Room {
    pub multiprocessors: usize,
    /// Shared memory one block may have, in floats.
    pub shared_floats: usize,
}

/// A planned launch: its shape, grid and shared memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub geometry: Geometry,
    pub grid: (u32, u32),
    pub shared_bytes: usize,
}

/// Units per block, texts per block, and the longest piece of the product with W_hh.
type Split = (usize, usize, usize);

/// The grid for a layer of `hidden` units over `batch` texts and `time` steps, or None where
/// no grid fits. The fewer blocks split the units, the less each step reads (every block reads
/// all units of its texts), so the units go to as few blocks as shared memory allows, the
/// texts to as many as the multiprocessors left over allow; a small batch leaves room for more
/// unit groups, which then share the work. The product with W_hh runs in one piece where the
/// tile fits, else in the longest of [`PIECES`] that does: every piece costs the block a wait
/// and a round of sums.
pub fn plan(
    way: Way,
    cell: Cell,
    (batch, hidden, time): (usize, usize, usize),
    room: Room,
) -> Option<Plan> {
    let gates = cell.gates();
    if batch == 0 || hidden == 0 || time == 0 {
        return None;
    }
    for least in 1..=hidden.min(room.multiprocessors) {
        let chunks = batch.min(room.multiprocessors / least);
        let groups = least.max((room.multiprocessors / chunks).min(hidden));
        let per = hidden.div_ceil(groups);
        let rows = batch.div_ceil(chunks);
        let length = way.length(gates, hidden);
        let floats = |piece| way.shared_floats(gates, (per, rows, piece), hidden);
        let mut pieces = std::iter::once(length).chain(PIECES.into_iter().filter(|&p| p < length));
        let Some(piece) = pieces.find(|&piece| floats(piece) <= room.shared_floats) else {
            continue;
        };
        let floats = floats(piece);
        let geometry = Geometry {
            batch: int(batch).ok()?,
            hidden: int(hidden).ok()?,
            time: int(time).ok()?,
            per: int(per).ok()?,
            rows: int(rows).ok()?,
            piece: int(piece).ok()?,
        };
        let grid = (
            u32::try_from(hidden.div_ceil(per)).ok()?,
            u32::try_from(batch.div_ceil(rows)).ok()?,
        );
        let shared_bytes = floats * std::mem::size_of::<f32>();
        return Some(Plan {
            geometry,
            grid,
            shared_bytes,
        });
    }
    None
}

/// A persistent kernel ready to launch on one device's stream, with its plan.
pub struct Launch {
    stream: Arc<CudaStream>,
    function: CudaFunction,
    plan: Plan,
}

impl Launch {
    /// The kernel for `way` of a layer, planned for this device; None where the step loops
    /// are to run instead.
    pub fn new(
        dev: &CudaDevice,
        way: Way,
        cell: Cell,
        shape: (usize, usize, usize),
    ) -> Result<Option<Launch>> {
        let choice = choice()?;
        if choice == Choice::Steps {
            return Ok(None);
        }
        let stream = dev.cuda_stream();
        let ctx = stream.context().clone();
        let attribute = |a| ctx.attribute(a).w();
        let cooperative = attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH)?;
        let room = Room {
            multiprocessors: attribute(
                CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
            )? as usize,
            shared_floats: attribute(
                CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
            )? as usize
                / std::mem::size_of::<f32>(),
        };
        let plan = match plan(way, cell, shape, room) {
            Some(plan) if cooperative != 0 => plan,
            _ if choice == Choice::Persistent => bail!(
                "recurrent kernel: no persistent grid for {} {:?} (batch, hidden, time) = \
                 {shape:?} on this GPU ({room:?}, cooperative launch: {cooperative})",
                cell.name(),
                way
            ),
            _ => return Ok(None),
        };
        let function = function(dev, &format!("{}_{}", cell.name(), way.name()))?;
        let bytes = int(plan.shared_bytes)?;
        function
            .set_attribute(
                CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                bytes,
            )
            .w()?;
        // One block per multiprocessor is what the plan counts on.
        let resident = function
            .occupancy_max_active_blocks_per_multiprocessor(THREADS, plan.shared_bytes, None)
            .w()? as usize;
        let blocks = (plan.grid.0 * plan.grid.1) as usize;
        if resident == 0 || blocks > resident * room.multiprocessors {
            if choice == Choice::Persistent {
                bail!("recurrent kernel: {blocks} blocks of {bytes} bytes do not fit at once");
            }
            return Ok(None);
        }
        Ok(Some(Launch {
            stream,
            function,
            plan,
        }))
    }

    /// The row chunks, each with a counter of its own.
    pub fn chunks(&self) -> usize {
        self.plan.grid.1 as usize
    }

    /// Arguments for the kernel, starting with its geometry.
    pub fn args(&self) -> LaunchArgs<'_> {
        let mut args = self.stream.launch_builder(&self.function);
        args.arg(&self.plan.geometry);
        args
    }

    /// Launches with `args` (from [`Launch::args`], completed).
    ///
    /// # Safety
    /// `args` must be the kernel's arguments in its order, over buffers of the sizes its
    /// geometry names.
    pub unsafe fn launch(&self, mut args: LaunchArgs) -> Result<()> {
        let config = LaunchConfig {
            grid_dim: (self.plan.grid.0, self.plan.grid.1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: self.plan.shared_bytes as u32,
        };
        // SAFETY: as the caller promises; the grid fits at once (checked in `new`).
        unsafe { args.launch_cooperative(config) }.w()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An H200: 132 multiprocessors, 227 KiB of shared memory for one block.
    const H200: Room = Room {
        multiprocessors: 132,
        shared_floats: 232_448 / 4,
    };

    /// The plan's blocks cover every unit and text once, all at once on the GPU, within the
    /// shared memory one block may have.
    fn check(way: Way, cell: Cell, (batch, hidden, time): (usize, usize, usize), room: Room) {
        let what = format!("{way:?} {cell:?} batch {batch} hidden {hidden}");
        let plan = plan(way, cell, (batch, hidden, time), room).expect(&what);
        let g = plan.geometry;
        let (per, rows) = (g.per as usize, g.rows as usize);
        let (groups, chunks) = (plan.grid.0 as usize, plan.grid.1 as usize);
        assert!(
            groups * per >= hidden && (groups - 1) * per < hidden,
            "{what}: {plan:?}"
        );
        assert!(
            chunks * rows >= batch && (chunks - 1) * rows < batch,
            "{what}: {plan:?}"
        );
        assert!(groups * chunks <= room.multiprocessors, "{what}: {plan:?}");
        let piece = g.piece as usize;
        assert!(
            piece >= 1 && piece <= way.length(cell.gates(), hidden),
            "{what}: {plan:?}"
        );
        let floats = way.shared_floats(cell.gates(), (per, rows, piece), hidden);
        assert_eq!(plan.shared_bytes, 4 * floats, "{what}");
        assert!(floats <= room.shared_floats, "{what}: {plan:?}");
    }

    #[test]
    fn plans_fit_the_gpu_for_the_benchmarked_shapes() {
        for way in [Way::Forward, Way::Backward] {
            for cell in [Cell::Lstm, Cell::Gru, Cell::Rnn] {
                for batch in [1, 7, 64, 256] {
                    for hidden in [1, 128, 256, 512] {
                        check(way, cell, (batch, hidden, 40), H200);
                    }
                }
            }
        }
    }

    #[test]
    fn a_small_batch_spreads_its_units_over_more_blocks() {
        let one = plan(Way::Forward, Cell::Lstm, (1, 256, 20), H200).unwrap();
        let many = plan(Way::Forward, Cell::Lstm, (256, 256, 20), H200).unwrap();
        assert!(one.grid.0 > many.grid.0, "{one:?} {many:?}");
        assert_eq!(one.grid.1, 1);
    }

    #[test]
    fn a_tile_too_large_whole_is_taken_in_pieces() {
        let whole = plan(Way::Backward, Cell::Lstm, (64, 256, 20), H200).unwrap();
        assert_eq!(whole.geometry.piece, 4 * 256);
        let wide = plan(Way::Backward, Cell::Lstm, (64, 512, 20), H200).unwrap();
        assert!(wide.geometry.piece < 4 * 512, "{wide:?}");
    }

    #[test]
    fn no_plan_where_a_share_of_the_weights_does_not_fit() {
        let tiny = Room {
            multiprocessors: 4,
            shared_floats: 1024,
        };
        assert_eq!(plan(Way::Backward, Cell::Lstm, (64, 256, 40), tiny), None);
        assert_eq!(plan(Way::Forward, Cell::Lstm, (0, 256, 40), H200), None);
    }
}
