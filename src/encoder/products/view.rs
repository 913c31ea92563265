//! Strided views of slices: the operands of every product.
//!
//! Views let the kernel read W_ih and W_hh (and write their gradients) in place inside one
//! (gates * hidden, input + hidden) matrix, and read transposes without copying.

/// A read-only matrix: element (r, c) is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// A row-major (rows x cols) matrix whose rows are `row_stride` apart.
    pub fn new(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// A dense row-major (rows x cols) matrix.
    pub fn dense(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The slice the view reads, from its first element.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// The distance between rows and between columns.
    pub fn strides(&self) -> (usize, usize) {
        (self.row_stride, self.col_stride)
    }

    /// Row r as a slice, where its elements are contiguous.
    pub fn contiguous_row(&self, r: usize) -> Option<&'a [f32]> {
        (self.col_stride == 1 || self.cols <= 1)
            .then(|| &self.data[r * self.row_stride..][..self.cols])
    }

    /// Element (r, c).
    pub fn at(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.row_stride + c * self.col_stride]
    }

    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// The elements copied into a dense row-major matrix.
    pub fn to_dense(self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.rows * self.cols);
        for r in 0..self.rows {
            let row = &self.data[r * self.row_stride..];
            out.extend((0..self.cols).map(|c| row[c * self.col_stride]));
        }
        out
    }

    /// Whether every element lies inside the slice (strides are non-negative, so the last is
    /// largest).
    pub fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// A row-major matrix to write: element (r, c) is `data[r * row_stride + c]`.
pub struct ViewMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a> ViewMut<'a> {
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride,
        }
    }

    pub fn dense(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Whether every row's `cols` elements lie inside the slice.
    pub fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + self.cols <= self.data.len()
    }

    /// The slice and the distance between rows.
    pub fn into_raw(self) -> (&'a mut [f32], usize) {
        (self.data, self.row_stride)
    }
}
