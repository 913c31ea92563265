//! Shared by the vector-file targets: read strictly and leniently, then query what was read.

use lstm_sentiment::vectors::{detect_format, Embeddings, Utf8, VectorFormat};
use std::path::Path;

pub fn check(data: &[u8], format: VectorFormat) {
    let _ = detect_format(data);
    for utf8 in [Utf8::Strict, Utf8::Lossy] {
        let Ok(vectors) = Embeddings::read(data, format, utf8, Path::new("fuzz.vec")) else {
            continue;
        };
        assert_eq!(vectors.data().len(), vectors.len() * vectors.dim());
        // A header may promise a huge dimension for no vectors at all, so queries use a row.
        if let (Some(word), Some(row)) = (vectors.words().first(), vectors.row(0)) {
            let _ = vectors.similar(word, 3);
            let _ = vectors.nearest(row, 2, &[word.as_str()]);
        }
        let mut out = Vec::new();
        let _ = vectors.write(&mut out, format);
    }
}
