//! The recurrent kernel's matrix products on their own, for `benches/step_product.rs`, which
//! times them. Hidden from the docs: not a stable interface, it follows the kernel.

pub use crate::encoder::products::{Panels, View, ViewMut, Weight};
